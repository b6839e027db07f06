//! A step's request and response as `-v` and `-vv` show them under its progress line: the
//! request line and headers (`>`), the status and headers of the response (`<`), and both bodies,
//! JSON pretty-printed. `-v` cuts long bodies; `-vv` shows them whole. Everything here was masked
//! by the runner.

use std::fmt::Write as _;

use crate::http::{Body, ResponseBody, status_text};
use crate::run::StepResult;

/// How much of a body is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detail {
    /// At most [`MAX_LINES`] lines and [`MAX_CHARS`] characters (`-v`).
    Truncated,
    /// Everything (`-vv`).
    Whole,
}

pub(crate) const MAX_LINES: usize = 20;
pub(crate) const MAX_CHARS: usize = 2000;

const HEAD: &str = "        ";
const BODY: &str = "          ";

/// The exchange of a request step; `None` for other steps and requests never rendered.
pub(crate) fn exchange(step: &StepResult, detail: Detail) -> Option<String> {
    let request = step.request.as_ref()?;
    let mut text = format!("{HEAD}> {} {}", request.method, super::shown_url(request));
    for (name, value) in &request.headers {
        let _ = write!(text, "\n{HEAD}> {name}: {value}");
    }
    if let Some(body) = &request.body {
        let shown = match body {
            Body::Json(value) => serde_json::to_string_pretty(value).unwrap_or_default(),
            Body::Form(_) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
            Body::Text(text) => text.clone(),
            Body::Multipart(parts) => crate::http::multipart_summary(parts),
        };
        let _ = write!(text, "\n{HEAD}>\n{}", body_lines(&shown, detail));
    }
    match &step.response {
        Some(response) => {
            let _ = write!(text, "\n{HEAD}< {}", status_text(response.status));
            for (name, value) in &response.headers {
                let _ = write!(text, "\n{HEAD}< {name}: {value}");
            }
            if let Some(body) = &response.body {
                let shown = match body {
                    ResponseBody::Json(value) => serde_json::to_string_pretty(value).unwrap_or_default(),
                    ResponseBody::Text(text) => text.clone(),
                };
                let _ = write!(text, "\n{HEAD}<\n{}", body_lines(&shown, detail));
            }
        }
        None => {
            let _ = write!(text, "\n{HEAD}< (no response)");
        }
    }
    Some(text)
}

/// A body, indented, cut to the limits unless `Whole`.
fn body_lines(body: &str, detail: Detail) -> String {
    let lines: Vec<&str> = body.lines().collect();
    let mut shown = Vec::new();
    let mut chars = 0;
    let truncated = detail == Detail::Truncated;
    for line in &lines {
        let budget = MAX_CHARS.saturating_sub(chars);
        if truncated && (shown.len() == MAX_LINES || budget == 0) {
            break;
        }
        let count = line.chars().count();
        if truncated && count > budget {
            let cut: String = line.chars().take(budget).collect();
            shown.push(format!("{BODY}{cut}..."));
            chars = MAX_CHARS;
            continue;
        }
        chars += count;
        shown.push(format!("{BODY}{line}"));
    }
    let mut text = shown.join("\n");
    if shown.len() < lines.len() {
        let rest = lines.len() - shown.len();
        let _ = write!(text, "\n{BODY}... {rest} more line{} (`-vv` shows whole bodies)", if rest == 1 { "" } else { "s" });
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_bodies_are_cut_unless_whole() {
        let body = (1..=30).map(|n| format!("line {n}")).collect::<Vec<_>>().join("\n");
        let cut = body_lines(&body, Detail::Truncated);
        assert_eq!(cut.lines().count(), MAX_LINES + 1);
        assert!(cut.ends_with("... 10 more lines (`-vv` shows whole bodies)"), "{cut}");
        assert_eq!(body_lines(&body, Detail::Whole).lines().count(), 30);
        let wide = format!("{}\nnext", "x".repeat(MAX_CHARS + 1));
        let cut = body_lines(&wide, Detail::Truncated);
        assert!(cut.ends_with("x...\n          ... 1 more line (`-vv` shows whole bodies)"), "{cut}");
        assert_eq!(cut.matches('x').count(), MAX_CHARS);
    }
}
