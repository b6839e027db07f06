//! `recipe check FILE...`: every problem of every recipe, with its place; nothing is sent.

use std::path::PathBuf;

use super::output::{Ui, say};
use crate::exit::Exit;

pub(super) fn command(files: &[PathBuf], ui: Ui) -> Exit {
    let mut worst = Exit::Success;
    for (index, file) in files.iter().enumerate() {
        let plan = match super::load_plan(file) {
            Ok(plan) => plan,
            Err(failure) => {
                worst = worst.worst(failure.print());
                continue;
            }
        };
        for warning in &plan.warnings {
            say(warning.render(&plan.source).trim_end());
        }
        if !ui.quiet {
            let warned = match plan.warnings.len() {
                0 => String::new(),
                1 => ", 1 warning".to_owned(),
                count => format!(", {count} warnings"),
            };
            say(&format!("{}: ok ({} steps{warned})", file.display(), plan.recipe().steps.len()));
        }
        // Only the last plan: memory must not grow with the number of files.
        if index + 1 == files.len() {
            super::leave_to_exit(plan);
        }
    }
    worst
}
