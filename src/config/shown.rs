//! Values quoted in messages: escaped (a newline or an escape sequence in stack.yaml can't forge
//! a finding line or paint the terminal) and cut to `MAX_SHOWN` characters.

/// Characters of a value shown in a message before it is cut.
pub const MAX_SHOWN: usize = 80;

/// `value` in backticks, escaped and cut: `` `a\nb` ``, `` `aaaa…` (300 characters) ``.
pub fn shown(value: &str) -> String {
    let total = value.chars().count();
    let mut out = String::from("`");
    out.push_str(&escape(&value.chars().take(MAX_SHOWN).collect::<String>()));
    out.push('`');
    if total > MAX_SHOWN {
        out.push_str(&format!("… ({total} characters)"));
    }
    out
}

/// Control characters (C0, DEL, C1), line and paragraph separators, the BOM and backticks as
/// visible escapes; everything else as it is.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '`' => out.push_str("\\`"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// A whole message made safe for one output line: control characters escaped, nothing cut.
pub fn one_line(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for c in message.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() && c != '\t' => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c if matches!(c, '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// A finished message made safe: control characters escaped (`one_line`) and every
/// backtick-quoted span longer than `MAX_SHOWN` characters cut, for messages that quote a value
/// with a plain `` `{v}` ``.
pub fn tidy(message: &str) -> String {
    let m = one_line(message);
    let mut out = String::with_capacity(m.len());
    for (i, part) in m.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        let n = part.chars().count();
        if i % 2 == 1 && n > MAX_SHOWN {
            out.extend(part.chars().take(MAX_SHOWN));
            out.push_str(&format!("… ({n} characters)"));
        } else {
            out.push_str(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_cuts() {
        assert_eq!(shown("a\nb\u{1b}[31m`"), "`a\\nb\\u{1b}[31m\\``");
        let long = "x".repeat(300);
        let s = shown(&long);
        assert!(s.starts_with(&format!("`{}`", "x".repeat(80))), "{s}");
        assert!(s.ends_with("… (300 characters)"), "{s}");
        assert_eq!(one_line("a\nerror: forged"), "a\\nerror: forged");
        assert_eq!(shown("ünï"), "`ünï`");
        let t = tidy(&format!("`{}` is bad\nerror: x", "y".repeat(100)));
        assert_eq!(
            t,
            format!("`{}… (100 characters)` is bad\\nerror: x", "y".repeat(80))
        );
    }
}
