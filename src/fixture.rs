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

impl Fixture {
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = fs_err::read_to_string(path).map_err(|error| error.to_string())?;
        let fixture: Fixture = crate::yaml::from_str(&text).map_err(|error| error.in_file(path, "invalid fixture"))?;
        if fixture.fixture != 1 {
            return Err(format!(
                "{}: unsupported fixture version {}; this version of `recipe` reads `fixture: 1`",
                path.display(),
                fixture.fixture
            ));
        }
        Ok(fixture)
    }

    /// Writes the fixture atomically: an interrupted run never leaves half a file.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let mut text = String::from("# Recorded by `recipe run --record`. Secrets are replaced by <NAME> placeholders.\n");
        text.push_str(&crate::yaml::to_string(self)?);
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        fs_err::create_dir_all(folder).map_err(|error| error.to_string())?;
        let name = path.file_name().map_or_else(|| "fixture".into(), |n| n.to_string_lossy().into_owned());
        let temporary = folder.join(format!(".{name}.{}.tmp", std::process::id()));
        fs_err::write(&temporary, text).map_err(|error| error.to_string())?;
        fs_err::rename(&temporary, path).map_err(|error| error.to_string())
    }
}
