//! Diagnostics as you type: the document checked as `recipe check` checks a file (the same
//! [`crate::check::load_str`], so every problem it finds, with its place and hints), turned
//! into the editor's diagnostics.
//!
//! A problem in a called recipe is reported in that recipe's file; here it is shown on the `call`
//! step that runs it, saying where it is. This file decides nothing about what is wrong.

use std::path::Path;

use lsp_types::{DiagnosticSeverity, Range};

use super::documents::Document;
use super::positions::range_of;
use crate::diagnostic::{Diagnostic, Span};
use crate::model::Action;

/// Every problem of the document, as the editor shows them; none for a sound recipe.
pub(super) fn of(document: &Document) -> Vec<lsp_types::Diagnostic> {
    if !document.is_recipe() {
        return Vec::new();
    }
    let name = document.name();
    let report = match crate::check::load_str(&name, &document.text) {
        Ok(plan) => return plan.warnings.iter().map(|warning| convert(&document.text, warning, warning.span, "")).collect(),
        Err(report) => report,
    };
    if report.source.name == name {
        return report.diagnostics.iter().map(|problem| convert(&document.text, problem, problem.span, "")).collect();
    }
    // A called recipe's problem: on each call step that runs that file.
    let folder = Path::new(&name).parent().map(Path::to_path_buf).unwrap_or_default();
    let calls: Vec<Span> = document
        .recipe
        .iter()
        .flat_map(|recipe| recipe.steps.iter())
        .filter_map(|step| match &step.action {
            Action::Call(call) if folder.join(&call.recipe).display().to_string() == report.source.name => Some(call.recipe_span),
            _ => None,
        })
        .collect();
    let places = if calls.is_empty() { vec![Span::new(1, 1, 1)] } else { calls };
    places
        .iter()
        .flat_map(|place| {
            report.diagnostics.iter().map(|problem| {
                let at = problem.span.map_or_else(String::new, |span| format!(":{}:{}", span.line, span.col));
                convert(&document.text, problem, Some(*place), &format!("in the called recipe {}{at}: ", report.source.name))
            })
        })
        .collect()
}

/// One problem as the editor shows it: the message, then the label and the hints on their own
/// lines, as the terminal shows them.
fn convert(text: &str, problem: &Diagnostic, span: Option<Span>, prefix: &str) -> lsp_types::Diagnostic {
    let range = span.map_or_else(Range::default, |span| range_of(text, span));
    let mut message = format!("{prefix}{}", problem.message);
    if let Some(label) = &problem.label {
        message.push_str(&format!("\n{label}"));
    }
    for hint in &problem.hints {
        message.push_str(&format!("\nhint: {hint}"));
    }
    lsp_types::Diagnostic {
        range,
        severity: Some(match problem.severity {
            crate::diagnostic::Severity::Error => DiagnosticSeverity::ERROR,
            crate::diagnostic::Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        source: Some("recipe".to_owned()),
        message,
        ..lsp_types::Diagnostic::default()
    }
}
