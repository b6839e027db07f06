//! `JUnit` XML, the format CI systems read: `recipe test --report junit` has one test case per
//! fixture case; `recipe run --report junit` one per step (a skipped step is skipped, a failed
//! optional step is skipped with its reason, a failure outside any step is a case of its own).
//!
//! The document is valid XML whatever the names and messages hold: every text goes through
//! `report::markup`.

use std::fmt::Write as _;

use super::RunReport;
use super::markup::{attribute, text};
use crate::run::Status;
use crate::testing::{Outcome, Verdict};

/// One `<testcase>`: its names, time and what became of it.
struct Case<'a> {
    class: &'a str,
    name: &'a str,
    seconds: f64,
    result: CaseResult<'a>,
}

enum CaseResult<'a> {
    Passed,
    Skipped(&'a str),
    Failure { message: &'a str, kind: &'a str, detail: &'a str },
    Error(&'a str),
}

/// The document for a suite of cases.
fn document(suite: &str, cases: &[Case]) -> String {
    let failures = cases.iter().filter(|c| matches!(c.result, CaseResult::Failure { .. })).count();
    let errors = cases.iter().filter(|c| matches!(c.result, CaseResult::Error(_))).count();
    let skipped = cases.iter().filter(|c| matches!(c.result, CaseResult::Skipped(_))).count();
    let seconds: f64 = cases.iter().map(|c| c.seconds).sum();
    let counts =
        format!("tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{seconds:.3}\"", cases.len());
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(xml, "<testsuites {counts}>");
    let _ = writeln!(xml, "  <testsuite name=\"{}\" {counts}>", attribute(suite));
    for case in cases {
        let _ = write!(
            xml,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            attribute(case.class),
            attribute(case.name),
            case.seconds
        );
        match case.result {
            CaseResult::Passed => xml.push_str("/>\n"),
            CaseResult::Skipped(message) => {
                let _ = write!(xml, ">\n      <skipped message=\"{}\"/>\n    </testcase>\n", attribute(message));
            }
            CaseResult::Failure { message, kind, detail } => {
                let _ = write!(
                    xml,
                    ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                    attribute(message),
                    attribute(kind),
                    text(detail)
                );
            }
            CaseResult::Error(message) => {
                let _ = write!(
                    xml,
                    ">\n      <error message=\"{}\">{}</error>\n    </testcase>\n",
                    attribute(first_line(message)),
                    text(message)
                );
            }
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// The `recipe test --report junit` document: one test case per fixture case.
pub(crate) fn test(outcomes: &[Outcome]) -> String {
    let cases: Vec<Case> = outcomes
        .iter()
        .map(|outcome| {
            let (class, name) = outcome.case.name.split_once('/').unwrap_or(("recipe", &outcome.case.name));
            let result = match &outcome.verdict {
                Verdict::Passed | Verdict::Accepted => CaseResult::Passed,
                Verdict::New => CaseResult::Failure { message: "no snapshot yet; run `recipe test --accept`", kind: "new", detail: "" },
                Verdict::Changed(diff) => CaseResult::Failure { message: "the snapshot differs", kind: "changed", detail: diff },
                Verdict::Error(message) => CaseResult::Error(message),
            };
            Case { class, name, seconds: outcome.duration.as_secs_f64(), result }
        })
        .collect();
    document("recipe test", &cases)
}

/// The `recipe run --report junit` document: one test case per step.
pub(crate) fn run(report: &RunReport) -> String {
    let result = report.result;
    let mut cases: Vec<Case> = result
        .steps
        .iter()
        .map(|step| {
            let reason = step.reason.as_deref().unwrap_or_default();
            let outcome = match step.status {
                Status::Ok => CaseResult::Passed,
                Status::Skipped | Status::NotSent => CaseResult::Skipped(reason),
                Status::FailedOptional => CaseResult::Skipped(reason),
                Status::Failed => CaseResult::Failure {
                    message: first_line(reason),
                    kind: step.cause.map_or("failed", crate::run::Cause::as_str),
                    detail: reason,
                },
            };
            Case { class: report.recipe, name: &step.id, seconds: step.duration.as_secs_f64(), result: outcome }
        })
        .collect();
    if let Some(error) = &result.error {
        cases.push(Case { class: report.recipe, name: "(run)", seconds: 0.0, result: CaseResult::Error(error) });
    }
    document(report.recipe, &cases)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::testing::Case as TestCase;

    fn outcome(name: &str, verdict: Verdict) -> Outcome {
        let case = TestCase { recipe: PathBuf::from("r.yaml"), fixture: PathBuf::from("f.yaml"), name: name.to_owned() };
        Outcome { case, verdict, run_ok: Some(false), duration: Duration::from_millis(5) }
    }

    #[test]
    fn any_name_and_message_make_valid_xml() {
        let hostile = "bell\u{7} esc\u{1b}[31m nul\0 ]]> <b>&amp;</b> \"quoted\" 'single' \u{FFFE}";
        let outcomes = vec![
            outcome(&format!("draft/{hostile}"), Verdict::Error(format!("cannot run: {hostile}\nsecond line"))),
            outcome("draft/changed", Verdict::Changed(format!("-old {hostile}\n+new"))),
            outcome("draft/fine", Verdict::Passed),
        ];
        let xml = test(&outcomes);
        let document = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("invalid XML: {e}\n{xml}"));
        let cases: Vec<_> = document.descendants().filter(|n| n.has_tag_name("testcase")).collect();
        assert_eq!(cases.len(), 3);
        let shown = "bell\\x07 esc\\x1b[31m nul\\x00 ]]> <b>&amp;</b> \"quoted\" 'single' \\u{fffe}";
        assert_eq!(cases[0].attribute("name"), Some(shown));
        let error = cases[0].children().find(|n| n.has_tag_name("error")).unwrap();
        assert_eq!(error.attribute("message"), Some(format!("cannot run: {shown}").as_str()));
        assert_eq!(error.text(), Some(format!("cannot run: {shown}\nsecond line").as_str()));
        let failure = cases[1].children().find(|n| n.has_tag_name("failure")).unwrap();
        assert_eq!(failure.text(), Some(format!("-old {shown}\n+new").as_str()));
        let suite = document.descendants().find(|n| n.has_tag_name("testsuite")).unwrap();
        assert_eq!((suite.attribute("tests"), suite.attribute("failures"), suite.attribute("errors")), (Some("3"), Some("1"), Some("1")));
    }
}
