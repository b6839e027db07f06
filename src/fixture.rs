//! Fixture files ("cassettes"): the inputs of one run and its exchanges, in order.
//!
//! A fixture is YAML (read and written through `yaml`). Requests are recorded relative to the
//! base URL and with secrets already replaced by `<NAME>` placeholders; responses keep only the
//! headers that matter. Writing is atomic: a temporary file in the same folder, then a rename.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::http::{Hop, RequestSpec, ResponseData};
use crate::transport::Failure;
use crate::yaml::{DataError, Key, Node, Value};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// The fixture format version; always 1.
    pub fixture: u32,
    /// Where the data came from (e.g. "synthetic: built from documented shapes").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The recipe's inputs for this run.
    #[serde(default)]
    pub inputs: BTreeMap<String, Json>,
    pub exchanges: Vec<Exchange>,
    /// Values of `now()`, `uuid()` and unseeded random picks, in the order the run used them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dynamic: Vec<crate::dynamic::Recorded>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    /// The id of the step that sent the request.
    pub step: String,
    pub request: RequestSpec,
    /// Redirects followed before the response.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirects: Vec<Hop>,
    /// Absent when the attempt failed before a complete response (see `failure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseData>,
    /// Why the attempt got no usable response: a timeout, a reset, a body too large.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

/// What the types would silently accept in a hand-edited exchange: a misspelt key in a request
/// or response (`header:` would never be compared), two bodies (one would win), a status that is
/// not one, or an exchange with neither a response nor a failure.
fn check_exchanges(root: &Node) -> Result<(), DataError> {
    let problem = |span, message: String| Err(DataError { span: Some(span), message });
    let Value::Map(entries) = &root.value else { return Ok(()) };
    let Some((_, Node { value: Value::Seq(exchanges), .. })) = entries.iter().find(|(key, _)| key.text == "exchanges") else {
        return Ok(());
    };
    for exchange in exchanges {
        let Value::Map(fields) = &exchange.value else { continue };
        let field = |name: &str| fields.iter().find(|(key, _)| key.text == name).map(|(_, node)| node);
        if field("response").is_none() && field("failure").is_none() {
            return problem(exchange.span, "an exchange has a `response` or a `failure`".into());
        }
        for (part, allowed) in [
            ("request", &["method", "url", "headers", "json", "form", "text"][..]),
            ("response", &["status", "headers", "json", "text"][..]),
        ] {
            let Some(Node { value: Value::Map(keys), .. }) = field(part) else { continue };
            if let Some((key, _)) = keys.iter().find(|(key, _)| !allowed.contains(&key.text.as_str())) {
                return problem(key.span, format!("unknown key `{}` in a {part}; it has {}", key.text, allowed.join(", ")));
            }
            let bodies: Vec<&Key> =
                keys.iter().map(|(key, _)| key).filter(|key| matches!(key.text.as_str(), "json" | "form" | "text")).collect();
            if let [_, second, ..] = bodies[..] {
                return problem(second.span, format!("a {part} has one body: `{}` and `{}` are both given", bodies[0].text, second.text));
            }
            if let Some((_, status)) = keys.iter().find(|(key, _)| key.text == "status")
                && !matches!(status.value, Value::Int(100..=999))
            {
                return problem(status.span, "a status is a whole number from 100 to 999".into());
            }
        }
    }
    Ok(())
}

/// Why a fixture cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("{0}")]
    Read(std::io::Error),
    /// Not a fixture: the message names the file and the place.
    #[error("{0}")]
    Invalid(String),
    #[error("{}: unsupported fixture version {version}; this version of `recipe` reads `fixture: 1`", .path.display())]
    Version { path: std::path::PathBuf, version: u32 },
    #[error("{0}")]
    Write(#[from] crate::files::FileError),
    #[error("{0}")]
    Yaml(#[from] crate::emit::WriteError),
}

impl Fixture {
    pub fn read(path: &Path) -> Result<Self, FixtureError> {
        let text = fs_err::read_to_string(path).map_err(FixtureError::Read)?;
        let fixture: Fixture = crate::yaml::from_str_checked(&text, check_exchanges)
            .map_err(|error| FixtureError::Invalid(error.in_file(path, "invalid fixture")))?;
        if fixture.fixture != 1 {
            return Err(FixtureError::Version { path: path.to_owned(), version: fixture.fixture });
        }
        Ok(fixture)
    }

    /// Writes the fixture atomically: an interrupted run never leaves half a file.
    pub fn write(&self, path: &Path) -> Result<(), FixtureError> {
        let mut text = String::from("# Recorded by `recipe run --record`. Secrets are replaced by <NAME> placeholders.\n");
        text.push_str(&crate::emit::to_string(self)?);
        Ok(crate::files::write_atomic(path, text.as_bytes())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The problem `Fixture::read` finds in a fixture of this one exchange, without the file name.
    fn problem(exchange: &str) -> Option<String> {
        let path = std::env::temp_dir().join(format!("recipe-fixture-{}-{}.yaml", std::process::id(), exchange.len()));
        std::fs::write(&path, format!("fixture: 1\nexchanges:\n{exchange}")).unwrap();
        let read = Fixture::read(&path);
        std::fs::remove_file(&path).unwrap();
        let file = format!("{}:", path.display());
        read.err().map(|error| {
            let error = error.to_string();
            error.strip_prefix(&file).unwrap_or(&error).to_owned()
        })
    }

    #[test]
    fn a_hand_edited_exchange_is_read_as_written_or_refused_at_its_place() {
        let fine = "  - step: a\n    request: { method: POST, url: /a, json: { n: 1 } }\n    response: { status: 200, json: { id: 7 } }\n";
        assert_eq!(problem(fine), None);
        for (exchange, error) in [
            (
                "  - step: a\n    request: { method: POST, url: /a, header: { x: y } }\n    response: { status: 200 }\n",
                "4:39: invalid fixture: unknown key `header` in a request; it has method, url, headers, json, form, text",
            ),
            (
                "  - step: a\n    request: { method: GET, url: /a }\n    response: { status: 200, json: {}, text: hi }\n",
                "5:40: invalid fixture: a response has one body: `json` and `text` are both given",
            ),
            (
                "  - step: a\n    request: { method: GET, url: /a }\n    response: { status: 1000 }\n",
                "5:25: invalid fixture: a status is a whole number from 100 to 999",
            ),
            ("  - step: a\n    request: { method: GET, url: /a }\n", "3:5: invalid fixture: an exchange has a `response` or a `failure`"),
        ] {
            assert_eq!(problem(exchange).as_deref(), Some(error), "{exchange}");
        }
    }
}
