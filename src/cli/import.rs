//! `recipe import curl FILE` and `recipe import arazzo FILE`: curl commands, or an Arazzo workflow,
//! into a recipe, which must pass `recipe check`.

use std::path::Path;

use super::output::{Failure, Outcome, out, say};
use crate::exit::Exit;
use crate::files::{no_overwriting, read_input, writable};

pub(super) fn curl(file: &Path, output: Option<&Path>, name: Option<&str>) -> Outcome {
    no_overwriting(&[("the output", output)], &[("the curl text", Some(file))]).map_err(Failure::usage)?;
    if let Some(path) = output {
        writable(path, "the output").map_err(Failure::usage)?;
    }
    let text = read_input(file).map_err(Failure::usage)?;
    let stdin = file == Path::new("-");
    let source = if stdin {
        "stdin".to_owned()
    } else {
        file.file_name().map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into_owned())
    };
    let default_name = if stdin {
        "imported".to_owned()
    } else {
        file.file_stem().map_or_else(|| "imported".into(), |s| s.to_string_lossy().into_owned())
    };
    let imported = crate::curl::import(&text, name.unwrap_or(&default_name), &source)
        .map_err(|message| Failure::usage(format!("{}: {message}", if stdin { "stdin".into() } else { file.display().to_string() })))?;
    if let Some(exit) = deliver(&imported.yaml, &imported.warnings, output, "the curl text")? {
        return Ok(exit);
    }
    let secrets = imported.env.iter().filter(|(_, secret)| *secret).count();
    say(&format!(
        "imported {} curl command(s){}: {} input(s), {} environment variable(s) ({secrets} secret); `recipe check` it after editing",
        imported.steps.len(),
        output.map(|path| format!(" into {}", path.display())).unwrap_or_default(),
        imported.inputs.len(),
        imported.env.len()
    ));
    Ok(Exit::Success)
}

/// `recipe import arazzo FILE`: an Arazzo workflow into a recipe, which must pass `recipe check`.
pub(super) fn arazzo(file: &Path, output: Option<&Path>, workflow: Option<&str>) -> Outcome {
    no_overwriting(&[("the output", output)], &[("the Arazzo document", Some(file))]).map_err(Failure::usage)?;
    if let Some(path) = output {
        writable(path, "the output").map_err(Failure::usage)?;
    }
    let fail = |error: crate::arazzo::ArazzoError| Failure::error(&error, error.exit());
    let documents = crate::arazzo::import::read(file).map_err(fail)?;
    let default_name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let default_name = default_name.split('.').next().filter(|n| !n.is_empty()).unwrap_or("imported").to_owned();
    let imported = crate::arazzo::import::recipe(&documents, workflow, &default_name).map_err(fail)?;
    if let Some(exit) = deliver(&imported.yaml, &imported.warnings, output, "the Arazzo document")? {
        return Ok(exit);
    }
    say(&format!(
        "imported {} step(s){}{}",
        imported.steps,
        output.map(|path| format!(" into {}", path.display())).unwrap_or_default(),
        if imported.warnings.is_empty() { String::new() } else { format!(", with {} warning(s)", imported.warnings.len()) }
    ));
    Ok(Exit::Success)
}

/// Says the import's warnings, writes the recipe to `output` (stdout without one), and checks it
/// as any recipe is checked: an imported recipe that fails is a bug of the importer, reported
/// with `source` (what to send with the report). `Some` status when it fails.
fn deliver(yaml: &str, warnings: &[String], output: Option<&Path>, source: &str) -> Result<Option<Exit>, Failure> {
    for warning in warnings {
        say(&format!("warning: {warning}"));
    }
    match output {
        Some(path) => fs_err::write(path, yaml).map_err(Failure::usage)?,
        None => out(yaml).map_err(|error| Failure::usage(format!("cannot write to stdout: {error}")))?,
    }
    let shown = output.map_or_else(|| "recipe".to_owned(), |path| path.display().to_string());
    if let Err(report) = crate::check::load_str(&shown, yaml) {
        say(&format!("{report}"));
        say(&format!("error: the imported recipe does not pass `recipe check`; please report this with {source}"));
        return Ok(Some(Exit::InvalidRecipe));
    }
    Ok(None)
}
