//! `recipe import curl FILE`: curl commands into a recipe skeleton, which must pass `recipe check`.

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
    for warning in &imported.warnings {
        say(&format!("warning: {warning}"));
    }
    match output {
        Some(path) => fs_err::write(path, &imported.yaml).map_err(Failure::usage)?,
        None => out(&imported.yaml).map_err(|error| Failure::usage(format!("cannot write to stdout: {error}")))?,
    }
    let shown = output.map_or_else(|| "recipe".to_owned(), |path| path.display().to_string());
    // The skeleton must pass the same checks as any recipe; if it does not, that is a bug here.
    if let Err(report) = crate::check::load_str(&shown, &imported.yaml) {
        say(&format!("{report}"));
        say("error: the imported recipe does not pass `recipe check`; please report this with the curl text");
        return Ok(Exit::InvalidRecipe);
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
