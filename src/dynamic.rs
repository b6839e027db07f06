//! Dynamic values: `now()`, `today()`, `uuid()` and unseeded random picks, made repeatable.
//!
//! A run owns one [`Dynamic`] source. Live, it produces real values and keeps each one, in
//! order, so `--record` can write them into the fixture. Under replay it hands back the recorded
//! values in the same order, so snapshots are stable. Templates reach the source through a
//! hidden context entry; this module owns that entry's name and the template functions.

use std::sync::{Arc, Mutex};

use minijinja::value::{Kwargs, Object};
use minijinja::{Error, ErrorKind, State, Value};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// The context key under which a run's source is visible to template functions.
pub(crate) const CONTEXT_KEY: &str = "__dynamic";

/// One value a dynamic function produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    pub function: String,
    pub value: Json,
}

#[derive(Debug)]
pub struct Dynamic {
    /// Under replay: the recorded values to hand back.
    replay: Option<Vec<Recorded>>,
    /// Live: every value produced; replay: how many were used (as the values themselves).
    used: Mutex<Vec<Recorded>>,
}

impl Object for Dynamic {}

/// A dynamic value a replay cannot give: the fixture recorded another sequence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("the recipe asked for `{asked}()` but the fixture recorded `{recorded}()` at that point; re-record the fixture")]
    Other { asked: String, recorded: String },
    #[error("the recipe asked for `{asked}()` but the fixture recorded no more dynamic values; re-record the fixture")]
    NoMore { asked: String },
    #[error("the fixture's recorded random seed is not a whole number")]
    Seed,
}

impl Dynamic {
    pub fn live() -> Arc<Self> {
        Arc::new(Self { replay: None, used: Mutex::new(Vec::new()) })
    }

    pub fn replay(values: Vec<Recorded>) -> Arc<Self> {
        Arc::new(Self { replay: Some(values), used: Mutex::new(Vec::new()) })
    }

    /// The next value of `function`: recorded under replay, else produced (and kept).
    pub fn next(&self, function: &str, produce: impl FnOnce() -> Json) -> Result<Json, ReplayError> {
        let mut used = self.used.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let value = match &self.replay {
            None => produce(),
            Some(recorded) => match recorded.get(used.len()) {
                Some(entry) if entry.function == function => entry.value.clone(),
                Some(entry) => {
                    return Err(ReplayError::Other { asked: function.to_owned(), recorded: entry.function.clone() });
                }
                None => return Err(ReplayError::NoMore { asked: function.to_owned() }),
            },
        };
        used.push(Recorded { function: function.to_owned(), value: value.clone() });
        Ok(value)
    }

    /// Every value used so far, in order (what `--record` writes).
    pub fn used(&self) -> Vec<Recorded> {
        self.used.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Under replay: recorded values the run did not use.
    pub fn unused(&self) -> usize {
        let used = self.used.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len();
        self.replay.as_ref().map_or(0, |recorded| recorded.len().saturating_sub(used))
    }
}

/// Adds a run's source to a template context.
pub(crate) fn with_source(context: Value, dynamic: &Arc<Dynamic>) -> Value {
    let source = Value::from_pairs([(CONTEXT_KEY, Value::from_dyn_object(Arc::clone(dynamic)))]);
    minijinja::context! { ..context, ..source }
}

/// The run's source, found through the template state; `None` outside a run (checking).
fn source(state: &State) -> Option<Value> {
    state.lookup(CONTEXT_KEY)
}

fn draw(state: &State, function: &str, produce: impl FnOnce() -> Json) -> Result<Json, Error> {
    match source(state) {
        Some(value) => match value.downcast_object_ref::<Dynamic>() {
            Some(dynamic) => dynamic.next(function, produce).map_err(|error| Error::new(ErrorKind::InvalidOperation, error.to_string())),
            None => Ok(produce()),
        },
        None => Ok(produce()),
    }
}

fn zone(kwargs: &Kwargs) -> Result<jiff::tz::TimeZone, Error> {
    let name: Option<String> = kwargs.get("tz")?;
    match name {
        None => Ok(jiff::tz::TimeZone::UTC),
        Some(name) => jiff::tz::TimeZone::get(&name).map_err(|_| {
            Error::new(ErrorKind::InvalidOperation, format!("unknown time zone `{name}` (use an IANA name like America/Chicago)"))
        }),
    }
}

/// The current instant, recorded (or replayed) as an RFC 3339 timestamp.
fn recorded_instant(state: &State) -> Result<jiff::Timestamp, Error> {
    let instant = draw(state, "now", || Json::String(jiff::Timestamp::now().to_string()))?;
    instant
        .as_str()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "the fixture's recorded `now` is not a timestamp"))
}

/// `now(tz="America/Chicago", format="%Y-%m-%dT%H:%M:%S")`: wall-clock time in a zone.
pub(crate) fn now(state: &State, kwargs: Kwargs) -> Result<Value, Error> {
    let zone = zone(&kwargs)?;
    let format: Option<String> = kwargs.get("format")?;
    kwargs.assert_all_used()?;
    // The recorded value is the instant; formatting happens after, so a format change replays.
    let instant = recorded_instant(state)?;
    let format = format.unwrap_or_else(|| "%Y-%m-%dT%H:%M:%S".to_owned());
    let mut out = String::new();
    jiff::fmt::strtime::format(&format, &instant.to_zoned(zone))
        .map(|text| out.push_str(&text))
        .map_err(|error| Error::new(ErrorKind::InvalidOperation, error.to_string()))?;
    Ok(Value::from(out))
}

/// `today(tz="America/Chicago")`: the date in a zone, `yyyy-MM-dd`.
pub(crate) fn today(state: &State, kwargs: Kwargs) -> Result<Value, Error> {
    let zone = zone(&kwargs)?;
    kwargs.assert_all_used()?;
    let instant = recorded_instant(state)?;
    Ok(Value::from(instant.to_zoned(zone).date().to_string()))
}

/// `uuid()`: a random (version 4) UUID.
pub(crate) fn uuid(state: &State) -> Result<Value, Error> {
    let value = draw(state, "uuid", || Json::String(uuid::Uuid::new_v4().to_string()))?;
    Ok(Value::from(minijinja::value::Serde(&value)))
}

/// The seed of an unseeded `random` pick.
pub(crate) fn random_seed(context: &Value) -> Result<u64, ReplayError> {
    let produce = || Json::from(u64::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..8].try_into().unwrap_or_default()));
    let value = match context.get_attr(CONTEXT_KEY).ok().filter(|v| !v.is_undefined()) {
        Some(value) => match value.downcast_object_ref::<Dynamic>() {
            Some(dynamic) => dynamic.next("random_seed", produce)?,
            None => produce(),
        },
        None => produce(),
    };
    value.as_u64().ok_or(ReplayError::Seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_hands_back_recorded_values_in_order() {
        let live = Dynamic::live();
        let first = live.next("uuid", || Json::from("a")).unwrap();
        assert_eq!(first, Json::from("a"));
        let replay = Dynamic::replay(live.used());
        assert_eq!(replay.next("uuid", || Json::from("b")).unwrap(), Json::from("a"));
        assert_eq!(replay.next("uuid", || Json::from("c")).unwrap_err(), ReplayError::NoMore { asked: "uuid".into() });
        let mismatched = Dynamic::replay(live.used());
        let error = mismatched.next("now", || Json::Null).unwrap_err();
        assert!(error.to_string().contains("recorded `uuid()`"), "{error}");
    }
}
#[cfg(test)]
mod context_tests {
    use super::*;

    #[test]
    fn template_functions_find_the_run_source() {
        let engine = crate::template::Engine::new();
        let dynamic = Dynamic::live();
        let data = crate::template::context(&serde_json::json!({"inputs": {}}));
        let context = with_source(data, &dynamic);
        let template = crate::model::TemplateString {
            text: "{{ uuid() }}".into(),
            span: crate::diagnostic::Span::default(),
            style: crate::yaml::Style::Plain,
            kind: crate::template::classify("{{ uuid() }}"),
        };
        let value = engine.render(&template, &context).unwrap();
        assert_eq!(dynamic.used().len(), 1, "{value}");
    }
}
