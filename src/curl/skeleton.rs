//! Building a recipe from curl commands: one request step per command, with the vendor's
//! placeholders turned into declared names.
//!
//! - `{{name}}` placeholders (and `$NAME` shell variables, and `{name}` in a URL) become inputs,
//!   templated as `{{ inputs.name }}`. Those in credential headers (`Authorization`, `Cookie`,
//!   `X-Api-Key`, anything with `token`, `secret`, `auth`, ...), or named like a credential,
//!   become secret environment variables (`{{ env.BASIC_AUTH_TOKEN }}`), and so do shell
//!   variables. A literal credential is never copied: it becomes a secret variable too.
//! - The first command's origin becomes `http.base_url`, read from an environment variable whose
//!   default is that origin; URLs with that origin become paths relative to it.
//! - Data that parses as JSON becomes a `json:` body; anything else a raw `body:`, with a comment
//!   saying why when it looked like JSON.
//! - Prose lines such as `{{dept_uuid}} - UUID of the department` describe the names; the prose
//!   line closest above a command describes its step.
//!
//! It writes YAML text (through [`crate::emit`]); checking the result is the caller's business.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value as Json;

use super::names::{Base, Declared, Names, PLACEHOLDER, is_credential_header, is_placeholder, snake_case};
use super::options::{self, Curl, Data, FormPart};
use super::shell::{Command, Scan};
use crate::emit::{Entry, Node};

/// What the import produced: the recipe text and what it declares.
#[derive(Debug, Clone)]
pub struct Imported {
    pub yaml: String,
    /// Step ids with their methods, in order.
    pub steps: Vec<(String, String)>,
    pub inputs: Vec<String>,
    /// Environment variables, with whether each is secret.
    pub env: Vec<(String, bool)>,
    /// Things the recipe could not keep, each prefixed with the command's line.
    pub warnings: Vec<String>,
}

/// `1. {{dept_uuid}} - UUID of department ...`
static DEFINITION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{\{\s*\$?([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}\s*(?:-|–|—|:)\s*(\S.*)$").expect("a valid regex"));
/// Builds the recipe for the commands of `scan`. `name` is the recipe's name and `source` how
/// to call the input in its description.
pub(crate) fn build(scan: &Scan, name: &str, source: &str) -> Result<Imported, super::ImportError> {
    let descriptions = definitions(&scan.prose);
    let mut warnings = Vec::new();
    let mut calls = Vec::new();
    let mut previous_end = 0;
    for command in &scan.commands {
        let curl = options::parse(&command.words);
        warnings.extend(curl.warnings.iter().map(|warning| format!("line {}: {warning}", command.line)));
        match Call::new(&curl, command, step_description(&scan.prose, previous_end, command.line)) {
            Ok(call) => calls.push(call),
            Err(problem) => warnings.push(format!("line {}: {problem}; the command is skipped", command.line)),
        }
        previous_end = command.end_line;
    }
    let texts = calls.iter().flat_map(Call::texts);
    if calls.is_empty() {
        return Err(super::ImportError::NoneUsable(warnings));
    }
    let mut names = Names::classify(texts, calls.iter().flat_map(|call| call.shell_vars.iter().map(String::as_str)), descriptions);
    // One base URL per host, whatever the scheme of each command: `https` when any uses it.
    let base = calls.iter().find_map(Call::base_origin).map(|origin| {
        let secure = calls
            .iter()
            .filter_map(|call| call.origin.as_deref())
            .any(|other| other.starts_with("https://") && authority(other).is_some() && authority(other) == authority(&origin));
        let origin = match origin.split_once("://") {
            Some(("http", rest)) if secure => format!("https://{}", rest.trim_end_matches(":80")),
            _ => origin,
        };
        names.base_url(&origin)
    });
    let mut ids = BTreeSet::new();
    let mut steps = Vec::new();
    let mut summary = Vec::new();
    for call in &calls {
        let id = unique_id(&call.path, &mut ids);
        summary.push((id.clone(), call.method.clone()));
        let (step, problems) = call.step(&id, base.as_ref(), &mut names);
        warnings.extend(problems.into_iter().map(|problem| format!("line {}: {problem}", call.line)));
        steps.push(step);
    }
    let mut top = vec![
        Entry::new("recipe", Node::Scalar(Json::from(1))),
        Entry::new("name", Node::text(name)),
        Entry::new("description", Node::text(format!("Imported from the curl commands in {source}."))),
    ];
    if !names.inputs.is_empty() {
        top.push(Entry::new("inputs", Node::Map(names.inputs.iter().map(Declared::input).collect())));
    }
    if !names.env.is_empty() {
        top.push(Entry::new("env", Node::Map(names.env.iter().map(Declared::env).collect())));
    }
    if let Some(base) = &base {
        top.push(Entry::new("http", Node::Map(vec![Entry::new("base_url", Node::text(format!("{{{{ env.{} }}}}", base.variable)))])));
    }
    top.push(Entry::new("steps", Node::Seq { items: steps, spaced: true }));
    let header = [
        format!("Imported by `recipe import curl` from {source}: one request step per curl command."),
        "Review it: inputs are strings, and filters, bindings and outputs are yours to add.".to_owned(),
    ];
    Ok(Imported {
        yaml: crate::emit::document(&header, &top),
        steps: summary,
        inputs: names.inputs.iter().map(|input| input.name.clone()).collect(),
        env: names.env.iter().map(|var| (var.name.clone(), var.secret)).collect(),
        warnings,
    })
}

/// Descriptions of placeholders from prose lines such as `2. {{test_vin}} - VIN of the vehicle`.
fn definitions(prose: &[(usize, String)]) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    for (_, line) in prose {
        if let Some(captures) = DEFINITION.captures(line) {
            found.entry(captures[1].to_owned()).or_insert_with(|| captures[2].trim().to_owned());
        }
    }
    found
}

/// The prose line closest above a command (after the previous one) that reads like a title:
/// short, not a definition, not a link. Bullets, numbers and a final colon are dropped.
fn step_description(prose: &[(usize, String)], after: usize, before: usize) -> Option<String> {
    prose.iter().rev().filter(|(line, _)| *line >= after && *line < before).find_map(|(_, text)| {
        let text = text.trim();
        if text.is_empty() || text.starts_with("```") || text.contains("://") || DEFINITION.is_match(text) || looks_like_output(text) {
            return None;
        }
        let text = text.trim_start_matches(|c: char| c.is_ascii_digit() || "•·*-–—#.) ".contains(c)).trim_end_matches(':').trim();
        (!text.is_empty() && text.chars().count() <= 100).then(|| text.to_owned())
    })
}

/// Whether a line is a command's sample output rather than prose: JSON or XML, a status line,
/// `curl -v`'s `<`, `>` and `*` lines, a response header.
fn looks_like_output(text: &str) -> bool {
    static HEADER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)+: \S").expect("a valid regex"));
    text.starts_with(['{', '}', '[', ']', '<', '>', '"', '*'])
        || text.starts_with("HTTP/")
        || HEADER.is_match(text)
        || serde_json::from_str::<Json>(text).is_ok()
        || text.ends_with([',', '{', '['])
        || OUTPUT_LABEL.is_match(text)
}

/// `Response:`, `Sample output`, `Returns:`: a label over a command's output, not a title.
static OUTPUT_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(an? |the )?(sample |example )?(json )?(response|output|result|returns?|answer)( body| example)?:?$")
        .expect("a valid regex")
});

/// One command, read: the request's parts as the vendor wrote them (placeholders still raw).
struct Call {
    line: usize,
    description: Option<String>,
    method: String,
    /// `scheme://host[:port]`, when it has no placeholder.
    origin: Option<String>,
    /// The URL before its path when the origin has a placeholder (`https://{{host}}`, or
    /// `{{baseUrl}}` alone).
    templated_origin: Option<String>,
    /// Shell variables the command expands.
    shell_vars: BTreeSet<String>,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    /// Basic credentials given with `--user` (or in the URL): `user:password`, `user` alone.
    user: Option<String>,
    /// `-I` or `--head`.
    head: bool,
    /// `-L`: curl follows redirects.
    location: bool,
    /// `-F` parts: a multipart body.
    form: Vec<FormPart>,
    data: Option<Vec<Data>>,
    json: bool,
    timeout: Option<String>,
}

/// Why a curl command is left out of the recipe.
#[derive(Debug, thiserror::Error)]
enum Skipped {
    #[error("the curl command has no URL")]
    NoUrl,
    #[error("recipes cannot send the method `{0}`")]
    Method(String),
}

impl Call {
    fn new(curl: &Curl, command: &Command, description: Option<String>) -> Result<Self, Skipped> {
        let url = curl.url.as_deref().ok_or(Skipped::NoUrl)?;
        let data = (!curl.data.is_empty()).then(|| curl.data.clone());
        let default = if data.is_some() && !curl.get { "POST" } else { "GET" };
        let method = curl.method.clone().unwrap_or_else(|| curl.implied_method.unwrap_or(default).to_owned());
        if !["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"].contains(&method.as_str()) {
            return Err(Skipped::Method(method));
        }
        let (origin, rest) = split_origin(url);
        // `https://user:password@host`: curl sends basic credentials, as with `--user`; they are
        // not copied (the origin keeps only the host).
        let (origin, userinfo) = match origin.split_once("://").and_then(|(scheme, authority)| Some((scheme, authority.rsplit_once('@')?)))
        {
            Some((scheme, (userinfo, host))) => (format!("{scheme}://{host}"), Some(userinfo.to_owned())),
            None => (origin, None),
        };
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
            None => (rest.to_owned(), None),
        };
        let path = path.split('#').next().unwrap_or_default().to_owned();
        let mut query = query.map(|query| query.split('#').next().unwrap_or_default().to_owned()).filter(|query| !query.is_empty());
        let data = if curl.get {
            // `-G`: the data is appended to the query string.
            let texts = data.iter().flatten().map(|piece| match piece {
                Data::Text(text) => text.clone(),
                Data::File(file) => format!("@{file}"),
            });
            let joined: Vec<String> = query.into_iter().chain(texts).collect();
            query = (!joined.is_empty()).then(|| joined.join("&"));
            None
        } else {
            data
        };
        let mut headers = curl.headers.clone();
        if curl.json {
            for (name, value) in [("Content-Type", "application/json"), ("Accept", "application/json")] {
                if !headers.iter().any(|(existing, _)| existing.eq_ignore_ascii_case(name)) {
                    headers.push((name.into(), value.into()));
                }
            }
        }
        let literal_origin = !origin.contains('{');
        Ok(Self {
            line: command.line,
            description,
            method,
            origin: literal_origin.then(|| origin.clone()),
            templated_origin: (!literal_origin).then_some(origin),
            path: if path.is_empty() { "/".into() } else { path },
            query,
            headers,
            shell_vars: command.shell_vars.clone(),
            user: curl.user.clone().or(userinfo),
            head: curl.implied_method == Some("HEAD") && curl.method.is_none(),
            location: curl.location,
            form: curl.form.clone(),
            data,
            json: curl.json,
            timeout: curl.max_time.clone(),
        })
    }

    /// The texts that may hold placeholders, each with whether it is a credential.
    fn texts(&self) -> Vec<(&str, bool)> {
        let headers = self.headers.iter().map(|(name, value)| (value.as_str(), is_credential_header(name)));
        let data = self.data.iter().flatten().filter_map(|piece| if let Data::Text(text) = piece { Some(text.as_str()) } else { None });
        let plain = std::iter::once(self.path.as_str()).chain(self.query.as_deref()).chain(self.templated_origin.as_deref()).chain(data);
        headers.chain(plain.map(|text| (text, false))).collect()
    }

    /// The origin that can be the base URL: a literal one, or a placeholder alone.
    fn base_origin(&self) -> Option<String> {
        self.origin.clone().or_else(|| self.templated_origin.clone().filter(|origin| is_placeholder(origin)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(header, _)| header.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    /// The step for this call, with what it could not keep.
    fn step(&self, id: &str, base: Option<&Base>, names: &mut Names) -> (Node, Vec<String>) {
        let mut problems = Vec::new();
        let mut request = vec![Entry::new("method", Node::text(&self.method))];
        let relative = matches!((base, &self.origin), (Some(base), Some(origin)) if authority(&base.origin).is_some() && authority(&base.origin) == authority(origin));
        let prefix = match (&self.origin, &self.templated_origin) {
            _ if relative => String::new(),
            (Some(origin), _) => origin.clone(),
            (None, Some(origin)) if base.is_some_and(|base| base.templated && &base.origin == origin) => String::new(),
            (None, Some(origin)) => names.convert(origin, true),
            (None, None) => String::new(),
        };
        let query = self.query.as_deref().and_then(query_pairs);
        let mut url = format!("{prefix}{}", names.convert(&self.path, true));
        if let (Some(raw), None) = (&self.query, &query) {
            url = format!("{url}?{}", names.convert(raw, true));
        }
        request.push(Entry::new("url", Node::text(url)));
        if let Some(pairs) = query {
            let mut entries: Vec<Entry> = Vec::new();
            for (key, value) in pairs {
                let value = Node::text(names.credential(&key, &value).unwrap_or_else(|| names.convert(&value, true)));
                match entries.iter_mut().find(|entry| entry.key == key) {
                    Some(Entry { value: Node::Seq { items, .. }, .. }) => items.push(value),
                    Some(entry) => entry.value = Node::list(vec![entry.value.clone(), value]),
                    None => entries.push(Entry::new(key, value)),
                }
            }
            request.push(Entry::new("query", Node::Map(entries)));
        }
        let body = self.body(names, &mut problems);
        let json_body = matches!(body, Some((ref entry, _)) if entry.key == "json");
        let mut headers = Vec::new();
        for (name, value) in &self.headers {
            let redundant = (json_body && name.eq_ignore_ascii_case("content-type") && value.eq_ignore_ascii_case("application/json"))
                || name.eq_ignore_ascii_case("content-length");
            if !redundant {
                headers.push(Entry::new(name, Node::text(names.header(name, value))));
            }
        }
        let auth = self.user.as_deref().filter(|_| self.header("authorization").is_none()).map(|user| basic_auth(user, names));
        if let Some((_, true)) = body
            && self.header("content-type").is_none()
        {
            // curl sends `-d` data as a form unless told otherwise.
            headers.push(Entry::new("Content-Type", Node::text("application/x-www-form-urlencoded")));
        }
        if !headers.is_empty() {
            request.push(Entry::new("headers", Node::Map(headers)));
        }
        request.extend(body.map(|(entry, _)| entry));
        if !self.form.is_empty() {
            request.push(Entry::new("multipart", Node::Map(self.form.iter().map(|part| form_part(part, names)).collect())));
        }
        request.extend(auth);
        if self.head {
            // curl does not follow redirects without `-L`, and `-I` shows any answer: a 2xx or a
            // 3xx is what a script using `curl -I` takes for a success.
            if !self.location {
                request.push(Entry::new("redirects", Node::Scalar(Json::from(0))));
            }
        }
        if let Some(timeout) = &self.timeout {
            match duration(timeout) {
                Some(duration) => request.push(Entry::new("timeout", Node::text(duration))),
                None => problems.push(format!("`--max-time {timeout}` is not a number of seconds; it is ignored")),
            }
        }
        let mut step = vec![Entry::new("id", Node::text(id))];
        if let Some(description) = &self.description {
            step.push(Entry::new("description", Node::text(description)));
        }
        step.push(Entry::new("request", Node::Map(request)));
        if self.head {
            let codes = [200, 204, 301, 302, 303, 304, 307, 308].iter().map(|code| Node::Scalar(Json::from(*code))).collect();
            step.push(Entry::new(
                "expect",
                Node::Map(vec![Entry::new("status", Node::list(codes)), Entry::new("json", Node::Scalar(Json::Bool(false)))]),
            ));
        }
        (Node::Map(step), problems)
    }

    /// The body entry, and whether it is raw data curl would send as a form.
    fn body(&self, names: &mut Names, problems: &mut Vec<String>) -> Option<(Entry, bool)> {
        let data = self.data.as_ref()?;
        let files: Vec<&str> =
            data.iter().filter_map(|piece| if let Data::File(file) = piece { Some(file.as_str()) } else { None }).collect();
        if !files.is_empty() {
            problems.push(format!("curl reads the body from `{}`; the step's `body` is left empty for you to fill", files.join("`, `")));
            let comment = format!("curl read this body from `{}`: put its content here (a `json:` map for JSON)", files.join("`, `"));
            return Some((Entry::new("body", Node::text("")).with_comment(comment), false));
        }
        let text = data.iter().map(|piece| if let Data::Text(text) = piece { text.as_str() } else { "" }).collect::<Vec<_>>().join("&");
        let declared_json = self.json || self.header("content-type").is_some_and(|value| value.to_ascii_lowercase().contains("json"));
        let looks_json = text.trim_start().starts_with(['{', '[']);
        if !(declared_json || looks_json) {
            // A form: a credential field's value becomes a secret variable, encoded as curl sent it.
            let form = text.split('&').all(|pair| pair.contains('='));
            let body = if form {
                let pairs: Vec<String> = text
                    .split('&')
                    .map(|pair| {
                        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                        let decoded = url::form_urlencoded::parse(pair.as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default();
                        match names.credential(key, &decoded) {
                            Some(secret) => format!("{}={}", names.convert(key, false), secret.replace(" }}", " | urlencode }}")),
                            None => format!("{}={}", names.convert(key, false), names.convert(value, false)),
                        }
                    })
                    .collect();
                pairs.join("&")
            } else {
                names.convert(&text, false)
            };
            return Some((Entry::new("body", Node::text(body)), true));
        }
        match parse_json(&text) {
            Ok((value, markers)) => Some((Entry::new("json", names.json(&value, &markers)), false)),
            Err(error) => {
                problems.push(format!("the data is not valid JSON ({error}); it is kept as a raw `body`"));
                let comment =
                    format!("The curl data is not valid JSON ({error}), so it is sent as written.\nFix it and make it a `json:` body.");
                Some((Entry::new("body", Node::text(names.convert(&text, false))).with_comment(comment), false))
            }
        }
    }
}

/// The host of a literal origin, with its port when it is not its scheme's default: the same
/// for `http://api.example.com` and `https://api.example.com:443`.
fn authority(origin: &str) -> Option<String> {
    let url = url::Url::parse(origin).ok()?;
    let host = url.host_str()?;
    // The URL parser drops a scheme's default port.
    Some(url.port().map_or_else(|| host.to_owned(), |port| format!("{host}:{port}")))
}

/// One `-F` part as a `multipart` field: a text (placeholders become inputs), or a file part
/// whose path is an input defaulting to the file curl sent (relative to the recipe), so the
/// recipe passes `recipe check` before the file is there.
fn form_part(part: &FormPart, names: &mut Names) -> Entry {
    if !part.file {
        return Entry::new(&part.name, Node::text(names.convert(&part.value, false)));
    }
    let description = format!("the file curl's `-F {}=@...` sent, relative to the recipe", part.name);
    let input = if part.name.to_ascii_lowercase().ends_with("file") { part.name.clone() } else { format!("{}_file", part.name) };
    let input = names.declare_input(&input, &part.value, &description);
    let mut fields = vec![Entry::new("file", Node::text(format!("{{{{ inputs.{input} }}}}")))];
    fields.extend(part.content_type.as_ref().map(|kind| Entry::new("content_type", Node::text(kind))));
    fields.extend(part.filename.as_ref().map(|name| Entry::new("filename", Node::text(name))));
    Entry::new(&part.name, Node::Map(fields))
}

/// `auth: { basic: ... }` for curl's `--user`: the user name is kept (placeholders become
/// inputs), the password becomes a secret variable (its sample is never copied). With no
/// password (`-u KEY:`, as APIs that take a key as the user name document it), the user name is
/// the credential and becomes the secret variable instead.
fn basic_auth(user: &str, names: &mut Names) -> Entry {
    let (name, password) = user.split_once(':').map_or((user, None), |(name, password)| (name, Some(password)));
    let secret = |names: &mut Names, variable: &str, what: &str| {
        let description = format!("the {what} of the curl command's `--user` (its sample value is not copied)");
        format!("{{{{ env.{} }}}}", names.declare_env(variable, None, true, Some(&description)))
    };
    let (username, password) = match password {
        Some("") => (secret(names, "BASIC_AUTH_USER", "user name (the API key)"), String::new()),
        // A placeholder or a shell variable stays what it names.
        Some(password) if password.starts_with('$') || PLACEHOLDER.is_match(password) => {
            (names.convert(name, false), names.convert(password, false))
        }
        _ => (names.convert(name, false), secret(names, "BASIC_AUTH_PASSWORD", "password")),
    };
    let basic = Node::Map(vec![Entry::new("username", Node::text(username)), Entry::new("password", Node::text(password))]);
    Entry::new("auth", Node::Map(vec![Entry::new("basic", basic)]))
}

/// Splits `https://host/path?query` into the origin and the rest; a URL without a scheme is
/// `http://`, as curl reads it. `{{base}}/path` has the placeholder as its origin.
fn split_origin(url: &str) -> (String, &str) {
    if let Some(found) = PLACEHOLDER.find(url)
        && found.start() == 0
        && !url[found.end()..].starts_with(|c: char| c.is_alphanumeric() || c == '.' || c == ':')
    {
        return (found.as_str().to_owned(), &url[found.end()..]);
    }
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    (format!("{}://{}", scheme.to_ascii_lowercase(), &rest[..end]), &rest[end..])
}

/// The query's pairs, decoded; `None` when it cannot be a `query:` map (a key without `=`).
fn query_pairs(query: &str) -> Option<Vec<(String, String)>> {
    if query.split('&').any(|pair| !pair.is_empty() && !pair.contains('=')) {
        return None;
    }
    Some(url::form_urlencoded::parse(query.as_bytes()).map(|(key, value)| (key.into_owned(), value.into_owned())).collect())
}

/// `--max-time` seconds as a recipe duration.
fn duration(seconds: &str) -> Option<String> {
    if let Ok(whole) = seconds.parse::<u64>() {
        return Some(format!("{whole}s"));
    }
    let value = seconds.parse::<f64>().ok().filter(|value| value.is_finite() && *value > 0.0)?;
    Some(format!("{}ms", (value * 1000.0).round()))
}

/// Parses JSON data whose placeholders may stand outside strings (`"count": {{n}}`): each is
/// replaced by a marker string first. Returns the value and the markers' placeholder names.
fn parse_json(text: &str) -> Result<(Json, BTreeMap<String, String>), serde_json::Error> {
    let mut markers = BTreeMap::new();
    let mut replaced = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if !in_string
            && c == '{'
            && let Some(found) = PLACEHOLDER.find(rest).filter(|found| found.start() == 0)
        {
            let marker = format!("\u{1}placeholder{}\u{1}", markers.len());
            replaced.push_str(&Json::String(marker.clone()).to_string());
            markers.insert(marker, PLACEHOLDER.captures(found.as_str()).map(|c| c[1].to_owned()).unwrap_or_default());
            rest = &rest[found.end()..];
            continue;
        }
        match c {
            '\\' if in_string => escaped = !escaped,
            '"' if !escaped => {
                in_string = !in_string;
            }
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
        replaced.push(c);
        rest = &rest[c.len_utf8()..];
    }
    serde_json::from_str(&replaced).map(|value| (value, markers))
}

/// The step id: the last path segment that names something (not a placeholder, a version, a
/// number or an id), in snake case; made unique with the segment before it, then a number.
fn unique_id(path: &str, taken: &mut BTreeSet<String>) -> String {
    let meaningful: Vec<String> = path
        .split('/')
        .filter(|segment| names_something(segment))
        .map(|segment| snake_case(segment, false))
        .filter(|segment| !segment.is_empty())
        .collect();
    let base = meaningful.last().cloned().unwrap_or_else(|| "request".into());
    let chosen = match meaningful.len() {
        n if n >= 2 && taken.contains(&base) => format!("{}_{base}", meaningful[n - 2]),
        _ => base.clone(),
    };
    let mut candidate = chosen.clone();
    let mut number = 1;
    while taken.contains(&candidate) {
        number += 1;
        candidate = format!("{base}_{number}");
    }
    taken.insert(candidate.clone());
    candidate
}

/// Whether a path segment names a resource: not empty, a placeholder, a version (`v2`), a
/// number or a long hexadecimal id.
fn names_something(segment: &str) -> bool {
    let placeholder = segment.contains('{') || segment.starts_with(':');
    let number = segment.chars().all(|c| c.is_ascii_digit());
    let hex_id = segment.len() >= 16 && segment.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    let version = segment.len() > 1 && segment.starts_with('v') && segment[1..].chars().all(|c| c.is_ascii_digit() || c == '.');
    !(segment.is_empty() || placeholder || number || hex_id || version || segment == "api")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_ids_name_the_resource_and_stay_unique() {
        let mut taken = BTreeSet::new();
        let ids: Vec<String> =
            ["/customer/v2/department/{{d}}/customer/list", "/appointment/v2/dealer/{{x}}/eligibleAdvisor/list", "/a/list", "/v1/42", "/"]
                .iter()
                .map(|path| unique_id(path, &mut taken))
                .collect();
        assert_eq!(ids, vec!["list", "eligible_advisor_list", "a_list", "request", "request_2"]);
    }

    #[test]
    fn placeholders_outside_json_strings_are_typed() {
        let (value, markers) = parse_json(r#"{"n": {{count}}, "s": "{{x}} \" {{y}}"}"#).unwrap();
        assert_eq!(markers.values().collect::<Vec<_>>(), vec!["count"]);
        assert_eq!(value["s"], Json::String("{{x}} \" {{y}}".into()));
    }
}
