//! The HTML reports (`--report html`): one self-contained file a person opens in a browser. No
//! script, font, stylesheet or image is loaded from anywhere: the style is inline, and bodies
//! fold with `<details>`, which needs no script.
//!
//! `recipe run` shows the recipe, the outcome and error, a table of the steps (status, action
//! with its full URL, response status, time), the inputs and outputs, then each step's masked
//! request and response with their bodies folded (a failed step's response unfolded).
//! `recipe test` shows a table of the cases with their verdicts, and each diff or error folded
//! under its case. The markup is well-formed XML as well as HTML, and every text goes through
//! `report::markup`, so a `<script>` in a body is shown, never run.

use std::fmt::Write as _;
use std::time::Duration;

use super::markup::{attribute, text};
use super::{RunReport, shown_url};
use crate::http::{Body, ResponseBody, ResponseData, status_text};
use crate::run::{Effect, Status, StepResult};
use crate::testing::{Outcome, Verdict};

const STYLE: &str = "
:root { --ok: #1a7f37; --bad: #cf222e; --mild: #9a6700; --muted: #59636e; --line: #d1d9e0; --code: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; padding: 2rem; font: 15px/1.5 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1f2328; background: #fff; }
header { border-bottom: 1px solid var(--line); margin-bottom: 1.5rem; padding-bottom: 1rem; }
h1 { margin: 0 0 .4rem; font-size: 1.7rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .6rem; }
h3 { font-size: 1rem; margin: 0 0 .5rem; }
code, pre { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: var(--code); border: 1px solid var(--line); border-radius: 6px; padding: .7rem .9rem; overflow-x: auto; white-space: pre-wrap; word-break: break-word; margin: .4rem 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td code { word-break: break-all; }
.muted { color: var(--muted); font-weight: normal; }
.badge { display: inline-block; min-width: 4.5rem; text-align: center; padding: .05rem .5rem; border-radius: 1rem; font-size: .8rem; font-weight: 600; color: #fff; background: var(--muted); }
.badge.ok { background: var(--ok); }
.badge.bad { background: var(--bad); }
.badge.mild { background: var(--mild); }
.error pre { border-color: var(--bad); background: #ffebe9; }
article { border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1rem; margin: .8rem 0; }
article.bad { border-left: 4px solid var(--bad); }
article.ok { border-left: 4px solid var(--ok); }
article.mild { border-left: 4px solid var(--mild); }
details { margin: .3rem 0; }
summary { cursor: pointer; color: var(--muted); }
summary code { color: #1f2328; }
.diff .add { color: var(--ok); }
.diff .del { color: var(--bad); }
.diff .hunk { color: #8250df; }
footer { margin-top: 3rem; color: var(--muted); font-size: .8rem; }
";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}<footer>recipe {}</footer>\n</body>\n</html>\n",
        text(title),
        env!("CARGO_PKG_VERSION")
    )
}

fn milliseconds(duration: Duration) -> String {
    format!("{} ms", duration.as_millis())
}

/// The badge class and label of a step status.
fn status_badge(step: &StepResult) -> (&'static str, &'static str) {
    match step.status {
        Status::Ok => ("ok", "ok"),
        Status::Skipped => ("", "skipped"),
        Status::NotSent => ("", "not sent"),
        Status::FailedOptional => ("mild", "failed (optional)"),
        Status::Failed if step.effect == Some(Effect::InDoubt) => ("bad", "in doubt"),
        Status::Failed => ("bad", "failed"),
    }
}

fn badge(class: &str, label: &str) -> String {
    format!("<span class=\"badge {class}\">{}</span>", text(label))
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The `recipe run --report html` document.
pub(crate) fn run(report: &RunReport) -> String {
    let result = report.result;
    let outcome = if result.ok { ("ok", "succeeded") } else { ("bad", "failed") };
    let mut body = format!(
        "<header>\n<h1>{}</h1>\n<p>{} <code>{}</code> <span class=\"muted\">· {} step(s) · {}</span></p>\n</header>\n<main>\n",
        text(report.recipe),
        badge(outcome.0, outcome.1),
        text(&report.file.display().to_string()),
        result.steps.len(),
        milliseconds(report.duration)
    );
    if let Some(error) = super::run_error(result) {
        let _ = write!(body, "<section class=\"error\">\n<h2>Error</h2>\n<pre>{}</pre>\n</section>\n", text(&error));
    }
    body.push_str(&steps_table(&result.steps));
    if !result.side_effects.is_empty() {
        let _ = write!(body, "<section>\n<h2>Side effects</h2>\n<pre>{}</pre>\n</section>\n", text(&json(&result.side_effects)));
    }
    let _ = write!(body, "<section>\n<h2>Inputs</h2>\n<pre>{}</pre>\n</section>\n", text(&json(&report.inputs)));
    if let Some(outputs) = &result.outputs {
        let _ = write!(body, "<section>\n<h2>Outputs</h2>\n<pre>{}</pre>\n</section>\n", text(&json(outputs)));
    }
    body.push_str("<section>\n<h2>Steps in detail</h2>\n");
    for step in &result.steps {
        body.push_str(&step_article(step));
    }
    body.push_str("</section>\n</main>\n");
    page(&format!("{}: {} (recipe run)", report.recipe, outcome.1), &body)
}

fn steps_table(steps: &[StepResult]) -> String {
    let mut html = String::from(
        "<section>\n<h2>Steps</h2>\n<table class=\"steps\">\n<thead><tr><th>Status</th><th>Step</th><th>Action</th><th>Response</th><th>Time</th></tr></thead>\n<tbody>\n",
    );
    for step in steps {
        let (class, label) = status_badge(step);
        let action = match &step.request {
            Some(request) => format!("<code>{} {}</code>", text(&request.method), text(shown_url(request))),
            None => text(step.kind),
        };
        let response = step.response.as_ref().map(|r| text(&status_text(r.status))).unwrap_or_default();
        let attempts = if step.attempts.len() > 1 {
            format!(" <span class=\"muted\">({} attempts)</span>", step.attempts.len())
        } else {
            String::new()
        };
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td><a href=\"#step-{}\">{}</a></td><td>{action}</td><td>{response}{attempts}</td><td class=\"num\">{}</td></tr>",
            badge(class, label),
            attribute(&step.id),
            text(&step.id),
            milliseconds(step.duration)
        );
    }
    html.push_str("</tbody>\n</table>\n</section>\n");
    html
}

fn step_article(step: &StepResult) -> String {
    let (class, label) = status_badge(step);
    let mut html = format!(
        "<article id=\"step-{}\" class=\"{class}\">\n<h3>{} {} <span class=\"muted\">{} · {}</span></h3>\n",
        attribute(&step.id),
        badge(class, label),
        text(&step.id),
        text(step.kind),
        milliseconds(step.duration)
    );
    if let Some(reason) = &step.reason {
        let _ = writeln!(html, "<pre class=\"reason\">{}</pre>", text(reason));
    }
    for warning in &step.warnings {
        let _ = writeln!(html, "<p>warning: {}</p>", text(warning));
    }
    if let Some(request) = &step.request {
        let mut shown = format!("{} {}", request.method, shown_url(request));
        for (name, value) in &request.headers {
            let _ = write!(shown, "\n{name}: {value}");
        }
        if let Some(body) = &request.body {
            let body = match body {
                Body::Json(value) => json(value),
                Body::Form(_) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
                Body::Text(text) => text.clone(),
                Body::Multipart(parts) => crate::http::multipart_summary(parts),
            };
            let _ = write!(shown, "\n\n{body}");
        }
        let _ = writeln!(
            html,
            "<details class=\"request\"><summary>Request <code>{} {}</code></summary><pre>{}</pre></details>",
            text(&request.method),
            text(shown_url(request)),
            text(&shown)
        );
    }
    if let Some(response) = &step.response {
        html.push_str(&response_details(response, step.status == Status::Failed));
    }
    if step.attempts.len() > 1 || step.attempts.iter().any(|a| !a.redirects.is_empty()) {
        html.push_str("<p class=\"muted\">Attempts:</p>\n<ol>\n");
        for attempt in &step.attempts {
            let mut line = attempt.summary();
            for hop in &attempt.redirects {
                line = format!("{} -> {}, {line}", hop.status, hop.location);
            }
            if !attempt.wait.is_zero() {
                line = format!("waited {}, {line}", crate::run::retry::seconds(attempt.wait));
            }
            let _ = writeln!(html, "<li>{}</li>", text(&line));
        }
        html.push_str("</ol>\n");
    }
    if !step.bindings.is_empty() {
        let _ = writeln!(html, "<details><summary>Bindings</summary><pre>{}</pre></details>", text(&json(&step.bindings)));
    }
    html.push_str("</article>\n");
    html
}

fn response_details(response: &ResponseData, open: bool) -> String {
    let mut shown = status_text(response.status);
    for (name, value) in &response.headers {
        let _ = write!(shown, "\n{name}: {value}");
    }
    match &response.body {
        Some(ResponseBody::Json(value)) => {
            let _ = write!(shown, "\n\n{}", json(value));
        }
        Some(ResponseBody::Text(body)) => {
            let _ = write!(shown, "\n\n{body}");
        }
        None => {}
    }
    let kind = response.content_type().map(|c| format!(" <span class=\"muted\">· {}</span>", text(c))).unwrap_or_default();
    format!(
        "<details class=\"response\"{}><summary>Response <code>{}</code>{kind}</summary><pre>{}</pre></details>\n",
        if open { " open=\"open\"" } else { "" },
        text(&status_text(response.status)),
        text(&shown)
    )
}

/// The `recipe test --report html` document.
pub(crate) fn test(outcomes: &[Outcome]) -> String {
    let passed = outcomes.iter().filter(|o| o.passed()).count();
    let failed = outcomes.len() - passed;
    let outcome = if failed == 0 { ("ok", "passed") } else { ("bad", "failed") };
    let mut body = format!(
        "<header>\n<h1>recipe test</h1>\n<p>{} <span class=\"muted\">{passed} passed, {failed} failed</span></p>\n</header>\n<main>\n<table class=\"cases\">\n<thead><tr><th>Verdict</th><th>Case</th><th>Fixture</th><th>Time</th></tr></thead>\n<tbody>\n",
        badge(outcome.0, outcome.1)
    );
    for outcome in outcomes {
        let (class, label, detail) = match &outcome.verdict {
            Verdict::Passed => ("ok", "passed", None),
            Verdict::Accepted => ("ok", "accepted", None),
            Verdict::New => ("mild", "new", Some("no snapshot yet; review the case and run `recipe test --accept`".to_owned())),
            Verdict::Changed(diff) => ("bad", "changed", Some(diff_html(diff))),
            Verdict::Error(message) => ("bad", "error", Some(text(message))),
        };
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td></tr>",
            badge(class, label),
            text(&outcome.case.name),
            text(&outcome.case.fixture.display().to_string()),
            milliseconds(outcome.duration)
        );
        if let Some(detail) = detail {
            let _ = writeln!(
                body,
                "<tr><td></td><td colspan=\"3\"><details open=\"open\"><summary>{}</summary><pre class=\"diff\">{detail}</pre></details></td></tr>",
                if matches!(outcome.verdict, Verdict::Changed(_)) { "Snapshot diff" } else { "Detail" }
            );
        }
    }
    body.push_str("</tbody>\n</table>\n</main>\n");
    page(&format!("recipe test: {passed} passed, {failed} failed"), &body)
}

/// A unified diff, escaped, with added, removed and hunk lines marked.
fn diff_html(diff: &str) -> String {
    diff.lines()
        .map(|line| {
            let class = if line.starts_with("+++") || line.starts_with("---") {
                None
            } else if line.starts_with('+') {
                Some("add")
            } else if line.starts_with('-') {
                Some("del")
            } else if line.starts_with("@@") {
                Some("hunk")
            } else {
                None
            };
            match class {
                Some(class) => format!("<span class=\"{class}\">{}</span>", text(line)),
                None => text(line),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
