//! curl's options: which ones a request needs (method, URL, headers, data, user, timeout), which
//! ones only change what curl prints (ignored), and which ones a recipe cannot express (ignored
//! with a warning). Turns a command's words into a [`Curl`] request description; it does not
//! decide how that becomes a recipe (that is `skeleton`).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What one curl command asks for, as curl would read it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Curl {
    /// `-X`, upper-cased.
    pub method: Option<String>,
    pub url: Option<String>,
    pub headers: Vec<(String, String)>,
    /// `-d` and friends, in order; curl joins them with `&`.
    pub data: Vec<Data>,
    /// `-G`: the data goes into the query string of a `GET`.
    pub get: bool,
    /// The method another option implies: `HEAD` for `-I`, `POST` for `-F` (a multipart form,
    /// not supported), `PUT` for `-T` (an upload, not supported).
    pub implied_method: Option<&'static str>,
    /// `--json`: the data is JSON (and sent with JSON content type and accept headers).
    pub json: bool,
    /// `-u user:password`.
    pub user: Option<String>,
    /// `-m SECONDS`.
    pub max_time: Option<String>,
    /// `-L`: curl follows redirects (without it, it does not).
    pub location: bool,
    /// `-F` and `--form-string`: the parts of a multipart body, in order.
    pub form: Vec<FormPart>,
    pub warnings: Vec<String>,
}

/// One `-F name=value` part: a text, or a file (`@path`, or `<path` for its content as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FormPart {
    pub name: String,
    pub value: String,
    pub file: bool,
    /// `;type=...`.
    pub content_type: Option<String>,
    /// `;filename=...`.
    pub filename: Option<String>,
}

impl FormPart {
    /// `name=value`, `name=@file;type=text/csv;filename=x.csv` or `name=<file`; with
    /// `--form-string` the value is taken as it is.
    fn parse(text: &str, literal: bool) -> Option<Self> {
        let (name, value) = text.split_once('=')?;
        let mut part = Self { name: name.to_owned(), value: value.to_owned(), file: false, content_type: None, filename: None };
        if literal {
            return Some(part);
        }
        let Some(path) = value.strip_prefix('@').or_else(|| value.strip_prefix('<')) else { return Some(part) };
        let mut pieces = path.split(';');
        part.value = pieces.next().unwrap_or_default().trim_matches('"').to_owned();
        part.file = true;
        for piece in pieces {
            match piece.split_once('=') {
                Some(("type", kind)) => part.content_type = Some(kind.to_owned()),
                Some(("filename", name)) => part.filename = Some(name.trim_matches('"').to_owned()),
                _ => {}
            }
        }
        Some(part)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Data {
    Text(String),
    /// `@FILE`: curl reads the data from a file.
    File(String),
}

/// Options that take a value and only change what curl prints or saves, or how it connects in
/// ways a recipe decides for itself (redirects, compression).
const IGNORED_WITH_VALUE: &[&str] = &[
    "output",
    "write-out",
    "dump-header",
    "stderr",
    "trace",
    "trace-ascii",
    "retry",
    "retry-delay",
    "retry-max-time",
    "max-redirs",
    "connect-timeout",
    "limit-rate",
    "config",
    "keepalive-time",
];
const IGNORED_SHORT_WITH_VALUE: &str = "owDK";

/// Options without a value that only change output or transport details.
const IGNORED_FLAGS: &[&str] = &[
    "compressed",
    "silent",
    "show-error",
    "include",
    "verbose",
    "fail",
    "fail-with-body",
    "globoff",
    "no-buffer",
    "http1.0",
    "http1.1",
    "http2",
    "http2-prior-knowledge",
    "http3",
    "progress-bar",
    "no-progress-meter",
    "remote-name",
    "remote-header-name",
    "tcp-nodelay",
    "no-keepalive",
    "ipv4",
    "ipv6",
    "show-headers",
];
const IGNORED_SHORT_FLAGS: &str = "LsSivfgN#01246qOJ";

/// Options with a value that change the request in a way a recipe cannot express.
const UNSUPPORTED_WITH_VALUE: &[&str] = &[
    "form",
    "form-string",
    "upload-file",
    "cacert",
    "capath",
    "cert",
    "cert-type",
    "key",
    "key-type",
    "pass",
    "resolve",
    "connect-to",
    "proxy",
    "proxy-user",
    "cookie-jar",
    "range",
    "time-cond",
    "request-target",
    "unix-socket",
    "aws-sigv4",
    "interface",
    "variable",
];
const UNSUPPORTED_SHORT_WITH_VALUE: &str = "TExUcrzY";

/// Options without a value that change the request in a way a recipe cannot express.
const UNSUPPORTED_FLAGS: &[&str] = &["insecure", "digest", "ntlm", "negotiate", "anyauth", "path-as-is", "raw"];
const UNSUPPORTED_SHORT_FLAGS: &str = "k";

/// Reads a command's words (after `curl`).
pub(crate) fn parse(words: &[String]) -> Curl {
    let mut curl = Curl::default();
    let mut index = 0;
    let mut only_urls = false;
    while index < words.len() {
        let word = &words[index];
        index += 1;
        if only_urls || !word.starts_with('-') || word == "-" {
            curl.url_argument(word);
        } else if word == "--" {
            only_urls = true;
        } else if let Some(long) = word.strip_prefix("--") {
            let value = if takes_value(long) { words.get(index).inspect(|_| index += 1) } else { None };
            curl.long(long, value.map(String::as_str));
        } else {
            index += curl.short_cluster(&word[1..], words.get(index).map(String::as_str));
        }
    }
    curl
}

fn takes_value(long: &str) -> bool {
    const WITH_VALUE: &[&str] = &[
        "request",
        "header",
        "data",
        "data-raw",
        "data-binary",
        "data-ascii",
        "data-urlencode",
        "json",
        "user",
        "user-agent",
        "referer",
        "cookie",
        "url",
        "url-query",
        "oauth2-bearer",
        "max-time",
    ];
    WITH_VALUE.contains(&long) || IGNORED_WITH_VALUE.contains(&long) || UNSUPPORTED_WITH_VALUE.contains(&long)
}

/// The long name of a short option that takes a value.
fn short_with_value(short: char) -> Option<&'static str> {
    Some(match short {
        'X' => "request",
        'H' => "header",
        'd' => "data",
        'u' => "user",
        'A' => "user-agent",
        'e' => "referer",
        'b' => "cookie",
        'm' => "max-time",
        'F' => "form",
        c if IGNORED_SHORT_WITH_VALUE.contains(c) => "ignored",
        c if UNSUPPORTED_SHORT_WITH_VALUE.contains(c) => "unsupported",
        _ => return None,
    })
}

/// Characters `--data-urlencode` escapes: all but letters, digits and `-._~` (as curl does).
const URLENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

impl Curl {
    fn url_argument(&mut self, word: &str) {
        if self.url.is_none() {
            self.url = Some(word.to_owned());
        } else {
            self.warnings.push(format!("a second URL `{word}` is ignored: one command is one request"));
        }
    }

    /// Reads `-abc` (flags) or `-Xvalue` / `-X value`; returns how many following words it used.
    fn short_cluster(&mut self, cluster: &str, next: Option<&str>) -> usize {
        for (offset, short) in cluster.char_indices() {
            if let Some(long) = short_with_value(short) {
                let attached = &cluster[offset + short.len_utf8()..];
                let (value, used) = if attached.is_empty() { (next, 1) } else { (Some(attached), 0) };
                if short == 'T' {
                    self.implied_method = Some("PUT");
                }
                match long {
                    "ignored" => {}
                    "unsupported" => self.warnings.push(format!("`-{short}` is not supported by recipes and is ignored")),
                    long => self.long(long, value),
                }
                return used;
            }
            match short {
                'G' => self.get = true,
                'I' => self.implied_method = Some("HEAD"),
                'L' => self.location = true,
                c if IGNORED_SHORT_FLAGS.contains(c) => {}
                c if UNSUPPORTED_SHORT_FLAGS.contains(c) => {
                    self.warnings.push(format!("`-{c}` is not supported by recipes and is ignored"));
                }
                c => self.warnings.push(format!("unknown curl option `-{c}` is ignored")),
            }
        }
        0
    }

    fn long(&mut self, long: &str, value: Option<&str>) {
        if takes_value(long) && value.is_none() {
            self.warnings.push(format!("`--{long}` needs a value"));
            return;
        }
        let value = value.unwrap_or_default();
        match long {
            "request" => self.method = Some(value.to_uppercase()),
            "header" => self.header(value),
            "data" | "data-ascii" | "data-binary" => {
                self.data.push(value.strip_prefix('@').map_or_else(|| Data::Text(value.to_owned()), |file| Data::File(file.to_owned())));
            }
            "data-raw" => self.data.push(Data::Text(value.to_owned())),
            "data-urlencode" => self.data.push(urlencode(value)),
            "json" => {
                self.json = true;
                self.data.push(value.strip_prefix('@').map_or_else(|| Data::Text(value.to_owned()), |file| Data::File(file.to_owned())));
            }
            "get" => self.get = true,
            "head" => self.implied_method = Some("HEAD"),
            "location" | "location-trusted" => self.location = true,
            "url" => self.url_argument(value),
            "url-query" => self.url = self.url.take().map(|url| format!("{url}{}{value}", if url.contains('?') { '&' } else { '?' })),
            "user" => self.user = Some(value.to_owned()),
            "user-agent" => self.headers.push(("User-Agent".into(), value.to_owned())),
            "referer" => self.headers.push(("Referer".into(), value.to_owned())),
            "cookie" if value.contains('=') => self.headers.push(("Cookie".into(), value.to_owned())),
            "cookie" => self.warnings.push(format!("`--cookie {value}` reads a cookie file, which recipes do not; it is ignored")),
            "oauth2-bearer" => self.headers.push(("Authorization".into(), format!("Bearer {value}"))),
            "max-time" => self.max_time = Some(value.to_owned()),
            long if IGNORED_WITH_VALUE.contains(&long) || IGNORED_FLAGS.contains(&long) => {}
            "form" | "form-string" => {
                self.implied_method = Some("POST");
                match FormPart::parse(value, long == "form-string") {
                    Some(part) => self.form.push(part),
                    None => self.warnings.push(format!("`--{long} {value}` is not `name=value`; it is ignored")),
                }
            }
            "upload-file" => {
                self.implied_method = Some("PUT");
                self.warnings.push(format!("`--{long}` is not supported by recipes and is ignored"));
            }
            long if UNSUPPORTED_WITH_VALUE.contains(&long) || UNSUPPORTED_FLAGS.contains(&long) => {
                self.warnings.push(format!("`--{long}` is not supported by recipes and is ignored"));
            }
            long => self.warnings.push(format!("unknown curl option `--{long}` is ignored")),
        }
    }

    /// `Name: value`; `Name;` sends an empty header; `Name:` removes a header curl would add
    /// (nothing to do here); `@FILE` reads headers from a file (not supported).
    fn header(&mut self, value: &str) {
        if value.starts_with('@') {
            self.warnings.push(format!("`--header {value}` reads headers from a file, which recipes do not; it is ignored"));
        } else if let Some((name, rest)) = value.split_once(':') {
            if ::http::HeaderName::from_bytes(name.trim().as_bytes()).is_err() {
                self.warnings.push(format!("`--header {value}`: `{}` is not a valid header name; it is ignored", name.trim()));
            } else if !rest.trim().is_empty() {
                if let Some(at) = self.headers.iter().position(|(known, _)| known.eq_ignore_ascii_case(name.trim())) {
                    // A recipe gives a header once: the last one is kept, as a server reading one
                    // value usually does.
                    self.warnings.push(format!("`--header {}` is given more than once; the last one is kept", name.trim()));
                    self.headers.remove(at);
                }
                self.headers.push((name.trim().to_owned(), rest.trim().to_owned()));
            }
        } else if let Some(name) = value.strip_suffix(';') {
            if ::http::HeaderName::from_bytes(name.trim().as_bytes()).is_err() {
                self.warnings.push(format!("`--header {value}`: `{}` is not a valid header name; it is ignored", name.trim()));
            } else {
                self.headers.push((name.trim().to_owned(), String::new()));
            }
        } else {
            self.warnings.push(format!("`--header {value}` is not `Name: value`; it is ignored"));
        }
    }
}

/// `--data-urlencode`: `content`, `=content` or `name=content` (content escaped), or `@FILE`.
fn urlencode(value: &str) -> Data {
    if let Some(file) = value.strip_prefix('@') {
        return Data::File(file.to_owned());
    }
    let encode = |text: &str| utf8_percent_encode(text, URLENCODE).to_string();
    match value.split_once('=') {
        Some(("", content)) => Data::Text(encode(content)),
        Some((name, content)) => Data::Text(format!("{name}={}", encode(content))),
        None => Data::Text(encode(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curl(words: &[&str]) -> Curl {
        parse(&words.iter().map(|word| (*word).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn reads_long_short_and_attached_options() {
        let parsed = curl(&["-sSL", "-XPOST", "https://x/a", "-H", "A: 1", "--header", "B;", "-d", "a=1", "--data-raw", "@b", "-m", "5"]);
        assert_eq!(parsed.method.as_deref(), Some("POST"));
        assert_eq!(parsed.url.as_deref(), Some("https://x/a"));
        assert_eq!(parsed.headers, vec![("A".into(), "1".into()), ("B".into(), String::new())]);
        assert_eq!(parsed.data, vec![Data::Text("a=1".into()), Data::Text("@b".into())]);
        assert_eq!(parsed.max_time.as_deref(), Some("5"));
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    }

    #[test]
    fn form_parts_are_texts_or_files_with_type_and_name() {
        let parsed = curl(&[
            "-F",
            "a=1",
            "--form",
            "f=@data/x.csv;type=text/csv;filename=y.csv",
            "-F",
            "g=<notes.txt",
            "--form-string",
            "h=@raw",
            "https://x",
        ]);
        let part = |name: &str, value: &str, file: bool, content_type: Option<&str>, filename: Option<&str>| FormPart {
            name: name.into(),
            value: value.into(),
            file,
            content_type: content_type.map(Into::into),
            filename: filename.map(Into::into),
        };
        assert_eq!(
            parsed.form,
            vec![
                part("a", "1", false, None, None),
                part("f", "data/x.csv", true, Some("text/csv"), Some("y.csv")),
                part("g", "notes.txt", true, None, None),
                part("h", "@raw", false, None, None),
            ]
        );
        assert_eq!(parsed.implied_method, Some("POST"));
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    }

    #[test]
    fn warns_about_what_a_recipe_cannot_send() {
        let parsed = curl(&["-k", "--upload-file", "f", "--frobnicate", "https://x", "https://y", "-d", "@body.json"]);
        assert_eq!(parsed.data, vec![Data::File("body.json".into())]);
        assert_eq!(
            parsed.warnings,
            vec![
                "`-k` is not supported by recipes and is ignored",
                "`--upload-file` is not supported by recipes and is ignored",
                "unknown curl option `--frobnicate` is ignored",
                "a second URL `https://y` is ignored: one command is one request",
            ]
        );
    }

    #[test]
    fn encodes_data_urlencode_values() {
        assert_eq!(curl(&["--data-urlencode", "q=a b&c"]).data, vec![Data::Text("q=a%20b%26c".into())]);
    }
}
