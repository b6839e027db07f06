//! Parsed response bodies, kept for reuse: a body byte for byte identical to one parsed a
//! moment ago is not parsed again, its parsed value is shared.
//!
//! In a batch the same lists come back for every row: a dealer's advisors, opcodes and transport
//! options. Parsing JSON into a tree is most of a row's CPU time, so each client keeps the last
//! few bodies it parsed with their bytes. A new body is compared with them in full (length
//! first, then every byte), never by a hash, so a hit is always the same text, and the value
//! handed out is immutable (`Arc`). Only JSON bodies between [`MIN_LEN`] and [`MAX_LEN`] bytes are
//! kept, at most [`ENTRIES`] of them and [`BUDGET`] bytes of text in all, the least recently used
//! going first: the memory is bounded whatever the batch, per client, so per batch thread (a
//! parsed tree takes a few times its text).
//!
//! A body parsed into a projection (what a batch's recipe reads of it, `crate::reads`) is kept
//! with that projection, and shared only with a parse of the same bytes into the same one.
//!
//! `RECIPE_BODY_CACHE=0` turns it off (to measure what it saves).

use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value as Json;

use crate::projection::Projection;

/// Smaller bodies parse faster than they compare.
pub(crate) const MIN_LEN: usize = 256;
pub(crate) const MAX_LEN: usize = 256 * 1024;
pub(crate) const ENTRIES: usize = 16;
pub(crate) const BUDGET: usize = 1024 * 1024;

/// A kept body: its bytes, the projection it was parsed into (by address, `0` for the whole
/// body; the plan holding it outlives the client) and its parsed value.
type Kept = (Box<[u8]>, usize, Arc<Json>);

/// One client's recent bodies, most recently used last.
#[derive(Debug, Default)]
pub(crate) struct Bodies {
    enabled: bool,
    recent: Mutex<Vec<Kept>>,
}

impl Bodies {
    /// On unless `RECIPE_BODY_CACHE=0`.
    pub(crate) fn from_env() -> Self {
        Self::new(std::env::var_os("RECIPE_BODY_CACHE").is_none_or(|value| value != "0"))
    }

    pub(crate) fn new(enabled: bool) -> Self {
        Self { enabled, recent: Mutex::default() }
    }

    /// The parsed JSON of `bytes`: a kept value when the same bytes were parsed recently, else
    /// `parse`'s (kept for next time when it is JSON and the size fits).
    pub(crate) fn parse<E>(&self, bytes: &[u8], parse: impl FnOnce(&[u8]) -> Result<Json, E>) -> Result<Arc<Json>, E> {
        self.parse_as(bytes, 0, parse)
    }

    /// The same, for a body parsed into `projection`.
    pub(crate) fn parse_projected(&self, bytes: &[u8], projection: &Arc<Projection>) -> Result<Arc<Json>, serde_json::Error> {
        let tag = Arc::as_ptr(projection) as usize;
        self.parse_as(bytes, tag, |bytes| crate::json::parse_projected(bytes, projection))
    }

    fn parse_as<E>(&self, bytes: &[u8], tag: usize, parse: impl FnOnce(&[u8]) -> Result<Json, E>) -> Result<Arc<Json>, E> {
        if !self.enabled || !(MIN_LEN..=MAX_LEN).contains(&bytes.len()) {
            return parse(bytes).map(Arc::new);
        }
        {
            let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(at) = recent.iter().rposition(|(kept, kept_tag, _)| *kept_tag == tag && **kept == *bytes) {
                let entry = recent.remove(at);
                let value = Arc::clone(&entry.2);
                recent.push(entry);
                return Ok(value);
            }
        }
        let value = Arc::new(parse(bytes)?);
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        recent.push((bytes.into(), tag, Arc::clone(&value)));
        while recent.len() > ENTRIES || recent.iter().map(|(kept, _, _)| kept.len()).sum::<usize>() > BUDGET {
            recent.remove(0);
        }
        Ok(value)
    }

    /// How many bodies are kept, and their bytes.
    #[cfg(test)]
    pub(crate) fn kept(&self) -> (usize, usize) {
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        (recent.len(), recent.iter().map(|(kept, _, _)| kept.len()).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(n: usize, len: usize) -> Vec<u8> {
        let mut text = format!("{{\"n\": {n}, \"pad\": \"");
        text.push_str(&"x".repeat(len.saturating_sub(text.len() + 2)));
        text.push_str("\"}");
        text.into_bytes()
    }

    fn parse(bodies: &Bodies, bytes: &[u8], parsed: &mut usize) -> Arc<Json> {
        bodies
            .parse(bytes, |bytes| {
                *parsed += 1;
                serde_json::from_slice::<Json>(bytes)
            })
            .unwrap()
    }

    #[test]
    fn the_same_bytes_are_parsed_once_and_shared() {
        let bodies = Bodies::new(true);
        let mut parsed = 0;
        let first = parse(&bodies, &body(1, 1000), &mut parsed);
        let again = parse(&bodies, &body(1, 1000), &mut parsed);
        assert_eq!(parsed, 1);
        assert!(Arc::ptr_eq(&first, &again));
        // One byte apart (same length) is another body.
        let mut other = body(1, 1000);
        other[500] = b'y';
        let different = parse(&bodies, &other, &mut parsed);
        assert_eq!(parsed, 2);
        assert_ne!(first, different);
    }

    #[test]
    fn small_large_and_invalid_bodies_are_not_kept() {
        let bodies = Bodies::new(true);
        let mut parsed = 0;
        for bytes in [body(1, 100), body(2, MAX_LEN + 1)] {
            parse(&bodies, &bytes, &mut parsed);
            parse(&bodies, &bytes, &mut parsed);
        }
        assert_eq!(parsed, 4);
        assert!(bodies.parse(&[b'['; 300], |bytes| serde_json::from_slice::<Json>(bytes)).is_err());
        assert_eq!(bodies.kept(), (0, 0));
    }

    #[test]
    fn memory_is_bounded_and_the_least_recently_used_goes_first() {
        let bodies = Bodies::new(true);
        let mut parsed = 0;
        for n in 0..100 {
            parse(&bodies, &body(n, 1000), &mut parsed);
            // Body 0 stays in use, so it is never the one to go.
            parse(&bodies, &body(0, 1000), &mut parsed);
        }
        assert_eq!(parsed, 100);
        assert_eq!(bodies.kept().0, ENTRIES);
        for n in 0..20 {
            parse(&bodies, &body(n, 200 * 1024), &mut parsed);
        }
        let (entries, bytes) = bodies.kept();
        assert!(bytes <= BUDGET && entries <= ENTRIES, "{entries} bodies, {bytes} bytes");
    }

    #[test]
    fn off_means_every_body_is_parsed() {
        let bodies = Bodies::new(false);
        let mut parsed = 0;
        parse(&bodies, &body(1, 1000), &mut parsed);
        parse(&bodies, &body(1, 1000), &mut parsed);
        assert_eq!(parsed, 2);
        assert_eq!(bodies.kept(), (0, 0));
    }
}
