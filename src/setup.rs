//! Why a run could not be set up: the error of the layer between what the user gave and the
//! first request (inputs, environment, the client's settings, the runtime). Each problem keeps
//! its own line, and the whole says which exit status it means.

use crate::exit::Exit;

/// What stopped a run before anything was sent.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Inputs or environment variables missing or invalid: every problem, one per line.
    #[error("{}", .0.join("\n"))]
    Problems(Vec<String>),
    /// The client's settings: a TLS file, a proxy, the client itself.
    #[error(transparent)]
    Client(#[from] crate::transport::ClientError),
    #[error("cannot render `http.proxy`: {reason}")]
    Proxy { reason: crate::template::TemplateError },
    /// A file `http.tls` names.
    #[error("`http.tls.{key}`: {source}")]
    Tls { key: String, source: crate::transport::PemError },
    /// The async runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

impl SetupError {
    /// Every problem, each a line of its own (an `error:` each on the command line).
    pub fn problems(&self) -> Vec<String> {
        match self {
            SetupError::Problems(problems) => problems.clone(),
            other => vec![other.to_string()],
        }
    }

    /// Nothing was sent: the user's arguments, inputs or environment need a change.
    pub fn exit(&self) -> Exit {
        Exit::Usage
    }
}

impl From<Vec<String>> for SetupError {
    fn from(problems: Vec<String>) -> Self {
        SetupError::Problems(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_a_line_and_a_usage_error() {
        let error = SetupError::Problems(vec!["missing input `vin`".into(), "`API_KEY` is not set".into()]);
        assert_eq!(error.problems().len(), 2);
        assert_eq!(error.to_string(), "missing input `vin`\n`API_KEY` is not set");
        assert_eq!(error.exit(), Exit::Usage);
        let runtime = SetupError::Runtime(std::io::Error::other("no threads"));
        assert_eq!(runtime.problems(), vec!["cannot start the runtime: no threads".to_owned()]);
        assert!(std::error::Error::source(&runtime).is_some());
    }
}
