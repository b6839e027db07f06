//! `recipe export arazzo FILE`: a recipe as an Arazzo workflow, with the OpenAPI description of
//! the endpoints it calls beside it (or pointing into an existing one, `--openapi`). What the
//! workflow cannot express is printed as warnings.

use std::path::{Component, Path, PathBuf};

use super::output::{Failure, Outcome, say, write_stdout};
use crate::arazzo::{ArazzoError, Source};
use crate::exit::Exit;
use crate::files::{no_overwriting, read_input, writable};

pub(super) fn arazzo(file: &Path, output: Option<&Path>, openapi: Option<&Path>) -> Outcome {
    let plan = super::load_plan(file)?;
    let openapi_name = format!("{}.openapi.yaml", stem(output.unwrap_or(file)));
    let openapi_path = output.filter(|_| openapi.is_none()).map(|path| path.with_file_name(&openapi_name));
    no_overwriting(
        &[("the output", output), ("the OpenAPI description", openapi_path.as_deref())],
        &[("the recipe", Some(file)), ("the OpenAPI description", openapi)],
    )
    .map_err(Failure::usage)?;
    for path in output.into_iter().chain(openapi_path.as_deref()) {
        writable(path, "the output").map_err(Failure::usage)?;
    }
    let source = match openapi {
        Some(described) => {
            let text = read_input(described).map_err(Failure::usage)?;
            let document: serde_json::Value = crate::yaml::from_str(&text)
                .map_err(|error| fail(&ArazzoError::Unreadable { file: described.display().to_string(), message: error.to_string() }))?;
            if document.get("openapi").is_none() || !document["paths"].is_object() {
                let message = "not an OpenAPI 3 description (no `openapi` version or no `paths`)".to_owned();
                return Err(fail(&ArazzoError::Unreadable { file: described.display().to_string(), message }));
            }
            Source::Existing { url: relative_url(described, output), document }
        }
        None => Source::Written(format!("./{openapi_name}")),
    };
    let export = crate::arazzo::export(&plan, &source).map_err(|error| fail(&error))?;
    for warning in &export.warnings {
        say(&format!("warning: {warning}"));
    }
    let name = &plan.recipe().name;
    let arazzo = crate::emit::json_document(
        &[format!("The recipe `{name}` as an Arazzo workflow, written by `recipe export arazzo`.")],
        &export.arazzo,
    );
    let Some(path) = output else {
        if export.openapi.is_some() {
            say(&format!("note: the OpenAPI description `{openapi_name}` it names is written only with `-o FILE`"));
        }
        return write_stdout(&arazzo);
    };
    fs_err::write(path, &arazzo).map_err(Failure::usage)?;
    match (export.openapi, openapi_path) {
        (Some(document), Some(openapi_path)) => {
            let openapi = crate::emit::json_document(
                &[format!("The endpoints the recipe `{name}` calls, written by `recipe export arazzo` for its Arazzo workflow.")],
                &document,
            );
            fs_err::write(&openapi_path, openapi).map_err(Failure::usage)?;
            say(&format!("wrote {} and {}", path.display(), openapi_path.display()));
        }
        _ => say(&format!("wrote {}", path.display())),
    }
    Ok(Exit::Success)
}

fn fail(error: &ArazzoError) -> Failure {
    Failure::error(error, error.exit())
}

/// Where the Arazzo document finds the OpenAPI description `described`: relative to the folder
/// the document is written in (the current one for stdout), or absolute when no relative path
/// leads there.
fn relative_url(described: &Path, output: Option<&Path>) -> String {
    let absolute = |path: &Path| std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let target = absolute(described);
    let folder = output.and_then(Path::parent).map_or_else(|| absolute(Path::new(".")), absolute);
    let (target_parts, folder_parts): (Vec<Component>, Vec<Component>) = (target.components().collect(), folder.components().collect());
    let common = target_parts.iter().zip(&folder_parts).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return target.display().to_string();
    }
    let mut relative = PathBuf::new();
    for _ in common..folder_parts.len() {
        relative.push("..");
    }
    relative.extend(&target_parts[common..]);
    let text = relative.to_string_lossy().replace('\\', "/");
    if text.starts_with("..") { text } else { format!("./{text}") }
}

/// A file's name without its recipe or Arazzo extension.
fn stem(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    [".arazzo.yaml", ".arazzo.yml", ".yaml", ".yml"].iter().find_map(|suffix| name.strip_suffix(suffix).map(str::to_owned)).unwrap_or(name)
}
