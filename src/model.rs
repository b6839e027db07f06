//! The recipe language, version 1, as Rust types.
//!
//! These types are the single description of the language: the decoder (`decode`) fills them
//! from a YAML tree, the checker (`check`) proves them sound, and `schemars` turns them into
//! `schemas/recipe.schema.json` for editors. They hold no behaviour; a [`crate::check::Plan`]
//! wraps a checked [`Recipe`] and is the only thing the runner accepts.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use crate::diagnostic::Span;
use crate::jsonpath::Path;
use crate::xpath::XPath;
use crate::yaml::Style;

/// A whole recipe file.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(title = "recipe", deny_unknown_fields)]
pub struct Recipe {
    /// The language version; always `1`.
    #[schemars(rename = "recipe", range(min = 1, max = 1))]
    pub version: u32,
    /// A short name for the recipe, shown in reports.
    pub name: String,
    /// What the recipe does.
    pub description: Option<String>,
    /// Typed parameters, given with `--var name=value` or `--vars FILE`.
    #[schemars(with = "BTreeMap<String, Input>")]
    pub inputs: Vec<Input>,
    /// The environment variables templates may read as `env.NAME` (also from `.env`).
    #[schemars(with = "BTreeMap<String, EnvVar>")]
    pub env: Vec<EnvVar>,
    /// Defaults for every request.
    #[schemars(default)]
    pub http: Http,
    /// The steps, run in order.
    pub steps: Vec<Step>,
    /// What the run returns, printed as JSON on stdout.
    #[schemars(with = "BTreeMap<String, Template>")]
    pub outputs: Vec<(Name, Template)>,
    /// How `--record` scrubs fixtures beyond the declared secrets.
    #[schemars(default)]
    pub recording: Recording,
}

/// Fields to scrub when recording a fixture.
#[derive(Debug, Clone, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Recording {
    /// `JSONPaths` (in request and response bodies) whose values are never written: `<redacted>`.
    #[schemars(with = "Vec<String>")]
    pub redact: Vec<Path>,
    /// `JSONPaths` (in response bodies) of values that change on every run (timestamps, generated
    /// ids): recorded as `<volatile:N>`, so re-recording the same flow yields the same fixture.
    #[schemars(with = "Vec<String>")]
    pub volatile: Vec<Path>,
    /// More response headers to keep (beyond `content-type`, `location`, `retry-after`), e.g.
    /// `link` for pagination.
    pub headers: Vec<String>,
}

/// A name written in the file (a key or an id), with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub text: String,
    pub span: Span,
}

impl JsonSchema for Name {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Name".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" })
    }
}

/// One input parameter.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Input {
    #[schemars(skip)]
    pub name: Name,
    /// The value's type; `string` when omitted.
    #[schemars(rename = "type")]
    pub kind: InputType,
    /// Whether the input must be given; inputs with a `default` are never required.
    pub required: Option<bool>,
    /// The value used when the input is not given.
    pub default: Option<serde_json::Value>,
    /// What the input is for; shown when it is missing or invalid.
    pub description: Option<String>,
    /// A regular expression a string input must match (anchor it with `^...$`).
    pub pattern: Option<String>,
    /// The only values allowed.
    #[schemars(rename = "enum")]
    pub allowed: Option<Vec<serde_json::Value>>,
    /// A format a string input must have.
    pub format: Option<Format>,
}

impl Input {
    pub fn is_required(&self) -> bool {
        self.default.is_none() && self.required.unwrap_or(true)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum InputType {
    /// Text (the default).
    #[default]
    String,
    /// A whole number.
    Integer,
    /// Any number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A list (JSON text on the command line).
    Array,
    /// A map (JSON text on the command line).
    Object,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// `2026-07-22`.
    Date,
    /// `2026-07-22T09:30:00`, or RFC 3339 with an offset.
    DateTime,
    /// An e-mail address.
    Email,
}

/// One environment variable the recipe may read.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct EnvVar {
    #[schemars(skip)]
    pub name: Name,
    /// Used when the variable is not set; a variable without a default must be set.
    pub default: Option<String>,
    /// A secret value is masked in every output: logs, errors, dry runs, reports, fixtures.
    #[schemars(default)]
    pub secret: bool,
    /// What the variable holds; shown when it is not set.
    pub description: Option<String>,
}

/// Request defaults.
#[derive(Debug, Clone, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Http {
    /// Prefixed to every relative request URL.
    pub base_url: Option<TemplateString>,
    /// Sent with every request; a step's own headers win.
    #[schemars(with = "BTreeMap<String, TemplateString>")]
    pub headers: Vec<(Name, TemplateString)>,
    /// Per-request timeout, e.g. `30s`, `500ms`, `2m`; 30s when omitted.
    #[schemars(with = "Option<DurationText>")]
    pub timeout: Option<Duration>,
    /// How long to wait for a connection (TCP and TLS); 10s when omitted.
    #[schemars(with = "Option<DurationText>")]
    pub connect_timeout: Option<Duration>,
    /// How many redirects a `GET` or `HEAD` follows; 5 when omitted, 0 for none. Other methods
    /// follow none unless their request says `redirects: { unsafe: true }`: the step fails and
    /// names the `Location`.
    #[schemars(range(max = 50))]
    pub redirects: Option<u32>,
    /// The largest response body accepted, e.g. `16MiB`, `512KiB` or a number of bytes; 16 MiB
    /// when omitted. A larger body fails the step and is never kept whole.
    #[schemars(with = "Option<SizeText>")]
    pub max_body: Option<u64>,
    /// The retry policy of every request; a step's own `retry` overrides it field by field.
    pub retry: Option<Retry>,
    /// Credentials for every request (a request's own `auth` wins). It may read `vars` bound by a
    /// log-in step: requests before that step send none.
    pub auth: Option<Auth>,
    /// How an API reports errors inside a successful response: `mykaarma` (its two envelope
    /// families), or a list of `JSONPaths` that select an error when they select anything that is
    /// not null, false or empty. Off when omitted.
    #[schemars(with = "Option<ApiErrorsText>")]
    pub api_errors: Option<ApiErrors>,
    /// Send every request through this proxy (a template over `env`); `--proxy` wins, and
    /// without either the standard `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` variables apply.
    pub proxy: Option<TemplateString>,
    /// TLS settings.
    pub tls: Option<Tls>,
    /// Keep a cookie jar: `Set-Cookie` values are sent back on later requests, recorded and
    /// replayed (values masked).
    #[schemars(default)]
    pub cookies: bool,
    /// XML namespace prefixes for every `xpath` of the recipe: prefix -> namespace URI
    /// (`{ o: "urn:example:orders" }` lets `/o:order/o:id` select in that namespace).
    #[schemars(with = "BTreeMap<String, String>")]
    pub namespaces: Vec<(String, String)>,
}

/// TLS settings of a recipe.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Tls {
    /// A PEM file of CA certificates to trust beside the built-in roots, relative to the recipe
    /// file; `--cacert` wins.
    pub ca: Option<String>,
    /// A PEM file with the client certificate to present (and its key, unless `client_key` is
    /// given), relative to the recipe file; `--client-cert` wins.
    pub client_cert: Option<String>,
    /// A PEM file with the client certificate's private key, relative to the recipe file; needs
    /// `client_cert`.
    pub client_key: Option<String>,
}

/// Error envelopes inside response bodies.
#[derive(Debug, Clone)]
pub enum ApiErrors {
    /// `errors[]`/`warnings[]` and `statusCode` + `error` (see `envelope`).
    Mykaarma,
    /// Any of these paths selecting something.
    Paths(Vec<Path>),
}

/// `mykaarma`, or a list of `JSONPaths`.
#[allow(dead_code, reason = "a text form for the JSON Schema: described, never built")]
#[derive(JsonSchema)]
#[serde(untagged)]
pub(crate) enum ApiErrorsText {
    Vendor(ApiErrorsVendor),
    Paths(Vec<String>),
}

#[allow(dead_code, reason = "a text form for the JSON Schema: described, never built")]
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ApiErrorsVendor {
    /// myKaarma's envelopes: `errors[]` with codes, or `statusCode` and `error`.
    Mykaarma,
}

/// A size such as `16MiB`, `512KiB`, `2MB` or a number of bytes.
#[allow(dead_code, reason = "a text form for the JSON Schema: described, never built")]
#[derive(JsonSchema)]
#[serde(untagged)]
pub(crate) enum SizeText {
    Bytes(#[schemars(range(min = 1))] u64),
    Text(#[schemars(regex(pattern = r"^[0-9]+ ?(B|KB|KiB|MB|MiB|GB|GiB)$"))] String),
}

/// When and how a request is sent again. Every field is optional; the defaults are
/// `attempts: 3, delay: 200ms, max_delay: 10s, backoff: exponential, jitter: true,
/// on: [connect, reset, timeout, 429, 502, 503, 504], max_elapsed: 60s`.
///
/// A `POST` or `PATCH` is sent again only when nothing reached the server (a connect failure,
/// or a connection closed before the request was written) or the server said it did not
/// process it (429, or 503 with `Retry-After`), unless `unsafe: true`.
#[derive(Debug, Clone, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Retry {
    /// How many times the request may be sent in all (1 means no retry).
    #[schemars(range(min = 1, max = 100))]
    pub attempts: Option<u32>,
    /// The wait before the first retry.
    #[schemars(with = "Option<DurationText>")]
    pub delay: Option<Duration>,
    /// The longest wait; a `Retry-After` asking for more fails the step.
    #[schemars(with = "Option<DurationText>")]
    pub max_delay: Option<Duration>,
    /// How the wait grows: `exponential` (doubles), `linear` or `constant`.
    pub backoff: Option<Backoff>,
    /// Spread the waits randomly between half and all of the computed delay.
    pub jitter: Option<bool>,
    /// What is retried: failure kinds (`connect`, `reset`, `timeout`, `body`) and status codes.
    #[schemars(with = "Option<Vec<RetryOnText>>")]
    pub on: Option<Vec<RetryOn>>,
    /// No retry starts once this much time has passed since the first attempt.
    #[schemars(with = "Option<DurationText>")]
    pub max_elapsed: Option<Duration>,
    /// A condition on `response` (`status`, `headers`, `body`): while it is false, the request is
    /// sent again (polling).
    pub until: Option<TemplateString>,
    /// Allow retrying a `POST` or `PATCH` whatever happened. Only for requests that are safe to
    /// repeat (the API deduplicates them).
    #[schemars(rename = "unsafe")]
    pub allow_unsafe: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    /// The wait doubles after each attempt.
    Exponential,
    /// The wait grows by `delay` after each attempt.
    Linear,
    /// The wait is always `delay`.
    Constant,
}

/// One thing a retry policy retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOn {
    /// No connection: refused, DNS, TLS, connect timeout.
    Connect,
    /// The connection broke before a response arrived.
    Reset,
    /// No (complete) response within the timeout.
    Timeout,
    /// The body was cut short or could not be decoded.
    Body,
    Status(u16),
}

/// A failure kind or a status code.
#[allow(dead_code, reason = "a text form for the JSON Schema: described, never built")]
#[derive(JsonSchema)]
#[serde(untagged)]
pub(crate) enum RetryOnText {
    Status(#[schemars(range(min = 100, max = 599))] u16),
    Kind(RetryKindText),
}

#[allow(dead_code, reason = "a text form for the JSON Schema: described, never built")]
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RetryKindText {
    /// No connection: refused, DNS, TLS, connect timeout.
    Connect,
    /// The connection broke before a response (a POST only when it broke before the write).
    Reset,
    /// No complete response within the timeout.
    Timeout,
    /// The body was cut short or could not be decoded.
    Body,
}

/// A duration such as `30s`, `500ms` or `2m`.
#[allow(dead_code, reason = "a text form for the JSON Schema: described, never built")]
#[derive(JsonSchema)]
#[schemars(transparent)]
pub(crate) struct DurationText(#[schemars(regex(pattern = r"^[0-9]+(ms|s|m)$"))] pub String);

/// One step. Exactly one of `request`, `filter`, `pick` or `set` is given.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Step {
    /// A unique name; later steps read this step's result as `steps.ID`.
    pub id: Name,
    /// What the step does, for readers and reports.
    pub description: Option<String>,
    /// A template that must render to a boolean; when false the step is skipped.
    pub when: Option<TemplateString>,
    /// When true, a failure of this step is reported and the run goes on.
    #[schemars(default)]
    pub optional: bool,
    #[serde(flatten)]
    pub action: Action,
    /// Accepted responses (request steps only).
    pub expect: Option<Expect>,
    /// Names for values of this step's result, used later as `vars.NAME`: a `JSONPath` (starting
    /// with `$`, relative to the result) or a template.
    #[schemars(with = "BTreeMap<String, BindText>")]
    pub bind: Vec<(Name, Binding)>,
    /// The names bound with `secret: true`: masked like secret env vars in every output.
    #[schemars(skip)]
    pub secret_binds: Vec<String>,
    /// Run the step once per element of this list (`"{{ ... }}"`), with `each` and `index` in
    /// scope; `steps.ID.results` holds every iteration's result and `bind` collects lists.
    pub for_each: Option<TemplateString>,
    /// The most elements `for_each` may have (default 1000); more is an error.
    #[schemars(range(min = 1))]
    pub max_items: Option<u32>,
    /// With `for_each`: how many elements run at once in a live run (default 1, at most 64).
    /// Results and bindings keep the list's order. A recording, a replay and a dry run take the
    /// elements one after another (a fixture has one order), and so does a run with
    /// `http.cookies: true` (its cookie jar is one sequence).
    #[schemars(range(min = 1, max = 64))]
    pub concurrency: Option<u32>,
    /// Conditions the step's result must meet, checked after its action and `bind`.
    #[schemars(default)]
    pub assert: Vec<Assertion>,
    #[schemars(skip)]
    pub span: Span,
}

impl Step {
    /// Whether the step reads its result as XML (an `xpath` bind or assertion): its response is
    /// then not expected to be JSON unless `expect.json` says so.
    pub fn reads_xml(&self) -> bool {
        self.bind.iter().any(|(_, binding)| matches!(binding, Binding::XPath(_))) || self.assert.iter().any(|a| a.xpath.is_some())
    }
}

/// A binding: a `JSONPath` or template, or the full form with `secret`.
#[allow(dead_code, reason = "a text form for the JSON Schema: described, never built")]
#[derive(JsonSchema)]
#[serde(untagged)]
pub(crate) enum BindText {
    Short(Template),
    Full(BindSpec),
}

/// The full form of a binding.
#[allow(dead_code, reason = "a text form for the JSON Schema: described, never built")]
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct BindSpec {
    /// A `JSONPath` relative to the step's result.
    pub path: Option<String>,
    /// A template.
    pub value: Option<Template>,
    /// A regular expression searched in the step's text body (or in the JSON text of its
    /// result): binds its first capture group, or the whole match without one.
    pub regex: Option<String>,
    /// An XPath 1.0 expression evaluated on the step's XML body: a string, number or boolean
    /// result as is, a node-set's first node's string value; selecting nothing fails the step.
    pub xpath: Option<String>,
    /// Mask the bound value in every output (logs, reports, fixtures, snapshots).
    pub secret: Option<bool>,
}

/// One assertion: a template that must render `true`, or a `JSONPath` condition as in `match`.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Assertion {
    /// A `"{{ ... }}"` expression that must be true; it can read the step's own `steps.ID`.
    pub that: Option<TemplateString>,
    /// A `JSONPath` into the step's result (the body, the kept item), with `equals` or `pattern`.
    #[schemars(with = "Option<String>")]
    pub path: Option<Path>,
    /// With `path`: the expected value.
    pub equals: Option<Template>,
    /// With `path` or `xpath`: a regular expression the value must match.
    pub pattern: Option<String>,
    #[schemars(skip)]
    pub regex: Option<regex::Regex>,
    /// An XPath 1.0 expression on the step's XML body: with `equals` or `pattern`, its value (as
    /// in `bind`) is compared; alone, it must hold by XPath's `boolean()` (a node-set must select
    /// something).
    #[schemars(with = "Option<String>")]
    pub xpath: Option<XPath>,
    /// Shown when the assertion fails.
    pub message: Option<TemplateString>,
    #[schemars(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Send an HTTP request.
    Request(Box<Request>),
    /// Keep the items of a list that satisfy conditions, and check how many there are.
    Filter(Filter),
    /// Choose one item of a list.
    Pick(Pick),
    /// Compute values; each becomes `vars.NAME`.
    Set(#[schemars(with = "BTreeMap<String, Template>")] Vec<(Name, Template)>),
    /// Fail the run with this message (a template), usually under `when`: an explicit guard.
    Fail(TemplateString),
    /// Run another recipe; its outputs become `steps.ID.outputs`.
    Call(Call),
}

/// A sub-recipe call.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Call {
    /// The recipe file, relative to the calling file.
    pub recipe: String,
    #[schemars(skip)]
    pub recipe_span: Span,
    /// The called recipe's inputs (templates).
    #[schemars(with = "BTreeMap<String, Template>", default)]
    pub inputs: Vec<(Name, Template)>,
}

impl Action {
    pub fn keyword(&self) -> &'static str {
        match self {
            Action::Request(_) => "request",
            Action::Filter(_) => "filter",
            Action::Pick(_) => "pick",
            Action::Set(_) => "set",
            Action::Fail(_) => "fail",
            Action::Call(_) => "call",
        }
    }
}

#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Request {
    /// The HTTP method.
    pub method: Method,
    /// Relative to `http.base_url`, or absolute.
    pub url: TemplateString,
    /// Query parameters; a list value repeats the parameter.
    #[schemars(with = "BTreeMap<String, Template>")]
    pub query: Vec<(Name, Template)>,
    /// Request headers, over `http.headers`.
    #[schemars(with = "BTreeMap<String, TemplateString>")]
    pub headers: Vec<(Name, TemplateString)>,
    /// A JSON body written as YAML; `"{{ expr }}"` strings keep the expression's type.
    pub json: Option<Template>,
    /// A form body (`application/x-www-form-urlencoded`).
    #[schemars(with = "Option<BTreeMap<String, Template>>")]
    pub form: Option<Vec<(Name, Template)>>,
    /// A raw text body.
    pub body: Option<TemplateString>,
    /// A `multipart/form-data` body: each field a text (a template) or a file part.
    #[schemars(with = "Option<BTreeMap<String, MultipartFieldText>>")]
    pub multipart: Option<Vec<(Name, MultipartField)>>,
    /// This request's timeout, over `http.timeout`.
    #[schemars(with = "Option<DurationText>")]
    pub timeout: Option<Duration>,
    /// This request's retry policy, over `http.retry` field by field.
    pub retry: Option<Retry>,
    /// Fetch every page: after each response, `next` renders the changes for the next request.
    pub paginate: Option<Paginate>,
    /// Credentials for this request, over `http.auth`; `none` sends no `Authorization` at all.
    pub auth: Option<Auth>,
    /// Whether sending the request twice is harmless. By default every method but `POST` and
    /// `PATCH` is; say `true` for a `POST` that only reads (a search), so that it is retried like
    /// a `GET` and not reported as a side effect.
    pub idempotent: Option<bool>,
    /// This request's redirects, over `http.redirects`: a count (0: the redirect response is the
    /// step's response), or `{ follow: 5, unsafe: true }` to let a method other than `GET` or
    /// `HEAD` follow them (a 303, and a 301 or 302 after a `POST`, continue as a `GET`; a 307 or
    /// 308 sends the same method and body again).
    #[schemars(with = "Option<RedirectsText>")]
    pub redirects: Option<Redirects>,
}

/// One field of a multipart body.
#[derive(Debug, Clone)]
pub enum MultipartField {
    /// A text field.
    Text(TemplateString),
    /// A file, read when the request is sent.
    File(FileField),
}

/// A file part.
#[derive(Debug, Clone)]
pub struct FileField {
    /// Relative to the recipe file; a template (`"{{ inputs.photo }}"`) is read as rendered.
    pub file: TemplateString,
    /// `application/octet-stream` when omitted (or a type known from the file's extension).
    pub content_type: Option<String>,
    /// The file name sent; the file's own name when omitted.
    pub filename: Option<String>,
}

/// A text field, or a file part.
#[allow(dead_code, reason = "a text form for the JSON Schema: described, never built")]
#[derive(JsonSchema)]
#[serde(untagged)]
pub(crate) enum MultipartFieldText {
    Text(TemplateString),
    File(FileFieldText),
}

#[allow(dead_code, reason = "a text form for the JSON Schema: described, never built")]
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct FileFieldText {
    /// The file to send, relative to the recipe file (a template, such as `"{{ inputs.photo }}"`,
    /// is read as rendered). Fixtures keep its SHA-256 digest and size, never its bytes.
    file: TemplateString,
    /// The part's content type; from the file's extension when omitted, else
    /// `application/octet-stream`.
    content_type: Option<String>,
    /// The file name sent; the file's own name when omitted.
    filename: Option<String>,
}

/// A request's own redirect policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redirects {
    /// How many redirects are followed.
    pub follow: u32,
    /// Whether a method other than `GET` or `HEAD` follows them.
    pub allow_unsafe: bool,
}

/// A count of redirects, or `{ follow, unsafe }`.
#[allow(dead_code, reason = "a text form for the JSON Schema: described, never built")]
#[derive(JsonSchema)]
#[serde(untagged)]
pub(crate) enum RedirectsText {
    Count(#[schemars(range(max = 50))] u32),
    Policy(RedirectsPolicyText),
}

#[allow(dead_code, reason = "a text form for the JSON Schema: described, never built")]
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct RedirectsPolicyText {
    /// How many redirects are followed (5 when omitted).
    #[schemars(range(max = 50))]
    follow: Option<u32>,
    /// Let a `POST`, `PUT`, `PATCH` or `DELETE` follow a redirect: a 303 continues as a `GET`, a
    /// 301 or 302 after a `POST` as a `GET` (as curl and browsers do), a 307 or 308 sends the
    /// same method and body again.
    #[serde(rename = "unsafe")]
    allow_unsafe: Option<bool>,
}

/// Following pages of a paginated request.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Paginate {
    /// What changes for the next page, rendered with `response`: `{ query: { cursor: "..." } }`
    /// (merged into the query) or `{ url: "..." }` (replaces the URL). Pagination stops when it
    /// renders null or empty.
    pub next: Template,
    /// A `JSONPath` whose nodes, joined across pages, become `steps.ID.items`.
    #[schemars(with = "Option<String>")]
    pub items: Option<Path>,
    /// The most pages fetched (default 100); needing more is an error, not a silent stop.
    #[schemars(range(min = 1))]
    pub max_pages: Option<u32>,
}

/// Credentials added to a request as an `Authorization` header.
#[derive(Debug, Clone, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        /// The user name (a template).
        username: TemplateString,
        /// The password (a template, usually `{{ env.PASSWORD }}`).
        password: TemplateString,
    },
    /// `Authorization: Bearer TOKEN`, e.g. `"{{ vars.token }}"` bound by a log-in step.
    Bearer(TemplateString),
    /// OAuth2 client credentials: a token is fetched from `token_url` once, cached, refreshed on
    /// expiry or after a 401, and never recorded (fixtures show `Bearer <oauth2>`).
    Oauth2(OAuth2),
    /// `auth: none` on a request: it sends no `Authorization` header, neither `http.auth` nor an
    /// `Authorization` in `http.headers` (a log-in step, before the token it binds).
    None,
}

/// OAuth2 client credentials (RFC 6749 section 4.4).
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct OAuth2 {
    /// The token endpoint (absolute, or relative to `http.base_url`).
    pub token_url: TemplateString,
    /// The client id.
    pub client_id: TemplateString,
    /// The client secret, usually `{{ env.CLIENT_SECRET }}` (a secret env var).
    pub client_secret: TemplateString,
    /// The scopes asked for, space-separated.
    pub scope: Option<TemplateString>,
}

impl Request {
    pub fn is_idempotent(&self) -> bool {
        self.idempotent.unwrap_or_else(|| self.method.is_idempotent())
    }
}

/// An HTTP method, in any case (`GET` or `get`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
}

impl JsonSchema for Method {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Method".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An HTTP method; `recipe check` accepts any case.",
            "anyOf": [
                { "oneOf": [
                    { "const": "GET", "description": "Read; idempotent." },
                    { "const": "POST", "description": "Create or act; not idempotent (never repeated unless proven safe)." },
                    { "const": "PUT", "description": "Replace; idempotent." },
                    { "const": "PATCH", "description": "Change part of something; not idempotent." },
                    { "const": "DELETE", "description": "Remove; idempotent." },
                    { "const": "HEAD", "description": "Read the head only; idempotent." }
                ] },
                { "type": "string", "pattern": "^([Gg][Ee][Tt]|[Pp][Oo][Ss][Tt]|[Pp][Uu][Tt]|[Pp][Aa][Tt][Cc][Hh]|[Dd][Ee][Ll][Ee][Tt][Ee]|[Hh][Ee][Aa][Dd])$", "description": "The same methods in lower or mixed case." }
            ]
        })
    }
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
        }
    }

    /// Whether sending the request twice may do something twice (RFC 9110 9.2.2: `POST` and
    /// `PATCH` are not idempotent).
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Method::Post | Method::Patch)
    }
}

/// What a response must look like for the step to succeed.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Expect {
    /// Accepted status codes; any 2xx when omitted.
    #[schemars(with = "Option<StatusList>")]
    pub status: Vec<u16>,
    /// Whether the body must be JSON (default true).
    pub json: Option<bool>,
    /// Whether API error envelopes (`errors[]`, `error.errorCode`) fail the step (default true).
    pub api_errors: Option<bool>,
}

#[allow(dead_code, reason = "a text form for the JSON Schema: described, never built")]
#[derive(JsonSchema)]
#[serde(untagged)]
pub(crate) enum StatusList {
    One(u16),
    Many(Vec<u16>),
}

/// Where a filter or pick finds its list, and which items it keeps.
#[derive(Debug, Clone, JsonSchema)]
pub struct Selection {
    /// The value to select from, usually `"{{ steps.ID.body }}"`.
    pub from: Template,
    /// A `JSONPath`, relative to `from`, selecting the items; `from` itself must be a list when omitted.
    #[schemars(with = "Option<String>")]
    pub items: Option<Path>,
    /// Turn a map into a list of `{key, value}` entries (e.g. an availability map keyed by time).
    #[schemars(default)]
    pub entries: bool,
    /// Conditions every kept item satisfies: a `JSONPath` relative to the item, and the expected
    /// value. A path that selects several nodes matches when any node does.
    #[schemars(rename = "match", with = "BTreeMap<String, MatchCondition>")]
    pub matches: Vec<Match>,
    /// A template with `item` that must render to a boolean.
    #[schemars(rename = "where")]
    pub where_: Option<TemplateString>,
}

#[derive(Debug, Clone)]
pub struct Match {
    pub path: Path,
    pub matcher: Matcher,
}

/// The expected value, or a [`Matcher`] with options.
#[allow(dead_code, reason = "a text form for the JSON Schema: described, never built")]
#[derive(JsonSchema)]
#[serde(untagged)]
pub(crate) enum MatchCondition {
    Full(Matcher),
    Value(Template),
}

/// An expected value, or the full form with options.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Matcher {
    /// The expected value (the short form is just this value).
    pub equals: Option<Template>,
    /// A regular expression a string node must match.
    pub pattern: Option<String>,
    /// Compare strings (and match `pattern`) without regard to case.
    #[schemars(default)]
    pub ignore_case: bool,
    /// Compare strings without leading and trailing whitespace.
    #[schemars(default)]
    pub trim: bool,
    #[schemars(skip)]
    pub regex: Option<regex::Regex>,
    #[schemars(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Filter {
    #[serde(flatten)]
    pub selection: Selection,
    /// How many items must remain (default `one`).
    #[schemars(default)]
    pub expect: Cardinality,
    /// A template with `item` describing a candidate in error messages.
    pub describe: Option<TemplateString>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Cardinality {
    /// Exactly one item; result `item`.
    #[default]
    One,
    /// At least one; result `item` is the first.
    First,
    /// Zero or one; result `item` is null when none.
    Optional,
    /// Any number; result `items`.
    All,
    /// One or more; result `items`.
    AtLeastOne,
}

impl Cardinality {
    pub fn as_str(self) -> &'static str {
        match self {
            Cardinality::One => "one",
            Cardinality::First => "first",
            Cardinality::Optional => "optional",
            Cardinality::All => "all",
            Cardinality::AtLeastOne => "at_least_one",
        }
    }
}

#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Pick {
    #[serde(flatten)]
    pub selection: Selection,
    /// How to choose (default `first`).
    #[schemars(default)]
    pub strategy: Strategy,
    /// A template with `item` giving the key for `min_by`, `max_by` and `prefer`.
    pub by: Option<TemplateString>,
    /// With `prefer`: the key value wanted; the first item is the fallback.
    pub prefer: Option<Template>,
    /// With `random`: the seed. Without one, a seed is drawn and recorded, so replays repeat.
    pub seed: Option<u64>,
    /// A template with `item` describing a candidate in error messages.
    pub describe: Option<TemplateString>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The first kept item (the default).
    #[default]
    First,
    /// The last kept item.
    Last,
    /// A random kept item (seeded by `seed`, or drawn and recorded).
    Random,
    /// The item whose `by` key is smallest.
    MinBy,
    /// The item whose `by` key is largest.
    MaxBy,
    /// The item whose `by` key equals `prefer`, else the first.
    Prefer,
}

/// A value bound by a step.
#[derive(Debug, Clone)]
pub enum Binding {
    Path(Path),
    Template(Template),
    /// `{ regex: '...' }`: the first capture group (or the whole match) in the step's text
    /// body, or in the JSON text of any other value.
    Regex(regex::Regex),
    /// `{ xpath: '/order/id' }`: an XPath 1.0 expression on the step's XML body.
    XPath(XPath),
}

/// A YAML value whose strings are templates; rendering keeps its shape.
#[derive(Debug, Clone)]
pub enum Template {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(TemplateString),
    Seq(Vec<Template>),
    Map(Vec<(Name, Template)>),
}

impl JsonSchema for Template {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Template".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Any YAML value; strings are minijinja templates. A string that is exactly `{{ expr }}` yields the expression's own type."
        })
    }
}

/// One templated string, classified once when the recipe is read.
#[derive(Debug, Clone)]
pub struct TemplateString {
    pub text: String,
    pub span: Span,
    pub style: Style,
    pub kind: TemplateKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateKind {
    /// No template syntax: the text as is.
    Literal,
    /// Exactly `{{ expr }}`: the expression's value, typed.
    Expression(String),
    /// Anything else: rendered to a string.
    Text,
}

impl JsonSchema for TemplateString {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TemplateString".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "description": "A minijinja template." })
    }
}

/// The JSON Schema of the recipe language: generated from these types, then adjusted where the
/// decoder is more lenient than the types say (short forms, optional maps, any-case methods,
/// durations in seconds), so that editors accept exactly what `recipe check` accepts wherever a
/// schema can say so.
pub fn schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<Recipe>();
    let mut schema = serde_json::to_value(schema).expect("a schema is always JSON");
    adjust(&mut schema);
    schema
}

/// The keys each map must have; every other key is optional.
const REQUIRED: &[(&str, &[&str])] = &[
    ("", &["recipe", "name", "steps"]),
    ("Input", &[]),
    ("Http", &[]),
    ("Step", &["id"]),
    ("Request", &["method", "url"]),
    ("Filter", &["from"]),
    ("Pick", &["from"]),
    ("Recording", &[]),
];

fn adjust(schema: &mut serde_json::Value) {
    use serde_json::json;
    for (definition, required) in REQUIRED {
        let node = if definition.is_empty() { &mut *schema } else { &mut schema["definitions"][*definition] };
        node["required"] = json!(required);
    }
    let definitions = &mut schema["definitions"];
    // An input may be only its type (`last_name: string`); an env var may be empty (`TOKEN:`).
    let input = definitions["Input"].take();
    definitions["InputSpec"] = input;
    definitions["Input"] = json!({
        "description": "An input: its type alone (`vin: string`), or the full form.",
        "anyOf": [{ "$ref": "#/definitions/InputType" }, { "$ref": "#/definitions/InputSpec" }]
    });
    let env = definitions["EnvVar"].take();
    definitions["EnvVarSpec"] = env;
    definitions["EnvVar"] = json!({
        "description": "An environment variable: empty (`NAME:`) for a plain required one, or the full form.",
        "anyOf": [{ "type": "null" }, { "$ref": "#/definitions/EnvVarSpec" }]
    });
    // A duration may be a bare number of seconds.
    definitions["DurationText"] = json!({
        "description": "A duration: `500ms`, `30s`, `2m`, or a whole number of seconds; at most a week.",
        "anyOf": [
            { "type": "string", "pattern": "^[0-9]*[1-9][0-9]*(ms|s|m)$" },
            { "type": "integer", "minimum": 1, "maximum": 604800 }
        ]
    });
    // Status codes are 100 to 599.
    definitions["StatusList"] = json!({
        "description": "A status code or a list of them.",
        "anyOf": [
            { "type": "integer", "minimum": 100, "maximum": 599 },
            { "type": "array", "items": { "type": "integer", "minimum": 100, "maximum": 599 } }
        ]
    });
    // The action keys are validated by the step's `oneOf`; here they only say what they are.
    for (action, description) in [
        ("request", "Send an HTTP request."),
        ("filter", "Keep the items of a list that satisfy conditions, and check how many there are."),
        ("pick", "Choose one item of a list."),
        ("set", "Compute values; each becomes `vars.NAME`."),
        ("fail", "Fail the run with this message (a template), usually under `when`."),
        ("call", "Run another recipe (a path relative to this file) with inputs; its outputs become `steps.ID.outputs`."),
    ] {
        definitions["Step"]["properties"][action] = json!({ "description": description });
        for variant in definitions["Step"]["oneOf"].as_array_mut().into_iter().flatten() {
            if let Some(property) = variant["properties"].get_mut(action) {
                property["description"] = json!(description);
            }
        }
    }
    for variant in definitions["Auth"]["oneOf"].as_array_mut().into_iter().flatten() {
        for (name, property) in variant.get_mut("properties").and_then(serde_json::Value::as_object_mut).into_iter().flatten() {
            let description = match name.as_str() {
                "basic" => "User name and password, sent as `Basic base64(username:password)`.",
                "oauth2" => "OAuth2 client credentials; the token is sent as `Bearer TOKEN`.",
                _ => "A token, sent as `Bearer TOKEN`.",
            };
            property["description"] = json!(description);
        }
    }
}
