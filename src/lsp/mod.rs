//! `recipe lsp`: a Language Server Protocol server over stdio for recipe files (any YAML file
//! with `recipe: 1` at the top), built on rust-analyzer's `lsp-server` and `lsp-types`.
//!
//! This file is the server loop: the handshake, then each message to its handler, and the
//! diagnostics of changed documents published once the messages already waiting are handled
//! (edits that arrive together are checked once, at their last version: the debounce costs no
//! waiting). The check itself is the one `recipe check` runs (`diagnostics.rs`); completion,
//! hover and navigation read the decoded model and the JSON Schema.

mod completion;
mod diagnostics;
mod documents;
mod fixtures;
mod hover;
mod keys;
mod names;
mod navigation;
mod positions;

use std::collections::BTreeSet;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _, PublishDiagnostics};
use lsp_types::request::{Completion, GotoDefinition, HoverRequest, References, Rename, Request as _};
use lsp_types::{
    CompletionOptions, CompletionResponse, GotoDefinitionResponse, OneOf, PublishDiagnosticsParams, ServerCapabilities,
    TextDocumentSyncCapability, TextDocumentSyncKind, Uri,
};

use documents::Documents;
use fixtures::Fixtures;

/// Why the session with the editor ended before its `exit`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LspError {
    #[error("the editor did not start the session: {0}")]
    Start(lsp_server::ProtocolError),
    #[error("the editor broke the protocol: {0}")]
    Protocol(lsp_server::ProtocolError),
    #[error("the connection to the editor broke: {0}")]
    Broken(String),
}

/// Why a request has no answer; the editor is told as `InvalidParams`.
#[derive(Debug, thiserror::Error)]
enum RequestError {
    /// The parameters are not the request's (the library's description).
    #[error("{0}")]
    Params(String),
    #[error("cannot encode the answer: {0}")]
    Encode(#[from] serde_json::Error),
    #[error(transparent)]
    Name(#[from] navigation::NotAName),
}

/// Serves one editor on stdin and stdout until it says `exit`.
pub(crate) fn serve() -> Result<(), LspError> {
    let (connection, threads) = Connection::stdio();
    let capabilities = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some([".", "|", " "].map(str::to_owned).to_vec()),
            ..CompletionOptions::default()
        }),
        hover_provider: Some(lsp_types::HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Left(true)),
        ..ServerCapabilities::default()
    };
    let capabilities = serde_json::to_value(capabilities).unwrap_or_default();
    connection.initialize(capabilities).map_err(LspError::Start)?;
    Server::default().run(&connection)?;
    drop(connection);
    threads.join().map_err(|error| LspError::Broken(error.to_string()))
}

#[derive(Default)]
struct Server {
    documents: Documents,
    fixtures: Fixtures,
    /// Documents changed since their diagnostics were last published.
    changed: BTreeSet<Uri>,
}

impl Server {
    fn run(&mut self, connection: &Connection) -> Result<(), LspError> {
        loop {
            let message = if self.changed.is_empty() {
                match connection.receiver.recv() {
                    Ok(message) => message,
                    Err(_) => return Ok(()),
                }
            } else {
                match connection.receiver.try_recv() {
                    Ok(message) => message,
                    Err(error) if error.is_empty() => {
                        self.publish(connection);
                        continue;
                    }
                    Err(_) => return Ok(()),
                }
            };
            match message {
                Message::Request(request) => {
                    if connection.handle_shutdown(&request).map_err(LspError::Protocol)? {
                        return Ok(());
                    }
                    // A bug in one answer must not end the editor's session: it gets an error.
                    let id = request.id.clone();
                    let response = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.answer(request))).unwrap_or_else(|_| {
                        Response::new_err(id, ErrorCode::InternalError as i32, "recipe lsp failed to answer; see its log".to_owned())
                    });
                    connection.sender.send(response.into()).map_err(|error| LspError::Broken(error.to_string()))?;
                }
                Message::Notification(notification) => self.notice(notification),
                Message::Response(_) => {}
            }
        }
    }

    /// The diagnostics of every changed document that is still open.
    fn publish(&mut self, connection: &Connection) {
        for uri in std::mem::take(&mut self.changed) {
            let (diagnostics, version) = match self.documents.get(&uri) {
                Some(document) => {
                    let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| diagnostics::of(document)));
                    (found.unwrap_or_default(), Some(document.version))
                }
                None => (Vec::new(), None),
            };
            let params = PublishDiagnosticsParams { uri, diagnostics, version };
            let _ = connection.sender.send(Notification::new(PublishDiagnostics::METHOD.to_owned(), params).into());
        }
    }

    fn notice(&mut self, notification: Notification) {
        match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                if let Ok(params) = notification.extract::<lsp_types::DidOpenTextDocumentParams>(DidOpenTextDocument::METHOD) {
                    let document = params.text_document;
                    self.changed.insert(document.uri.clone());
                    self.documents.open(document.uri, document.version, document.text);
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Ok(params) = notification.extract::<lsp_types::DidChangeTextDocumentParams>(DidChangeTextDocument::METHOD)
                    && let Some(change) = params.content_changes.into_iter().next_back()
                {
                    let document = params.text_document;
                    self.documents.change(&document.uri, document.version, change.text);
                    self.changed.insert(document.uri);
                }
            }
            DidCloseTextDocument::METHOD => {
                if let Ok(params) = notification.extract::<lsp_types::DidCloseTextDocumentParams>(DidCloseTextDocument::METHOD) {
                    self.documents.close(&params.text_document.uri);
                    self.changed.insert(params.text_document.uri);
                }
            }
            _ => {}
        }
    }

    fn answer(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            Completion::METHOD => self.with::<Completion, _>(request, |server, params| {
                let place = params.text_document_position;
                let document = server.documents.get(&place.text_document.uri)?;
                Some(CompletionResponse::Array(completion::complete(document, &mut server.fixtures, place.position)))
            }),
            HoverRequest::METHOD => self.with::<HoverRequest, _>(request, |server, params| {
                let place = params.text_document_position_params;
                let document = server.documents.get(&place.text_document.uri)?;
                hover::hover(document, &mut server.fixtures, place.position)
            }),
            GotoDefinition::METHOD => self.with::<GotoDefinition, _>(request, |server, params| {
                let place = params.text_document_position_params;
                let document = server.documents.get(&place.text_document.uri)?;
                navigation::definition(document, place.position).map(GotoDefinitionResponse::Scalar)
            }),
            References::METHOD => self.with::<References, _>(request, |server, params| {
                let place = params.text_document_position;
                let document = server.documents.get(&place.text_document.uri)?;
                Some(navigation::references(document, place.position, params.context.include_declaration))
            }),
            Rename::METHOD => {
                let params = match request.extract::<lsp_types::RenameParams>(Rename::METHOD) {
                    Ok((_, params)) => params,
                    Err(error) => return Response::new_err(id, ErrorCode::InvalidParams as i32, format!("{error:?}")),
                };
                let place = params.text_document_position;
                let Some(document) = self.documents.get(&place.text_document.uri) else { return Response::new_ok(id, ()) };
                navigation::rename(document, place.position, &params.new_name)
                    .map_err(RequestError::from)
                    .and_then(|edit| Ok(serde_json::to_value(edit)?))
            }
            _ => return Response::new_err(id, ErrorCode::MethodNotFound as i32, format!("unsupported request `{}`", request.method)),
        };
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err(error) => Response::new_err(id, ErrorCode::InvalidParams as i32, error.to_string()),
        }
    }

    /// Decodes a request's parameters, answers with `handle`, and encodes its answer (`null` for
    /// none).
    fn with<R: lsp_types::request::Request, T: serde::Serialize>(
        &mut self,
        request: Request,
        handle: impl FnOnce(&mut Self, R::Params) -> Option<T>,
    ) -> Result<serde_json::Value, RequestError> {
        let (_, params) = request.extract::<R::Params>(R::METHOD).map_err(|error| RequestError::Params(format!("{error:?}")))?;
        Ok(serde_json::to_value(handle(self, params))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lsp_types::Position;

    /// Every request at places all over the draft recipe, whole and cut in the middle of a line,
    /// answers without a panic.
    #[test]
    fn no_place_in_the_draft_recipe_breaks_a_request() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes/draft.yaml");
        let whole = std::fs::read_to_string(&path).unwrap();
        let cut = whole[..whole.len() / 2].to_owned();
        let uri: Uri = url::Url::from_file_path(&path).unwrap().as_str().parse().unwrap();
        let mut fixtures = Fixtures::default();
        // The whole file every 13 characters; the cut one every 2 near the cut.
        let cut_lines = cut.split('\n').count();
        for (text, from_line, step) in [(whole, 0, 13), (cut, cut_lines.saturating_sub(20), 2)] {
            let mut documents = Documents::default();
            documents.open(uri.clone(), 1, text.clone());
            let document = documents.get(&uri).unwrap();
            let _ = diagnostics::of(document);
            for (line, content) in text.split('\n').enumerate().skip(from_line) {
                let width = u32::try_from(content.encode_utf16().count()).unwrap();
                for character in (0..=width + 1).step_by(step) {
                    let at = Position::new(u32::try_from(line).unwrap(), character);
                    let _ = completion::complete(document, &mut fixtures, at);
                    let _ = hover::hover(document, &mut fixtures, at);
                    let _ = navigation::definition(document, at);
                    let _ = navigation::references(document, at, true);
                }
            }
        }
    }
}
