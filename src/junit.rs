//! `JUnit` XML for `recipe test --report junit`: one test case per fixture case.

use std::fmt::Write as _;

use crate::testing::{Outcome, Verdict};

/// The `JUnit` XML document for a set of outcomes.
pub fn render(outcomes: &[Outcome]) -> String {
    let failures = outcomes.iter().filter(|o| matches!(o.verdict, Verdict::Changed(_) | Verdict::New)).count();
    let errors = outcomes.iter().filter(|o| matches!(o.verdict, Verdict::Error(_))).count();
    let seconds: f64 = outcomes.iter().map(|o| o.duration.as_secs_f64()).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(xml, "<testsuites tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{seconds:.3}\">", outcomes.len());
    let _ = writeln!(
        xml,
        "  <testsuite name=\"recipe test\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{seconds:.3}\">",
        outcomes.len()
    );
    for outcome in outcomes {
        let (class, name) = outcome.case.name.split_once('/').unwrap_or(("recipe", &outcome.case.name));
        let _ = write!(
            xml,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            escape(class),
            escape(name),
            outcome.duration.as_secs_f64()
        );
        match &outcome.verdict {
            Verdict::Passed | Verdict::Accepted => xml.push_str("/>\n"),
            Verdict::New => xml.push_str(">\n      <failure message=\"no snapshot yet; run `recipe test --accept`\"/>\n    </testcase>\n"),
            Verdict::Changed(diff) => {
                let _ = write!(xml, ">\n      <failure message=\"the snapshot differs\">{}</failure>\n    </testcase>\n", escape(diff));
            }
            Verdict::Error(message) => {
                let _ = write!(xml, ">\n      <error message=\"{}\"/>\n    </testcase>\n", escape(message));
            }
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
