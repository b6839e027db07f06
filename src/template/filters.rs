//! What the template environment adds to minijinja: how values print into text, a `tojson`
//! that refuses undefined values, and the filters recipes need (dates, encodings, digests,
//! `reshape`, and `normalize` and `reveal` for comparing names).

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Error, ErrorKind, Value};

/// `"user:pass" | b64encode`: standard base64 of the text's UTF-8 bytes.
pub(super) fn b64encode(value: &str) -> String {
    crate::mask::base64_encode(value.as_bytes())
}

/// `text | b64decode`: the UTF-8 text that base64 encodes.
pub(super) fn b64decode(value: &str) -> Result<String, Error> {
    let bytes = crate::mask::base64_decode(value.trim())
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "b64decode: the value is not standard base64"))?;
    String::from_utf8(bytes).map_err(|_| Error::new(ErrorKind::InvalidOperation, "b64decode: the decoded bytes are not UTF-8 text"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
        use std::fmt::Write as _;
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// `text | sha256`: the SHA-256 of the text, in lower-case hex.
pub(super) fn sha256(value: &str) -> String {
    use sha2::Digest as _;
    hex(&sha2::Sha256::digest(value.as_bytes()))
}

/// `text | hmac_sha256(key)`: the HMAC-SHA256 of the text with `key`, in lower-case hex.
pub(super) fn hmac_sha256(value: &str, key: &str) -> Result<String, Error> {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes())
        .map_err(|_| Error::new(ErrorKind::InvalidOperation, "hmac_sha256: invalid key"))?;
    mac.update(value.as_bytes());
    Ok(hex(&mac.finalize().into_bytes()))
}

/// How a value prints inside text: `null` is an error (it would be sent as a word), booleans,
/// lists and maps print as JSON rather than in Python's notation.
pub(super) fn format_value(out: &mut minijinja::Output, state: &mut minijinja::State, value: &Value) -> Result<(), Error> {
    match value.kind() {
        ValueKind::None => Err(Error::new(ErrorKind::InvalidOperation, "a null value cannot be printed into text; use `default(...)`")),
        // As JSON writes it, not Python's `True` (`?active=false`, not `?active=False`).
        ValueKind::Bool => {
            out.write_str(if value.is_true() { "true" } else { "false" }).map_err(|e| Error::new(ErrorKind::WriteFailure, e.to_string()))
        }
        ValueKind::Seq | ValueKind::Map if !value.is_undefined() => {
            let json = serde_json::to_string(value).map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
            out.write_str(&json).map_err(|e| Error::new(ErrorKind::WriteFailure, e.to_string()))
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// `tojson` that refuses undefined values instead of printing `null`.
pub(super) fn strict_tojson(value: &Value, indent: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    if value.is_undefined() {
        return Err(Error::new(ErrorKind::UndefinedError, "`tojson` was given an undefined value"));
    }
    minijinja::filters::tojson(value, indent, kwargs)
}

/// Reads `yyyy-MM-dd HH:mm:ss`, `yyyy-MM-ddTHH:mm:ss` or `yyyy-MM-dd`.
fn parse_datetime(value: &Value) -> Result<jiff::civil::DateTime, Error> {
    let text = value
        .as_str()
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("expected a date-time string, got {}", value.kind())))?;
    let normalised = text.trim().replacen(' ', "T", 1);
    normalised
        .parse::<jiff::civil::DateTime>()
        .or_else(|_| normalised.parse::<jiff::civil::Date>().map(|date| date.to_datetime(jiff::civil::Time::midnight())))
        .map_err(|_| Error::new(ErrorKind::InvalidOperation, format!("`{text}` is not a date-time like 2026-07-22T09:30:00")))
}

/// `{{ start | datetime_add(minutes=15, seconds=-1) }}`: civil (wall-clock) arithmetic,
/// yielding `yyyy-MM-ddTHH:mm:ss`.
pub(super) fn datetime_add(value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let mut end = parse_datetime(value)?;
    let invalid = |error: jiff::Error| Error::new(ErrorKind::InvalidOperation, error.to_string());
    // Each unit is added on its own: a jiff span carries a single sign.
    for unit in ["days", "hours", "minutes", "seconds"] {
        let amount: Option<i64> = kwargs.get(unit)?;
        if let Some(amount) = amount {
            let span = match unit {
                "days" => jiff::Span::new().try_days(amount),
                "hours" => jiff::Span::new().try_hours(amount),
                "minutes" => jiff::Span::new().try_minutes(amount),
                _ => jiff::Span::new().try_seconds(amount),
            }
            .map_err(invalid)?;
            end = end.checked_add(span).map_err(invalid)?;
        }
    }
    kwargs.assert_all_used()?;
    Ok(Value::from(end.strftime("%Y-%m-%dT%H:%M:%S").to_string()))
}

/// `{{ start | datetime_format("%Y-%m-%d") }}`, with strftime directives.
pub(super) fn datetime_format(value: &Value, format: &str) -> Result<Value, Error> {
    let datetime = parse_datetime(value)?;
    let mut out = String::new();
    jiff::fmt::strtime::format(format, datetime)
        .map(|text| out.push_str(&text))
        .map_err(|error| Error::new(ErrorKind::InvalidOperation, error.to_string()))?;
    Ok(Value::from(out))
}

/// `{{ items | reshape(code='laborOpCode', price='totalPrice') }}`: a list of maps, each
/// rebuilt with the given keys taken from the named fields (missing fields become null).
pub(super) fn reshape(value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let fields: Vec<(String, String)> =
        kwargs.args().map(|key| Ok((key.to_owned(), kwargs.get::<String>(key)?))).collect::<Result<_, Error>>()?;
    kwargs.assert_all_used()?;
    let mut out = Vec::new();
    for item in value.try_iter()? {
        let entries: Vec<(Value, Value)> = fields
            .iter()
            .map(|(key, field)| {
                let found = item.get_attr(field).unwrap_or(Value::UNDEFINED);
                (Value::from(key.as_str()), if found.is_undefined() { Value::from(()) } else { found })
            })
            .collect();
        out.push(Value::from_pairs(entries));
    }
    Ok(Value::from(out))
}

/// Invisible characters that are not spaces but that a person cannot see either: the zero-width
/// space, the word joiner and the byte-order mark (a zero-width no-break space). Dropped by
/// `normalize`. (The zero-width joiners, which change how some scripts are written, are kept.)
const INVISIBLE: &[char] = &['\u{200B}', '\u{2060}', '\u{FEFF}'];

/// `{{ name | normalize }}`: text as a person compares it. Unicode NFC (a decomposed `u` +
/// combining diaeresis is the same as `ü`), case folded (lower case, then NFC again), every kind
/// of space (Unicode `White_Space`: no-break space, thin space, ideographic space, tab, line
/// breaks...) as one plain space, runs of spaces collapsed, the ends trimmed, and zero-width
/// spaces dropped. Apostrophes, dashes and look-alike letters of other scripts are not folded.
pub(super) fn normalize(value: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    let folded: String = value.nfc().collect::<String>().to_lowercase().nfc().collect();
    let mut out = String::with_capacity(folded.len());
    for part in folded.split(char::is_whitespace).map(|part| part.replace(INVISIBLE, "")).filter(|part| !part.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&part);
    }
    out
}

/// `{{ name | reveal }}`: the text in double quotes, with every character other than printable
/// ASCII and the plain space written as its code point, `\u{00A0}`, so that two texts that print
/// the same but differ (a decomposed accent, a no-break space, a Cyrillic `а`) show how they
/// differ. `"` and `\` are escaped; `null` for none or undefined; other values as JSON.
pub(super) fn reveal(value: &Value) -> Result<String, Error> {
    use std::fmt::Write as _;
    let Some(text) = value.as_str() else {
        if value.is_none() || value.is_undefined() {
            return Ok("null".to_owned());
        }
        return serde_json::to_string(value).map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()));
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => {
                let _ = write!(out, "\\u{{{:04X}}}", u32::from(c));
            }
        }
    }
    out.push('"');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_forms_case_and_every_space() {
        assert_eq!(normalize("Mu\u{308}LLER"), "m\u{FC}ller", "NFD and case");
        assert_eq!(normalize("M\u{FC}ller"), normalize("Mu\u{308}ller"));
        assert_eq!(normalize("  van  der\u{A0}Berg \t"), "van der berg", "runs, a no-break space and the ends");
        for space in ['\u{A0}', '\u{2007}', '\u{2009}', '\u{202F}', '\u{3000}', '\u{1680}', '\n', '\u{2028}'] {
            assert_eq!(normalize(&format!("de{space}la{space}{space}Cruz")), "de la cruz", "U+{:04X}", u32::from(space));
        }
        assert_eq!(normalize("Sm\u{200B}ith\u{FEFF}"), "smith", "zero-width characters");
        assert_eq!(normalize("\u{A0} \u{3000}"), "");
        assert_eq!(normalize("\u{130}stanbul"), normalize("i\u{307}stanbul"), "lower-casing İ gives i + a combining dot");
        // Not folded: apostrophes and letters of other scripts that look alike.
        assert_ne!(normalize("O\u{2019}Brien"), normalize("O'Brien"));
        assert_ne!(normalize("Sm\u{456}th"), normalize("Smith"));
    }

    #[test]
    fn reveal_shows_what_does_not_print() {
        assert_eq!(reveal(&Value::from("Smith")).unwrap(), r#""Smith""#);
        assert_eq!(reveal(&Value::from("Mu\u{308}ller")).unwrap(), r#""Mu\u{0308}ller""#);
        assert_eq!(reveal(&Value::from("van\u{A0}der  Berg")).unwrap(), r#""van\u{00A0}der  Berg""#);
        assert_eq!(reveal(&Value::from("a\"b\\c\td")).unwrap(), r#""a\"b\\c\u{0009}d""#);
        assert_eq!(reveal(&Value::from("\u{1F600}")).unwrap(), r#""\u{1F600}""#);
        assert_eq!(reveal(&Value::from(())).unwrap(), "null");
        assert_eq!(reveal(&Value::UNDEFINED).unwrap(), "null");
        assert_eq!(reveal(&Value::from(17)).unwrap(), "17");
    }
}
