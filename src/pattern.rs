//! The regular expressions a recipe writes (input, assertion and match `pattern`s), compiled once
//! per process: decoding compiles each one to report its errors, and validating inputs (once per
//! run, or once per row of a batch) uses the same compiled expression.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

/// `pattern` compiled (ignoring case when asked), or why it does not compile.
pub(crate) fn compile(pattern: &str, ignore_case: bool) -> Result<regex::Regex, regex::Error> {
    type Compiled = HashMap<(String, bool), Result<regex::Regex, regex::Error>>;
    static COMPILED: LazyLock<Mutex<Compiled>> = LazyLock::new(Mutex::default);
    let key = (pattern.to_owned(), ignore_case);
    let mut compiled = COMPILED.lock().unwrap_or_else(PoisonError::into_inner);
    compiled.entry(key).or_insert_with(|| regex::RegexBuilder::new(pattern).case_insensitive(ignore_case).build()).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_once_and_keeps_errors() {
        let first = compile("^[0-9a-f]{4}$", false).unwrap();
        assert!(first.is_match("00ff") && !first.is_match("00FF"));
        assert!(compile("^[0-9a-f]{4}$", true).unwrap().is_match("00FF"));
        let unclosed = String::from("(");
        assert_eq!(compile(&unclosed, false).unwrap_err().to_string(), regex::Regex::new(&unclosed).unwrap_err().to_string());
        assert!(compile(&unclosed, false).is_err(), "an error is kept, not compiled again");
    }
}
