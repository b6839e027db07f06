//! The code of a template (what is inside `{{ }}` and `{% %}`), and the filter, test and
//! function names it calls, found by scanning.
//!
//! These scanners replace regular expressions that every `recipe` process compiled before
//! checking a recipe; compiling them (their `\s` and `\b` are Unicode classes) cost more than
//! checking a whole recipe with them. They match exactly what those expressions matched, quoted
//! beside each function: whitespace is Unicode's `White_Space` (as `\s` is), a word character
//! is regex's `\w`, and matches are found leftmost first and never overlap.

/// A name found in template code, with its byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Name<'a> {
    pub text: &'a str,
    pub start: usize,
}

/// The template's code (inside `{{ }}` and `{% %}`) with string literals blanked and everything
/// else replaced by spaces, so offsets stay those of the text.
pub(crate) fn code_only(text: &str) -> String {
    // `{% raw %}...{% endraw %}` is text, whatever it looks like.
    let text = blank_raw_blocks(text);
    let bytes = text.as_bytes();
    let mut out = vec![b' '; bytes.len()];
    let mut index = 0;
    let mut in_code = false;
    let mut quote: Option<u8> = None;
    while index < bytes.len() {
        let pair = &bytes[index..bytes.len().min(index + 2)];
        match (in_code, quote) {
            (false, _) if pair == b"{{" || pair == b"{%" => {
                in_code = true;
                index += 2;
                continue;
            }
            (true, None) if pair == b"}}" || pair == b"%}" => {
                in_code = false;
                index += 2;
                continue;
            }
            (true, None) if bytes[index] == b'\'' || bytes[index] == b'"' => quote = Some(bytes[index]),
            (true, Some(q)) if bytes[index] == q => quote = None,
            (true, Some(_)) if bytes[index] == b'\\' => index += 1,
            (true, None) => out[index] = bytes[index],
            _ => {}
        }
        index += 1;
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Every `{% raw %}` block, up to its `{% endraw %}` or the end of the text, as spaces (one per
/// byte): `(?s)\{%-?\s*raw\s*-?%\}.*?(\{%-?\s*endraw\s*-?%\}|$)`.
fn blank_raw_blocks(text: &str) -> std::borrow::Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = text[search..].find("{%") {
        let start = search + found;
        let Some(body) = tag_end(text, start, "raw") else {
            search = start + 1;
            continue;
        };
        let end = (body..text.len())
            .filter(|&at| text.is_char_boundary(at))
            .find_map(|at| text[at..].starts_with("{%").then(|| tag_end(text, at, "endraw")).flatten())
            .unwrap_or(text.len());
        out.push_str(&text[copied..start]);
        out.push_str(&" ".repeat(end - start));
        copied = end;
        search = end;
    }
    if copied == 0 {
        return std::borrow::Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    std::borrow::Cow::Owned(out)
}

/// Where the tag `{%-? WORD -?%}` that starts at `start` ends (`\{%-?\s*WORD\s*-?%\}`), if one
/// does.
fn tag_end(text: &str, start: usize, word: &str) -> Option<usize> {
    let mut at = start + 2;
    at += usize::from(text[at..].starts_with('-'));
    at = skip_whitespace(text, at);
    at += text[at..].starts_with(word).then_some(word.len())?;
    at = skip_whitespace(text, at);
    at += usize::from(text[at..].starts_with('-'));
    text[at..].starts_with("%}").then_some(at + 2)
}

/// The offset after the whitespace (Unicode `White_Space`, as regex's `\s`) at `at`.
fn skip_whitespace(text: &str, at: usize) -> usize {
    text[at..].char_indices().find(|(_, c)| !c.is_whitespace()).map_or(text.len(), |(offset, _)| at + offset)
}

fn starts_name(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_'
}

/// The end of the name `[A-Za-z_][A-Za-z0-9_]*` at `at`, if one starts there.
fn name_end(text: &str, at: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    if !bytes.get(at).copied().is_some_and(starts_name) {
        return None;
    }
    Some(bytes[at..].iter().position(|b| !(b.is_ascii_alphanumeric() || *b == b'_')).map_or(bytes.len(), |offset| at + offset))
}

/// The filters: `\|\s*([A-Za-z_][A-Za-z0-9_]*)`.
pub(crate) fn filters(code: &str) -> Vec<Name<'_>> {
    let mut found = Vec::new();
    let mut search = 0;
    while let Some(offset) = code[search..].find('|') {
        let start = skip_whitespace(code, search + offset + 1);
        match name_end(code, start) {
            Some(end) => {
                found.push(Name { text: &code[start..end], start });
                search = end;
            }
            None => search += offset + 1,
        }
    }
    found
}

/// The tests: `\bis\s+(?:not\s+)?([A-Za-z_][A-Za-z0-9_]*)`.
pub(crate) fn tests(code: &str) -> Vec<Name<'_>> {
    let mut found = Vec::new();
    let mut search = 0;
    while let Some(offset) = code[search..].find("is") {
        let at = search + offset;
        let boundary = code[..at].chars().next_back().is_none_or(|c| !regex_syntax::is_word_character(c));
        let after = skip_whitespace(code, at + 2);
        let name = if boundary && after > at + 2 { test_name(code, after) } else { None };
        match name {
            Some(name) => {
                search = name.start + name.text.len();
                found.push(name);
            }
            None => search = at + 1,
        }
    }
    found
}

/// The test's name at `at`, after `is` and its whitespace: the name after `not` and its
/// whitespace when there is one, else the name here (which may be `not` itself).
fn test_name(code: &str, at: usize) -> Option<Name<'_>> {
    if code[at..].starts_with("not") {
        let after = skip_whitespace(code, at + 3);
        if after > at + 3
            && let Some(end) = name_end(code, after)
        {
            return Some(Name { text: &code[after..end], start: after });
        }
    }
    name_end(code, at).map(|end| Name { text: &code[at..end], start: at })
}

/// The calls: `([A-Za-z_][A-Za-z0-9_.]*)\s*\(` (a dotted name is a method call).
pub(crate) fn calls(code: &str) -> Vec<Name<'_>> {
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if !starts_name(bytes[at]) {
            at += 1;
            continue;
        }
        let end = bytes[at..].iter().position(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.')).map_or(bytes.len(), |n| at + n);
        let paren = skip_whitespace(code, end);
        if bytes.get(paren) == Some(&b'(') {
            found.push(Name { text: &code[at..end], start: at });
            at = paren + 1;
        } else {
            // Every later start inside this name ends at the same place, and fails the same way.
            at = end;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn regex_names<'a>(pattern: &str, code: &'a str) -> Vec<Name<'a>> {
        let regex = regex::Regex::new(pattern).unwrap();
        regex
            .captures_iter(code)
            .map(|captures| {
                let name = captures.get(1).unwrap();
                Name { text: name.as_str(), start: name.start() }
            })
            .collect()
    }

    fn regex_code_only(text: &str) -> String {
        let raw = regex::Regex::new(r"(?s)\{%-?\s*raw\s*-?%\}.*?(\{%-?\s*endraw\s*-?%\}|$)").unwrap();
        let blanked = raw.replace_all(text, |found: &regex::Captures| " ".repeat(found[0].len()));
        code_only(&blanked)
    }

    /// The scanners against the expressions they replace.
    fn agree(text: &str) {
        let code = code_only(text);
        assert_eq!(code, regex_code_only(text), "code of {text:?}");
        assert_eq!(filters(&code), regex_names(r"\|\s*([A-Za-z_][A-Za-z0-9_]*)", &code), "filters in {code:?}");
        assert_eq!(tests(&code), regex_names(r"\bis\s+(?:not\s+)?([A-Za-z_][A-Za-z0-9_]*)", &code), "tests in {code:?}");
        assert_eq!(calls(&code), regex_names(r"([A-Za-z_][A-Za-z0-9_.]*)\s*\(", &code), "calls in {code:?}");
    }

    #[test]
    fn scanners_match_the_expressions_they_replace() {
        for text in [
            "{{ x | b64encod }} {{ y is definedd }} {{ nwo() }} {{ z | default('| nope') }} {{ a.items() }}",
            "{{ x is not none }} {{ x is not }} {{ x is notable }} {{ x is not (y) }} {{ this is x }} {{ é is x }}",
            "{{ f (1) | g\u{a0}| h }} {{ 1abc() }} {{ a.b.c () }} {{ x|y|z }} {{ is is is }} {{ x is\u{2003}odd }}",
            "a {% raw %}{{ nope() }}{% endraw %} {{ yes() }} {%- raw -%} {{ x | y }} {%-endraw-%}{{ z | w }}",
            "{%raw%}{{ open() }} to the end",
            "{% rawx %}{{ f() }}{% endraw %}",
            "{{ 'it''s' | upper }} {{ \"a\\\"b\" | lower }} {{ x | }}",
        ] {
            agree(text);
        }
    }

    proptest! {
        #[test]
        fn scanners_agree_on_any_text(text in "[{}%|()'\" \\-a-z_.0-9\u{a0}\u{e9}\u{2003}]{0,40}|(\\{\\{|\\{%|%\\}|\\}\\}| is | not |raw|endraw|[ |(.a-z])*") {
            agree(&text);
        }
    }
}
