//! Recorded responses: what a step's response body looked like in the recipe's first fixture
//! case that has one (`recipes/fixtures/NAME/*.yaml`, found as `recipe test` finds cases), read
//! once per recipe and step and kept.
//!
//! Values are shown masked: the fixture was scrubbed when it was recorded, and the values of the
//! recipe's secret environment variables, when the server's environment has them, are masked
//! again here, as in every other output.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value as Json;

use super::names::Part;
use crate::http::ResponseBody;
use crate::model::Recipe;

/// The recorded bodies, by recipe file and step id (`None`: no case has one).
#[derive(Default)]
pub(super) struct Fixtures {
    bodies: HashMap<(PathBuf, String), Option<Arc<Json>>>,
}

impl Fixtures {
    /// The body of step `step`'s first response in the first case that has one.
    pub(super) fn body(&mut self, recipe: &Path, step: &str) -> Option<Arc<Json>> {
        self.bodies.entry((recipe.to_path_buf(), step.to_owned())).or_insert_with(|| first_body(recipe, step)).clone()
    }
}

fn first_body(recipe: &Path, step: &str) -> Option<Arc<Json>> {
    let cases = crate::testing::discover(&[recipe.to_path_buf()]).ok()?;
    cases.iter().find_map(|case| {
        let fixture = crate::fixture::Fixture::read(&case.fixture).ok()?;
        fixture.exchanges.into_iter().filter(|exchange| exchange.step == step).find_map(|exchange| match exchange.response?.body? {
            ResponseBody::Json(json) => Some(json),
            ResponseBody::Text(_) => None,
        })
    })
}

/// The value at `parts` (after `body`) of a body; a list without an index is read at its first
/// element, as a reader would expect of `matchingCustomers.` when every element has the same
/// shape.
pub(super) fn walk<'a>(body: &'a Json, parts: &[Part<'_>]) -> Option<&'a Json> {
    let mut value = body;
    for part in parts {
        value = match (part, value) {
            (Part::Index(index), Json::Array(items)) => items.get(*index)?,
            (Part::Name(name), Json::Array(items)) => items.first()?.get(name)?,
            (Part::Name(name), Json::Object(map)) => map.get(*name)?,
            _ => return None,
        };
    }
    Some(value)
}

/// The keys offered after a path ending at `value`.
pub(super) fn keys(value: &Json) -> Vec<(String, &Json)> {
    match value {
        Json::Object(map) => map.iter().map(|(key, value)| (key.clone(), value)).collect(),
        Json::Array(items) => items.first().map(keys).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// A value as hover shows it: pretty JSON, the recipe's secrets masked, cut to a readable size.
pub(super) fn shown(recipe: &Recipe, value: &Json) -> String {
    let secrets: Vec<(String, String)> = recipe
        .env
        .iter()
        .filter(|var| var.secret)
        .filter_map(|var| std::env::var(&var.name.text).ok().map(|value| (var.name.text.clone(), value)))
        .collect();
    let masker = crate::mask::Masker::new(&secrets);
    let text = serde_json::to_string_pretty(&masker.json(value)).unwrap_or_default();
    masker.excerpt(&text, 1500)
}
