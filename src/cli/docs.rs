//! What the command line says about itself, generated from its clap definition so that it cannot
//! drift: `recipe completions`, `recipe man` (with the exit statuses and examples clap does not
//! know), `recipe schema`, and [`reference`], the text of `docs/cli.md`.

use std::fmt::Write as _;

use super::args::command_line;
use super::output::{Failure, Outcome, write_stdout};
use crate::exit::Exit;

/// One example per command: the command's path (`import curl`), what the example does, and the
/// command line.
const EXAMPLES: &[(&str, &str, &str)] = &[
    (
        "run",
        "Run a recipe, recording every exchange to a new test case",
        "recipe run recipes/draft.yaml --vars my-inputs.yaml --record recipes/fixtures/draft/smith.yaml",
    ),
    ("check", "Check every shipped recipe without sending anything", "recipe check recipes/*.yaml"),
    ("test", "Replay every case and write the snapshots of new or changed ones", "recipe test --accept"),
    ("serve", "Stand in for the API with a recorded case", "recipe serve recipes/fixtures/draft/happy_path.yaml --port 8080"),
    ("schema", "Write the JSON Schema for an editor", "recipe schema > recipe.schema.json"),
    ("completions", "Install the bash completions", "recipe completions bash > ~/.local/share/bash-completion/completions/recipe"),
    ("man", "Read the page of `recipe run`", "recipe man run > recipe-run.1 && man ./recipe-run.1"),
    ("import curl", "Turn the curl commands of a vendor's docs into a recipe", "recipe import curl vendor-docs.txt -o recipes/vendor.yaml"),
    (
        "import arazzo",
        "Turn an Arazzo workflow into a recipe",
        "recipe import arazzo museum.arazzo.yaml --workflow events-crud -o recipes/museum.yaml",
    ),
    (
        "export arazzo",
        "Write the recipe as an Arazzo workflow and its OpenAPI description",
        "recipe export arazzo recipes/draft.yaml -o draft.arazzo.yaml",
    ),
    (
        "export arazzo",
        "Point the workflow at the API's own OpenAPI description",
        "recipe export arazzo recipes/draft.yaml --openapi mykaarma.openapi.yaml -o draft.arazzo.yaml",
    ),
];

pub(super) fn schema() -> Outcome {
    write_stdout(&serde_json::to_string_pretty(&crate::model::schema()).unwrap_or_default())
}

pub(super) fn completions(shell: clap_complete::Shell) -> Outcome {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command_line(), "recipe", &mut script);
    write_stdout(&String::from_utf8_lossy(&script))
}

/// `recipe man [SUBCOMMAND]`: `clap_mangen`'s page, with the EXAMPLES and EXIT STATUS sections.
pub(super) fn man(subcommand: Option<&str>) -> Outcome {
    // Pages name their subcommands' pages (`recipe-import-curl(1)`), so those can be printed
    // (`recipe man import-curl`); `help` is not a page of its own.
    let root = command_line().disable_help_subcommand(true);
    let (page, path) = if let Some(name) = subcommand {
        let mut found = &root;
        for part in name.split(['-', ' ']) {
            found = found.find_subcommand(part).ok_or_else(|| {
                let names: Vec<String> = pages(&root, "").into_iter().map(|name| format!("`{name}`")).collect();
                Failure::usage(format!("no page `{name}`; the pages are {}", names.join(", ")))
            })?;
        }
        let dashed = name.replace(' ', "-");
        let path = dashed.replace('-', " ");
        let page = found.clone().disable_help_subcommand(true).name(format!("recipe-{dashed}")).bin_name(format!("recipe {path}"));
        (page, path)
    } else {
        (root, String::new())
    };
    let roff = render_man(&page, &path).map_err(|error| Failure::usage(format!("cannot render the man page: {error}")))?;
    write_stdout(&roff)
}

/// `clap_mangen`'s page, with EXAMPLES and EXIT STATUS before its VERSION section (or at its end);
/// `path` is the subcommand's (`import curl`), empty for `recipe(1)`.
fn render_man(command: &clap::Command, path: &str) -> std::io::Result<String> {
    let mut page = clap_mangen::Man::new(command.clone());
    if !path.is_empty() {
        page = page.source(format!("recipe {}", env!("CARGO_PKG_VERSION")));
    }
    let mut roff = Vec::new();
    page.render(&mut roff)?;
    let mut text = String::from_utf8_lossy(&roff).into_owned();
    let mut sections = String::from(".SH EXAMPLES\n");
    for (_, what, line) in EXAMPLES.iter().filter(|(of, ..)| path.is_empty() || *of == path || of.starts_with(&format!("{path} "))) {
        let _ = write!(sections, ".PP\n{}\n.PP\n.RS 4\n.nf\n{}\n.fi\n.RE\n", roff_text(what), roff_text(line));
    }
    sections += ".SH \"EXIT STATUS\"\n";
    for exit in Exit::ALL {
        let _ = write!(sections, ".TP\n\\fB{}\\fR\n{}\n", exit.code(), roff_text(exit.meaning()));
    }
    let at = text.find("\n.SH VERSION\n").map_or(text.len(), |at| at + 1);
    text.insert_str(at, &sections);
    Ok(text)
}

/// Text as roff prints it: backslashes and minus signs escaped, no line taken for a request.
fn roff_text(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) { format!("\\&{escaped}") } else { escaped }
}

/// The names `recipe man` takes: every subcommand, nested ones joined by `-`.
fn pages(command: &clap::Command, prefix: &str) -> Vec<String> {
    let mut names = Vec::new();
    for sub in command.get_subcommands().filter(|sub| sub.get_name() != "help") {
        let name = format!("{prefix}{}", sub.get_name());
        names.push(name.clone());
        names.extend(pages(sub, &format!("{name}-")));
    }
    names
}

/// The text of `docs/cli.md`: every command's usage, arguments and options with their help, an
/// example of each, and the exit statuses. `tests/it/cli_docs.rs` fails when the file differs.
pub fn reference() -> String {
    let mut root = command_line().disable_help_subcommand(true);
    root.build();
    let mut text = String::from("# The `recipe` command line\n\n");
    text += "<!-- Generated from the clap definition (src/cli/args.rs) by `UPDATE_DOCS=1 cargo test --test it cli_docs`; \
             do not edit by hand. -->\n\n";
    let _ = writeln!(text, "{}\n", help_of(&root));
    let _ = writeln!(text, "```text\n{}\n```\n", usage(&root));
    text += "## Commands\n\n";
    for sub in root.get_subcommands() {
        let _ = writeln!(text, "- [`recipe {0}`](#recipe-{0}): {1}", sub.get_name(), first_line(&help_of(sub)));
    }
    text += "\n## Global options\n\nEvery command takes these.\n\n";
    for arg in root.get_arguments().filter(|arg| arg.is_global_set()) {
        text += &argument(arg);
    }
    text += "\n## Exit status\n\n| Code | Meaning |\n| ---: | --- |\n";
    for exit in Exit::ALL {
        let _ = writeln!(text, "| {} | {} |", exit.code(), exit.meaning());
    }
    for sub in root.get_subcommands() {
        command(&mut text, sub, sub.get_name());
    }
    text
}

/// One command's section, then its subcommands'.
fn command(text: &mut String, command: &clap::Command, path: &str) {
    let _ = writeln!(text, "\n## `recipe {path}`\n\n{}\n\n```text\n{}\n```", help_of(command), usage(command));
    let (positionals, options): (Vec<&clap::Arg>, Vec<&clap::Arg>) = command
        .get_arguments()
        .filter(|arg| !arg.is_hide_set() && !arg.is_global_set() && !matches!(arg.get_id().as_str(), "help" | "version"))
        .partition(|arg| arg.is_positional());
    if !positionals.is_empty() {
        text.push_str("\nArguments:\n\n");
        for arg in &positionals {
            text.push_str(&argument(arg));
        }
    }
    let mut headings: Vec<Option<&str>> = Vec::new();
    for arg in &options {
        if !headings.contains(&arg.get_help_heading()) {
            headings.push(arg.get_help_heading());
        }
    }
    for heading in headings {
        let _ = writeln!(text, "\n{}:\n", heading.unwrap_or("Options"));
        for arg in options.iter().filter(|arg| arg.get_help_heading() == heading) {
            text.push_str(&argument(arg));
        }
    }
    for (_, what, line) in EXAMPLES.iter().filter(|(of, ..)| *of == path) {
        let _ = writeln!(text, "\nExample: {what}.\n\n```sh\n{line}\n```");
    }
    for sub in command.get_subcommands() {
        self::command(text, sub, &format!("{path} {}", sub.get_name()));
    }
}

/// One argument or option as a list item: its flags and value, its help, its values and default.
fn argument(arg: &clap::Arg) -> String {
    let mut spec = arg.to_string();
    if let (Some(short), Some(_)) = (arg.get_short(), arg.get_long()) {
        spec = format!("-{short}, {spec}");
    }
    let help = arg.get_long_help().or_else(|| arg.get_help()).map(ToString::to_string).unwrap_or_default();
    let mut notes = Vec::new();
    if arg.get_action().takes_values() {
        let values: Vec<String> =
            arg.get_possible_values().iter().filter(|value| !value.is_hide_set()).map(|value| format!("`{}`", value.get_name())).collect();
        if !values.is_empty() {
            notes.push(format!("one of {}", values.join(", ")));
        }
        let defaults: Vec<String> = arg.get_default_values().iter().map(|value| format!("`{}`", value.to_string_lossy())).collect();
        if !defaults.is_empty() {
            notes.push(format!("default {}", defaults.join(", ")));
        }
    }
    let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join("; ")) };
    format!("- `{spec}`: {}{notes}\n", help.replace('\n', " "))
}

fn help_of(command: &clap::Command) -> String {
    command.get_long_about().or_else(|| command.get_about()).map(ToString::to_string).unwrap_or_default()
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

fn usage(command: &clap::Command) -> String {
    command.clone().render_usage().to_string().trim_start_matches("Usage: ").to_owned()
}
