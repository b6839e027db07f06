//! The open documents: their text as the editor has it (full sync: each change brings the whole
//! text), the file each one is, and the last recipe decoded from it.
//!
//! A recipe keeps the last model that decoded, so completion and navigation go on working while
//! a line is half typed. This file does not check anything; `diagnostics.rs` does.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use lsp_types::Uri;

use crate::model::Recipe;

/// One open document.
pub(super) struct Document {
    pub(super) uri: Uri,
    pub(super) version: i32,
    pub(super) text: String,
    /// The file the document is, when its URI is a `file:` URI.
    pub(super) path: Option<PathBuf>,
    /// The last recipe decoded from the text: the current one, or an earlier one while the
    /// current text does not decode.
    pub(super) recipe: Option<Arc<Recipe>>,
}

impl Document {
    /// How diagnostics name the file: its path, from which the paths of `call` steps are read.
    pub(super) fn name(&self) -> String {
        self.path.as_ref().map_or_else(|| self.uri.as_str().to_owned(), |path| path.display().to_string())
    }

    /// Whether this is a recipe: a YAML file with `recipe:` at the top level.
    pub(super) fn is_recipe(&self) -> bool {
        self.text.lines().any(|line| line.strip_prefix("recipe:").is_some_and(|rest| rest.trim().starts_with('1')))
    }

    fn update(&mut self, version: i32, text: String) {
        self.version = version;
        self.text = text;
        if let Some(recipe) = decode(&self.text) {
            self.recipe = Some(Arc::new(recipe));
        }
    }
}

/// The recipe a text decodes to, even with problems the check reports, if it has a shape at all.
fn decode(text: &str) -> Option<Recipe> {
    let (root, _) = crate::yaml::parse(text).ok()?;
    crate::decode::decode_with_broken(&root).0
}

/// The documents the editor has open, by URI.
#[derive(Default)]
pub(super) struct Documents {
    open: HashMap<Uri, Document>,
}

impl Documents {
    pub(super) fn open(&mut self, uri: Uri, version: i32, text: String) {
        let path = url::Url::parse(uri.as_str()).ok().filter(|url| url.scheme() == "file").and_then(|url| url.to_file_path().ok());
        let mut document = Document { uri: uri.clone(), version, text: String::new(), path, recipe: None };
        document.update(version, text);
        self.open.insert(uri, document);
    }

    /// Replaces a document's text; a change to a document that is not open is ignored.
    pub(super) fn change(&mut self, uri: &Uri, version: i32, text: String) {
        if let Some(document) = self.open.get_mut(uri) {
            document.update(version, text);
        }
    }

    pub(super) fn close(&mut self, uri: &Uri) {
        self.open.remove(uri);
    }

    pub(super) fn get(&self, uri: &Uri) -> Option<&Document> {
        self.open.get(uri)
    }
}
