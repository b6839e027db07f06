//! Run parameters: typed inputs and declared environment variables, resolved before any request.
//!
//! Inputs come from `--vars FILE`, then `--var name=value` (which wins), then a fixture's
//! recorded inputs under replay, then defaults. Each is checked against its declaration (type,
//! pattern, enum, format). Environment variables are read only when the recipe declares them:
//! from the process, then a `.env` file (read by `dotenv`), then the default. Secret values are collected so the
//! back end can mask them everywhere; an empty secret, or one too short to mask safely, is an
//! error.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::diagnostic::did_you_mean;
use crate::mask::{MIN_SECRET_LEN, placeholder};
use crate::model::{Format, Input, InputType, Recipe};

/// Why a value does not fit its input's declaration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum ValueError {
    #[error("expected {expected}, got {got}{hint}")]
    Type { expected: &'static str, got: String, hint: String },
    #[error("{value} is not one of {allowed}")]
    NotAllowed { value: Json, allowed: String },
    #[error("`{text}` does not match the pattern `{pattern}`")]
    Pattern { text: String, pattern: String },
    #[error("`{text}` is not {expected}")]
    Format { text: String, expected: &'static str },
    /// The pattern itself does not compile (the check refuses such a recipe first).
    #[error("{0}")]
    BadPattern(String),
    /// `--var` text that is not the input's type.
    #[error("expected {expected}, got `{text}`")]
    Text { expected: &'static str, text: String },
    #[error("expected JSON {expected}: {reason}")]
    Json { expected: &'static str, reason: String },
}

/// A problem with the inputs a run was given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum InputError {
    /// `hint` says what there is instead: a suggestion, or the declared inputs.
    #[error("unknown input `{name}` ({origin}); {hint}")]
    Unknown { name: String, origin: &'static str, hint: String },
    #[error("input `{name}`: {problem}")]
    Invalid { name: String, problem: ValueError },
    /// `about` is the input's description, if it has one.
    #[error("missing input `{name}`{about}; give it with `--var {name}=...`")]
    Missing { name: String, about: String },
    /// A `--var` without `=`.
    #[error("`--var {0}` needs the form name=value")]
    NotAPair(String),
}

/// A problem with a declared environment variable. Never its value: it may be a secret.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum EnvError {
    #[error("{} `{name}` is not set{}; set it in the environment or in `.env`", if *.secret { "secret environment variable" } else { "environment variable" }, .description.as_ref().map(|text| format!(" ({text})")).unwrap_or_default())]
    Unset { name: String, secret: bool, description: Option<String> },
    #[error("secret environment variable `{0}` is empty")]
    Empty(String),
    #[error(
        "secret environment variable `{name}` is too short to be masked safely ({length} characters; at least {MIN_SECRET_LEN} needed)"
    )]
    TooShort { name: String, length: usize },
}

/// Checks one value against its input declaration.
pub(crate) fn validate(input: &Input, value: &Json) -> Result<(), ValueError> {
    let type_ok = match input.kind {
        InputType::String => value.is_string(),
        InputType::Integer => value.is_i64() || value.is_u64(),
        InputType::Number => value.is_number(),
        InputType::Boolean => value.is_boolean(),
        InputType::Array => value.is_array(),
        InputType::Object => value.is_object(),
    };
    if !type_ok {
        let hint = match (input.kind, value.as_str().and_then(crate::yaml::leading_zero_hint)) {
            (InputType::Integer | InputType::Number, Some(hint)) => format!(" ({hint})"),
            _ => String::new(),
        };
        return Err(ValueError::Type { expected: type_name(input.kind), got: describe(value), hint });
    }
    if let Some(allowed) = &input.allowed
        && !allowed.contains(value)
    {
        let list: Vec<String> = allowed.iter().map(Json::to_string).collect();
        return Err(ValueError::NotAllowed { value: value.clone(), allowed: list.join(", ") });
    }
    if let Some(text) = value.as_str() {
        if let Some(pattern) = &input.pattern
            && !pattern_matches(pattern, text)?
        {
            return Err(ValueError::Pattern { text: text.to_owned(), pattern: pattern.clone() });
        }
        if let Some(format) = input.format {
            check_format(format, text)?;
        }
    }
    Ok(())
}

fn check_format(format: Format, text: &str) -> Result<(), ValueError> {
    let ok = match format {
        Format::Date => text.len() == 10 && text.parse::<jiff::civil::Date>().is_ok(),
        Format::DateTime => text.parse::<jiff::civil::DateTime>().is_ok() || text.parse::<jiff::Timestamp>().is_ok(),
        Format::Email => {
            let mut parts = text.splitn(2, '@');
            let (local, domain) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text.contains(char::is_whitespace)
        }
    };
    let expected = match format {
        Format::Date => "a date like 2026-07-22",
        Format::DateTime => "a date-time like 2026-07-22T09:30:00",
        Format::Email => "an email address",
    };
    if ok { Ok(()) } else { Err(ValueError::Format { text: text.to_owned(), expected }) }
}

fn type_name(kind: InputType) -> &'static str {
    match kind {
        InputType::String => "a string",
        InputType::Integer => "an integer",
        InputType::Number => "a number",
        InputType::Boolean => "a boolean",
        InputType::Array => "a list",
        InputType::Object => "a map",
    }
}

fn describe(value: &Json) -> String {
    match value {
        Json::String(text) => format!("the string \"{text}\""),
        other => other.to_string(),
    }
}

/// Turns `--var name=value` text into the input's type.
pub(crate) fn coerce(kind: InputType, text: &str) -> Result<Json, ValueError> {
    let wrong = |expected: &'static str| ValueError::Text { expected, text: text.to_owned() };
    match kind {
        InputType::String => Ok(Json::String(text.to_owned())),
        InputType::Integer => text.trim().parse::<i64>().map(Json::from).map_err(|_| wrong("an integer")),
        InputType::Number if text.trim().parse::<i64>().is_ok() => Ok(Json::from(text.trim().parse::<i64>().unwrap_or_default())),
        InputType::Number => {
            text.trim().parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Json::Number).ok_or_else(|| wrong("a number"))
        }
        InputType::Boolean => match text.trim() {
            "true" => Ok(Json::Bool(true)),
            "false" => Ok(Json::Bool(false)),
            _ => Err(wrong("`true` or `false`")),
        },
        InputType::Array | InputType::Object => {
            serde_json::from_str(text).map_err(|e| ValueError::Json { expected: type_name(kind), reason: e.to_string() })
        }
    }
}

/// Whether `text` matches `pattern`; each pattern is compiled once per process (a batch checks
/// every row against the same few, and decoding the recipe compiled them already).
fn pattern_matches(pattern: &str, text: &str) -> Result<bool, ValueError> {
    Ok(crate::pattern::compile(pattern, false).map_err(|e| ValueError::BadPattern(e.to_string()))?.is_match(text))
}

/// Where input values come from, lowest priority first.
#[derive(Debug, Default, Clone)]
pub(crate) struct InputSources {
    /// Recorded inputs of a fixture under replay.
    pub recorded: BTreeMap<String, Json>,
    /// Values of `--vars FILE`, already typed.
    pub file: BTreeMap<String, Json>,
    /// `--var name=value` pairs, as text.
    pub cli: Vec<(String, String)>,
}

/// Resolves every declared input, or lists every problem.
pub(crate) fn resolve(recipe: &Recipe, sources: &InputSources) -> Result<BTreeMap<String, Json>, Vec<InputError>> {
    let mut problems = Vec::new();
    let declared = |name: &str| recipe.inputs.iter().find(|input| input.name.text == name);
    let names: Vec<&str> = recipe.inputs.iter().map(|input| input.name.text.as_str()).collect();
    let unknown = |name: &str, origin: &'static str, problems: &mut Vec<InputError>| {
        let hint = if let Some(suggestion) = did_you_mean(name, names.iter().copied()) {
            format!("did you mean `{suggestion}`?")
        } else if names.is_empty() {
            "this recipe declares no inputs".to_owned()
        } else {
            format!("the inputs are {}", names.join(", "))
        };
        problems.push(InputError::Unknown { name: name.to_owned(), origin, hint });
    };
    let mut values: BTreeMap<String, Json> = BTreeMap::new();
    for (name, value) in &sources.file {
        if declared(name).is_some() {
            values.insert(name.clone(), value.clone());
        } else {
            unknown(name, "from --vars", &mut problems);
        }
    }
    for (name, text) in &sources.cli {
        match declared(name) {
            Some(input) => match coerce(input.kind, text) {
                Ok(value) => {
                    values.insert(name.clone(), value);
                }
                Err(problem) => problems.push(InputError::Invalid { name: name.clone(), problem }),
            },
            None => unknown(name, "from --var", &mut problems),
        }
    }
    for input in &recipe.inputs {
        let name = &input.name.text;
        if !values.contains_key(name) {
            if let Some(value) = sources.recorded.get(name).or(input.default.as_ref()) {
                values.insert(name.clone(), value.clone());
            } else if input.is_required() {
                let about = input.description.as_deref().map(|text| format!(": {}", text.trim())).unwrap_or_default();
                problems.push(InputError::Missing { name: name.clone(), about });
                continue;
            } else {
                values.insert(name.clone(), Json::Null);
                continue;
            }
        }
        if let Err(problem) = validate(input, &values[name]) {
            problems.push(InputError::Invalid { name: name.clone(), problem });
        }
    }
    if problems.is_empty() { Ok(values) } else { Err(problems) }
}

/// The declared environment variables' values, and which of them are secret.
#[derive(Debug, Default, Clone)]
pub struct EnvValues {
    pub values: BTreeMap<String, String>,
    /// (name, value) of every secret, for masking.
    pub secrets: Vec<(String, String)>,
}

/// Reads the declared variables from `lookup` (the process), then `dotenv`, then defaults.
/// `placeholders` stands in for unset variables under replay and dry runs, where real values are
/// never needed: the value becomes `<NAME>`, as recorded fixtures have it for secrets. A secret
/// that is set must be at least [`MIN_SECRET_LEN`] characters long, so masking it stays reliable.
pub(crate) fn resolve_env(
    recipe: &Recipe,
    lookup: &dyn Fn(&str) -> Option<String>,
    dotenv: &BTreeMap<String, String>,
    placeholders: bool,
) -> Result<EnvValues, Vec<EnvError>> {
    let mut result = EnvValues::default();
    let mut problems = Vec::new();
    for var in &recipe.env {
        let name = &var.name.text;
        let value = lookup(name).or_else(|| dotenv.get(name).cloned()).or_else(|| var.default.clone());
        // Only a real value is checked for length; a placeholder is masked as itself.
        let (value, real) = match value {
            Some(value) => (value, true),
            None if placeholders => (placeholder(name), false),
            None => {
                problems.push(EnvError::Unset { name: name.clone(), secret: var.secret, description: var.description.clone() });
                continue;
            }
        };
        if var.secret && real {
            // Never the value itself in a message.
            let length = value.chars().count();
            if length == 0 {
                problems.push(EnvError::Empty(name.clone()));
                continue;
            }
            if length < MIN_SECRET_LEN {
                problems.push(EnvError::TooShort { name: name.clone(), length });
                continue;
            }
        }
        if var.secret {
            result.secrets.push((name.clone(), value.clone()));
        }
        result.values.insert(name.clone(), value);
    }
    if problems.is_empty() { Ok(result) } else { Err(problems) }
}

/// Reads `--var name=value` pairs.
pub(crate) fn var_pairs(pairs: &[String]) -> Result<Vec<(String, String)>, InputError> {
    pairs
        .iter()
        .map(|pair| {
            let (name, value) = pair.split_once('=').ok_or_else(|| InputError::NotAPair(pair.clone()))?;
            Ok((name.trim().to_owned(), value.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dotenv(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn recipe() -> Recipe {
        let text = "recipe: 1\nname: t\ninputs:\n  vin: {type: string, pattern: '^[A-Z0-9]{17}$'}\n  count: {type: integer, default: 2}\n  day: {type: string, format: date, description: the day of the appointment}\nenv:\n  TOKEN: {secret: true}\n  BASE: {default: 'http://x'}\nsteps:\n  - id: a\n    set: {x: 1}\n";
        crate::decode::recipe(&crate::yaml::parse(text).unwrap().0).unwrap()
    }

    #[test]
    fn resolves_typed_inputs_and_reports_every_problem() {
        let recipe = recipe();
        let sources = InputSources {
            cli: vec![("vin".into(), "1HGCM82633A004352".into()), ("count".into(), "3".into()), ("day".into(), "2026-07-22".into())],
            ..Default::default()
        };
        let values = resolve(&recipe, &sources).unwrap();
        assert_eq!(values["count"], Json::from(3));
        let bad = InputSources {
            cli: vec![("vin".into(), "short".into()), ("count".into(), "x".into()), ("dya".into(), "1".into())],
            ..Default::default()
        };
        let problems: Vec<String> = resolve(&recipe, &bad).unwrap_err().iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            vec![
                "input `count`: expected an integer, got `x`",
                "unknown input `dya` (from --var); did you mean `day`?",
                "input `vin`: `short` does not match the pattern `^[A-Z0-9]{17}$`",
                "missing input `day`: the day of the appointment; give it with `--var day=...`",
            ]
        );
    }

    #[test]
    fn env_needs_secrets_unless_placeholders_are_allowed() {
        let recipe = recipe();
        let none = |_: &str| None;
        let problems: Vec<String> =
            resolve_env(&recipe, &none, &BTreeMap::new(), false).unwrap_err().iter().map(ToString::to_string).collect();
        assert_eq!(problems, vec!["secret environment variable `TOKEN` is not set; set it in the environment or in `.env`"]);
        let env = resolve_env(&recipe, &none, &dotenv(&[("TOKEN", "s3cret")]), false).unwrap();
        assert_eq!(env.secrets, vec![("TOKEN".to_owned(), "s3cret".to_owned())]);
        assert_eq!(env.values["BASE"], "http://x");
        let replay = resolve_env(&recipe, &none, &BTreeMap::new(), true).unwrap();
        assert_eq!(replay.values["TOKEN"], "<TOKEN>");
        assert_eq!(replay.secrets, vec![("TOKEN".to_owned(), "<TOKEN>".to_owned())]);
    }

    #[test]
    fn secrets_must_be_long_enough_to_mask() {
        let recipe = recipe();
        let none = |_: &str| None;
        for placeholders in [false, true] {
            let problems: Vec<String> = resolve_env(&recipe, &none, &dotenv(&[("TOKEN", "abcé")]), placeholders)
                .unwrap_err()
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(
                problems,
                vec!["secret environment variable `TOKEN` is too short to be masked safely (4 characters; at least 6 needed)"]
            );
            assert!(!problems[0].contains("abc"));
            let problems = resolve_env(&recipe, &|name: &str| (name == "TOKEN").then(String::new), &BTreeMap::new(), placeholders);
            assert_eq!(problems.unwrap_err(), vec![EnvError::Empty("TOKEN".into())]);
        }
        let env = resolve_env(&recipe, &|_: &str| Some("abcdef".to_owned()), &BTreeMap::new(), false).unwrap();
        assert_eq!(env.secrets, vec![("TOKEN".to_owned(), "abcdef".to_owned())]);
        // Only secrets are checked: a short ordinary variable is fine.
        assert_eq!(env.values["BASE"], "abcdef");
        let env =
            resolve_env(&recipe, &|name: &str| (name == "BASE").then(|| "x".to_owned()), &dotenv(&[("TOKEN", "abcdef")]), false).unwrap();
        assert_eq!(env.values["BASE"], "x");
    }
}
