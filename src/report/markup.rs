//! Escaping for the XML (`JUnit`) and HTML reports: whatever a name, message or body holds, the
//! document stays valid and shows it as text.
//!
//! Characters XML 1.0 does not allow (control characters other than tab, newline and carriage
//! return, and U+FFFE and U+FFFF) are first written as visible escapes by
//! [`crate::printable::escape`], which also escapes carriage returns; then `&`, `<`, `>`, `"` and
//! `'` become entities, so `]]>` and `<script>` are inert text. In attributes, newlines and tabs
//! become character references, which XML parsers would otherwise turn into spaces.

/// `text` as element content.
pub(super) fn text(text: &str) -> String {
    let text = crate::printable::escape(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` as an attribute value (inside double quotes).
pub(super) fn attribute(value: &str) -> String {
    text(value).replace('\n', "&#10;").replace('\t', "&#9;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_characters_xml_forbids() {
        assert_eq!(text("a & b <c> \"d\" 'e' ]]>"), "a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; ]]&gt;");
        assert_eq!(text("nul\0 esc\u{1b} cr\r fffe\u{FFFE}"), "nul\\x00 esc\\x1b cr\\x0d fffe\\u{fffe}");
        assert_eq!(attribute("line\nnext\ttab"), "line&#10;next&#9;tab");
    }
}
