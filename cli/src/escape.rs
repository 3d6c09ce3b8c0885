//! Payloads as lines of text: printable text as it is, everything else escaped,
//! so that one payload is always exactly one line.

use std::fmt::Write;

/// `payload` as one line: UTF-8 text as it is, except control characters
/// (`\n`, `\t`, `\r`, others as `\u{..}`) and the backslash (`\\`); bytes that
/// are not UTF-8 as `\xNN`.
pub(crate) fn escape(payload: &[u8]) -> String {
    let mut line = String::with_capacity(payload.len());
    for chunk in payload.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' || c.is_control() {
                line.extend(c.escape_default());
            } else {
                line.push(c);
            }
        }
        for byte in chunk.invalid() {
            write!(line, "\\x{byte:02x}").expect("writing to a String");
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn text_stays_text() {
        assert_eq!(escape(b"hello, world"), "hello, world");
        assert_eq!(escape("grüß dich".as_bytes()), "grüß dich");
        assert_eq!(escape(b"say \"hi\" 'now'"), "say \"hi\" 'now'");
    }

    #[test]
    fn control_characters_and_backslashes_are_escaped() {
        assert_eq!(escape(b"a\nb\tc\rd"), "a\\nb\\tc\\rd");
        assert_eq!(escape(b"\x01\x7f"), "\\u{1}\\u{7f}");
        assert_eq!(escape(b"back\\slash"), "back\\\\slash");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_hex() {
        assert_eq!(escape(b"\xff\xfe ok \xc3"), "\\xff\\xfe ok \\xc3");
    }
}
