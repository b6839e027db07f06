//! A projection: the parts of a JSON document that are read, as a tree of object keys, array
//! indexes and wildcards, each ending in a subtree read whole.
//!
//! The check finds what a recipe reads from each response body (`src/reads.rs`); the parser
//! (`src/json/`) then builds only those parts and skips the rest. This file owns the tree
//! itself: how read paths are added to it and what it keeps of a document. It knows nothing
//! about recipes or parsing.

use std::collections::BTreeMap;

/// One step of a read path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// An object's member.
    Key(String),
    /// An array's element (a negative index is [`Segment::Every`]: it counts from the end).
    Index(usize),
    /// Every element of an array and every member of an object.
    Every,
}

/// The bit of [`Projection::key_lengths`] for `key`.
fn length_bit(key: &str) -> u64 {
    1 << key.len().min(63)
}

/// What is read of one value: all of it, or some of its members and elements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Projection {
    whole: bool,
    keys: BTreeMap<String, Projection>,
    /// The lengths of `keys` (bit `n` for length `n`, bit 63 for 63 and more): most members a
    /// parse meets are not read, and their length alone says so.
    key_lengths: u64,
    indexes: BTreeMap<usize, Projection>,
    every: Option<Box<Projection>>,
}

impl Projection {
    /// The whole value.
    pub(crate) fn whole() -> Self {
        Self { whole: true, ..Self::default() }
    }

    pub(crate) fn is_whole(&self) -> bool {
        self.whole
    }

    /// Reads the subtree at `path` whole.
    pub(crate) fn read(&mut self, path: &[Segment]) {
        let node = self.node(path);
        *node = Self::whole();
    }

    /// The node at `path`, made when missing (inside a subtree read whole, that subtree).
    pub(crate) fn node(&mut self, path: &[Segment]) -> &mut Projection {
        let Some((first, rest)) = path.split_first() else { return self };
        if self.whole {
            return self;
        }
        let child = match first {
            Segment::Key(key) => {
                self.key_lengths |= length_bit(key);
                self.keys.entry(key.clone()).or_default()
            }
            Segment::Index(index) => self.indexes.entry(*index).or_default(),
            Segment::Every => self.every.get_or_insert_with(Box::default),
        };
        child.node(rest)
    }

    /// Adds everything `other` reads.
    pub(crate) fn merge(&mut self, other: &Projection) {
        if self.whole {
            return;
        }
        if other.whole {
            *self = Self::whole();
            return;
        }
        self.key_lengths |= other.key_lengths;
        for (key, child) in &other.keys {
            self.keys.entry(key.clone()).or_default().merge(child);
        }
        for (index, child) in &other.indexes {
            self.indexes.entry(*index).or_default().merge(child);
        }
        if let Some(every) = &other.every {
            self.every.get_or_insert_with(Box::default).merge(every);
        }
    }

    /// Ready for the parser: every member and element named on its own also gets what the
    /// wildcard beside it reads, so that each child is looked up once. Call once, when built.
    pub(crate) fn settle(mut self) -> Self {
        if self.whole {
            return Self::whole();
        }
        let every = self.every.take().map(|every| every.settle());
        let with_every = |child: Projection| match &every {
            Some(every) => {
                let mut child = child;
                child.merge(every);
                child.settle()
            }
            None => child.settle(),
        };
        self.keys = std::mem::take(&mut self.keys).into_iter().map(|(key, child)| (key, with_every(child))).collect();
        self.indexes = std::mem::take(&mut self.indexes).into_iter().map(|(index, child)| (index, with_every(child))).collect();
        self.every = every.map(Box::new);
        self
    }

    /// Whether anything at `path` or inside it is read (a whole read of an ancestor reads it).
    pub(crate) fn reads_within(&self, path: &[Segment]) -> bool {
        if self.whole {
            return true;
        }
        let Some((first, rest)) = path.split_first() else {
            return self.every.is_some() || !self.keys.is_empty() || !self.indexes.is_empty();
        };
        let child = match first {
            Segment::Key(key) => self.keys.get(key),
            Segment::Index(index) => self.indexes.get(index),
            Segment::Every => None,
        };
        child.is_some_and(|child| child.reads_within(rest)) || self.every.as_ref().is_some_and(|every| every.reads_within(rest))
    }

    /// What is read of an object's member `key`; `None` when it is not read.
    pub(crate) fn member(&self, key: &str) -> Option<&Projection> {
        if self.whole {
            return Some(self);
        }
        if self.key_lengths & length_bit(key) == 0 {
            return self.every.as_deref();
        }
        self.keys.get(key).or(self.every.as_deref())
    }

    /// What is read of an array's element `index`; `None` when it is not read.
    pub(crate) fn element(&self, index: usize) -> Option<&Projection> {
        if self.whole {
            return Some(self);
        }
        self.indexes.get(&index).or(self.every.as_deref())
    }

    /// The value as far as it is read: the members not read are left out, the elements not
    /// read are `null` (so that indexes and lengths stay). The parser builds the same value
    /// directly from the text; this is its definition, for tests.
    #[cfg(test)]
    pub(crate) fn apply(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value as Json;
        match value {
            _ if self.whole => value.clone(),
            Json::Object(map) => {
                Json::Object(map.iter().filter_map(|(key, child)| Some((key.clone(), self.member(key)?.apply(child)))).collect())
            }
            Json::Array(items) => Json::Array(
                items.iter().enumerate().map(|(index, item)| self.element(index).map_or(Json::Null, |read| read.apply(item))).collect(),
            ),
            scalar => scalar.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key(name: &str) -> Segment {
        Segment::Key(name.to_owned())
    }

    #[test]
    fn members_not_read_go_and_elements_not_read_are_null() {
        let mut projection = Projection::default();
        projection.read(&[key("customers"), Segment::Every, key("uuid")]);
        projection.read(&[key("customers"), Segment::Index(1), key("name")]);
        projection.read(&[key("total")]);
        let projection = projection.settle();
        let document = json!({
            "customers": [{"uuid": "a", "name": "A", "x": 1}, {"uuid": "b", "name": "B", "x": 2}],
            "total": {"n": 2},
            "other": [1, 2]
        });
        assert_eq!(projection.apply(&document), json!({"customers": [{"uuid": "a"}, {"uuid": "b", "name": "B"}], "total": {"n": 2}}));
        let mut first = Projection::default();
        first.read(&[key("other"), Segment::Index(1)]);
        assert_eq!(first.settle().apply(&document), json!({"other": [null, 2]}));
    }

    #[test]
    fn a_whole_read_covers_every_narrower_one() {
        let mut projection = Projection::default();
        projection.read(&[key("a"), key("b")]);
        projection.read(&[key("a")]);
        projection.read(&[key("a"), key("c")]);
        assert!(projection.member("a").unwrap().is_whole());
        let mut merged = Projection::default();
        merged.merge(&projection);
        merged.merge(&Projection::whole());
        assert!(merged.is_whole());
    }
}
