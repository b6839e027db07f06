//! `recipe serve FIXTURE...`: the recorded responses over HTTP on 127.0.0.1, until Ctrl-C.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::output::{Failure, Outcome, say};
use crate::exit::Exit;
use crate::fixture::Fixture;

pub(super) fn command(files: &[PathBuf], port: u16) -> Outcome {
    let fixtures = files.iter().map(|file| Fixture::read(file)).collect::<Result<Vec<_>, _>>().map_err(Failure::usage)?;
    let listing = crate::serve::describe(&fixtures);
    let hint = files.first().and_then(|file| hint(file));
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let server = crate::serve::start(fixtures, port).await.map_err(|error| Failure::error(&error, error.exit()))?;
        say(&format!("serving {} recorded request(s) on http://{}", listing.len(), server.address));
        for (request, count) in &listing {
            say(&format!("  {request}{}", if *count > 1 { format!(" (x{count})") } else { String::new() }));
        }
        let address = format!("http://{}", server.address);
        match &hint {
            Some((recipe, variable, inputs)) => say(&format!("try: {variable}={address} recipe run {recipe}{inputs}")),
            None => say(&format!("try: point the recipe's `http.base_url` at {address}")),
        }
        let _ = tokio::signal::ctrl_c().await;
        Ok(Exit::Success)
    })
}

/// For a fixture in a recipe's fixture folder: the command that runs its recipe against the
/// server (the recipe, the base URL's environment variable, and the fixture's required inputs).
fn hint(fixture: &Path) -> Option<(String, String, String)> {
    let recipe = crate::testing::recipe_of(fixture).ok()?;
    let plan = crate::check::load(&recipe).ok()?;
    let base = plan.recipe().http.base_url.as_ref()?;
    let variable = regex::Regex::new(r"env\.([A-Za-z_][A-Za-z0-9_]*)").ok()?.captures(&base.text)?.get(1)?.as_str().to_owned();
    let inputs = Fixture::read(fixture)
        .ok()?
        .inputs
        .into_iter()
        .filter(|(name, _)| plan.recipe().inputs.iter().any(|input| input.name.text == *name && input.is_required()))
        .fold(String::new(), |mut line, (name, value)| {
            let _ = write!(line, " --var {name}={}", value.as_str().map_or_else(|| value.to_string(), str::to_owned));
            line
        });
    Some((recipe.display().to_string(), variable, inputs))
}
