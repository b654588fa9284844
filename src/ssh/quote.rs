//! POSIX `sh` quoting. This is THE one function through which every value that reaches a remote
//! shell must pass: file paths, user names, passwords fed to commands, whole scripts handed to
//! `sh -c`. Never format user data into a command line any other way.
//!
//! A word made only of characters that no POSIX shell treats specially is left bare (so logs stay
//! readable); everything else is wrapped in single quotes, inside which nothing is special except
//! the single quote itself, which is written as `'\''` (close, escaped quote, reopen).
//!
//! A NUL byte cannot be passed through any shell (argv strings are NUL-terminated): a string that
//! contains one is still quoted, but the remote side will see it cut at the NUL.

/// Characters safe to leave unquoted anywhere in a word. `=` and `:` are included because they
/// only matter in assignment position, which a quoted argument never is; `~` is excluded (tilde
/// expansion), as are globs, `#`, and whitespace.
fn is_safe(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '_' | '@' | '%' | '+' | '=' | ':' | ',' | '.' | '/' | '-')
}

/// Quote one word for a POSIX shell. The result, pasted into a command line, expands to exactly
/// `s`: one argument, no globbing, no parameter/command substitution.
pub fn quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(is_safe) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Quote each argument and join them with single spaces: a ready command line.
pub fn join<S: AsRef<str>>(args: &[S]) -> String {
    args.iter()
        .map(|a| quote(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A reference decoder for exactly the grammar `quote` may emit: bare safe characters,
    /// `'...'` runs, and `\'`. Returns None on anything else, e.g. an unquoted special character.
    fn decode(word: &str) -> Option<String> {
        let mut out = String::new();
        let mut chars = word.chars();
        while let Some(c) = chars.next() {
            match c {
                '\'' => loop {
                    match chars.next()? {
                        '\'' => break,
                        x => out.push(x),
                    }
                },
                '\\' => {
                    if chars.next()? != '\'' {
                        return None;
                    }
                    out.push('\'');
                }
                c if is_safe(c) => out.push(c),
                _ => return None,
            }
        }
        Some(out)
    }

    #[test]
    fn examples() {
        assert_eq!(quote(""), "''");
        assert_eq!(quote("abc"), "abc");
        assert_eq!(quote("/etc/foo.conf"), "/etc/foo.conf");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(quote("~root"), "'~root'");
        assert_eq!(join(&["printf", "%s", "a b", ""]), "printf %s 'a b' ''");
    }

    proptest! {
        #[test]
        fn decodes_back_to_the_input(s in any::<String>()) {
            let q = quote(&s);
            prop_assert_eq!(decode(&q), Some(s));
        }

        #[test]
        fn join_keeps_word_boundaries(v in proptest::collection::vec("[ -~]{0,8}", 0..5)) {
            // Every word in `join` output decodes on its own: splitting on the spaces that sit
            // outside quotes gives back the original argument list.
            let line = join(&v);
            let mut words = Vec::new();
            let mut cur = String::new();
            let (mut in_q, mut escaped) = (false, false);
            for c in line.chars() {
                if escaped {
                    escaped = false;
                } else if c == '\\' && !in_q {
                    escaped = true;
                } else if c == '\'' {
                    in_q = !in_q;
                } else if c == ' ' && !in_q {
                    words.push(std::mem::take(&mut cur));
                    continue;
                }
                cur.push(c);
            }
            if !line.is_empty() { words.push(cur); }
            let decoded: Vec<String> = words.iter().map(|w| decode(w).expect("decodable")).collect();
            prop_assert_eq!(decoded, v);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// The local /bin/sh agrees with the decoder (the remote round trip is in tests/ssh.rs).
        #[test]
        fn local_sh_round_trip(s in "[^\u{0}]{0,24}") {
            let out = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(format!("printf %s {}", quote(&s)))
                .output()
                .expect("run /bin/sh");
            prop_assert!(out.status.success());
            prop_assert_eq!(String::from_utf8_lossy(&out.stdout).into_owned(), s);
        }
    }
}
