//! `recipe export arazzo FILE`: a recipe as an Arazzo workflow, with the OpenAPI description of
//! the endpoints it calls beside it.

use std::path::Path;

use super::output::{Failure, Outcome, say, write_stdout};
use crate::exit::Exit;
use crate::files::{no_overwriting, writable};

pub(super) fn arazzo(file: &Path, output: Option<&Path>) -> Outcome {
    let plan = super::load_plan(file)?;
    let openapi_name = format!("{}.openapi.yaml", stem(output.unwrap_or(file)));
    let openapi_path = output.map(|path| path.with_file_name(&openapi_name));
    no_overwriting(&[("the output", output), ("the OpenAPI description", openapi_path.as_deref())], &[("the recipe", Some(file))])
        .map_err(Failure::usage)?;
    for path in output.into_iter().chain(openapi_path.as_deref()) {
        writable(path, "the output").map_err(Failure::usage)?;
    }
    let export = crate::arazzo::export(&plan, &format!("./{openapi_name}")).map_err(Failure::usage)?;
    let name = &plan.recipe().name;
    let arazzo = crate::emit::json_document(
        &[format!("The recipe `{name}` as an Arazzo workflow, written by `recipe export arazzo`.")],
        &export.arazzo,
    );
    let openapi = crate::emit::json_document(
        &[format!("The endpoints the recipe `{name}` calls, written by `recipe export arazzo` for its Arazzo workflow.")],
        &export.openapi,
    );
    let (Some(path), Some(openapi_path)) = (output, openapi_path) else {
        say(&format!("note: the OpenAPI description `{openapi_name}` it names is written only with `-o FILE`"));
        return write_stdout(&arazzo);
    };
    for (target, text) in [(path, &arazzo), (openapi_path.as_path(), &openapi)] {
        fs_err::write(target, text).map_err(Failure::usage)?;
    }
    say(&format!("wrote {} and {}", path.display(), openapi_path.display()));
    Ok(Exit::Success)
}

/// A file's name without its recipe or Arazzo extension.
fn stem(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    [".arazzo.yaml", ".arazzo.yml", ".yaml", ".yml"].iter().find_map(|suffix| name.strip_suffix(suffix).map(str::to_owned)).unwrap_or(name)
}
