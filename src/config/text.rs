//! The bytes of stack.yaml before YAML sees them: UTF-8, and only characters YAML allows (not
//! even in comments: a NUL would otherwise end the parse early and hide everything after it).

use super::tree::Pos;

/// Why the text was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextError {
    pub pos: Pos,
    pub message: String,
}

/// Line and column (in characters) of byte `offset` in valid UTF-8 `text`.
fn pos_of(text: &str, offset: usize) -> Pos {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    Pos {
        line,
        col: before[line_start..].chars().count() + 1,
    }
}

/// The file's text, or where it stops being UTF-8.
pub fn decode(bytes: &[u8]) -> Result<&str, TextError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let ok = e.valid_up_to();
        let text = std::str::from_utf8(&bytes[..ok]).unwrap_or_default();
        TextError {
            pos: pos_of(text, ok),
            message: format!(
                "byte 0x{:02x} is not UTF-8; save the file as UTF-8",
                bytes[ok]
            ),
        }
    })
}

/// YAML 1.2's printable set: tab, LF, CR and everything from space up, except DEL, the C1
/// controls (but NEL) and U+FFFE/U+FFFF. A BOM is allowed only as the first character.
fn allowed(c: char, first: bool) -> bool {
    match c {
        '\t' | '\n' | '\r' => true,
        '\u{feff}' => first,
        '\u{85}' => true,
        '\u{fffe}' | '\u{ffff}' => false,
        c => !c.is_control(),
    }
}

/// The first character YAML does not allow, with its position.
pub fn check_chars(text: &str) -> Result<(), TextError> {
    for (i, c) in text.char_indices() {
        if !allowed(c, i == 0) {
            return Err(TextError {
                pos: pos_of(text, i),
                message: format!(
                    "control character U+{:04X} is not allowed in YAML, not even in a comment; remove it (write `\\u{:04x}` inside a double-quoted string if the value needs it)",
                    c as u32, c as u32
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_bad_bytes_and_characters() {
        let e = decode(b"a: 1\nb: \xc3\xa9\xff\n").unwrap_err();
        assert_eq!(e.pos, Pos { line: 2, col: 5 });
        assert!(e.message.contains("0xff"), "{}", e.message);
        let e = check_chars("a: 1\n# note \0 here\n").unwrap_err();
        assert_eq!(e.pos, Pos { line: 2, col: 8 });
        assert!(e.message.contains("U+0000"), "{}", e.message);
        assert!(check_chars("\u{feff}a: 'tab\there'\r\n").is_ok());
        assert!(check_chars("a: \u{1b}[31m\n").is_err());
    }
}
