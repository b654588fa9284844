//! Byte ranges of YAML nodes in the source text, for in-place edits that keep everything else
//! byte-for-byte. Every edit built on these spans is verified afterwards by re-parsing (see
//! `edit`), so a span that is wrong for an exotic construct leads to a refusal, never to damage.

use super::tree::{Kind, Node, Pos, Style};
use std::ops::Range;

/// Byte offsets of line starts.
pub struct LineMap {
    starts: Vec<usize>,
}

impl LineMap {
    pub fn new(src: &str) -> LineMap {
        let mut starts = vec![0];
        starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        LineMap { starts }
    }

    pub fn line_count(&self) -> usize {
        self.starts.len()
    }

    /// Byte offset of the start of a 1-based line.
    pub fn line_start(&self, line: usize) -> Option<usize> {
        self.starts.get(line.checked_sub(1)?).copied()
    }

    /// Byte offset just past the text of a line (before its `\n`, and before a `\r`).
    pub fn line_end(&self, src: &str, line: usize) -> Option<usize> {
        let start = self.line_start(line)?;
        let end = self.starts.get(line).map(|s| s - 1).unwrap_or(src.len());
        let text = &src[start..end];
        Some(start + text.strip_suffix('\r').unwrap_or(text).len())
    }

    pub fn line<'s>(&self, src: &'s str, line: usize) -> Option<&'s str> {
        Some(&src[self.line_start(line)?..self.line_end(src, line)?])
    }

    /// Byte offset of a position (column counted in characters).
    pub fn offset(&self, src: &str, p: Pos) -> Option<usize> {
        let start = self.line_start(p.line)?;
        let end = self.line_end(src, p.line)?;
        let text = &src[start..end];
        let skip = p.col.checked_sub(1)?;
        if skip == text.chars().count() {
            return Some(end);
        }
        text.char_indices().nth(skip).map(|(i, _)| start + i)
    }

    /// The 1-based line holding a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }
}

/// Indentation (in characters) of a line: its leading spaces.
pub fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Blank or comment-only.
pub fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// Span of a plain, single- or double-quoted scalar starting at byte `start`.
fn inline_scalar_end(src: &str, start: usize, style: Style, in_flow: bool) -> Option<usize> {
    let b = src.as_bytes();
    match style {
        Style::SingleQuoted => {
            let mut i = start + 1;
            while i < b.len() {
                if b[i] == b'\'' {
                    if b.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    return Some(i + 1);
                }
                i += 1;
            }
            None
        }
        Style::DoubleQuoted => {
            let mut i = start + 1;
            while i < b.len() {
                match b[i] {
                    b'\\' => i += 2,
                    b'"' => return Some(i + 1),
                    _ => i += 1,
                }
            }
            None
        }
        Style::Plain => {
            let mut i = start;
            while i < b.len() {
                let c = b[i];
                let next = b.get(i + 1).copied();
                let ws_after =
                    |n: Option<u8>| matches!(n, None | Some(b' ' | b'\t' | b'\n' | b'\r'));
                if c == b'\n' || c == b'\r' {
                    break;
                }
                if (c == b' ' || c == b'\t') && next == Some(b'#') {
                    break;
                }
                if c == b':'
                    && (ws_after(next) || (in_flow && matches!(next, Some(b',' | b']' | b'}'))))
                {
                    break;
                }
                if in_flow && matches!(c, b',' | b']' | b'}') {
                    break;
                }
                i += 1;
            }
            // Trailing blanks are not part of the scalar.
            while i > start && matches!(b[i - 1], b' ' | b'\t') {
                i -= 1;
            }
            Some(i)
        }
        Style::Literal | Style::Folded => None,
    }
}

/// The byte range of a mapping key.
pub fn key_span(
    src: &str,
    lm: &LineMap,
    key_pos: Pos,
    key_style: Style,
    in_flow: bool,
) -> Option<Range<usize>> {
    let start = lm.offset(src, key_pos)?;
    Some(start..inline_scalar_end(src, start, key_style, in_flow)?)
}

/// Offset just past the `:` that follows a key.
pub fn after_colon(
    src: &str,
    lm: &LineMap,
    key_pos: Pos,
    key_style: Style,
    in_flow: bool,
) -> Option<usize> {
    let k = key_span(src, lm, key_pos, key_style, in_flow)?;
    let rest = &src[k.end..];
    let skipped = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    (rest[skipped..].starts_with(':')).then_some(k.end + skipped + 1)
}

/// The byte range of a scalar value. For an empty value (`key:` with nothing after it) an empty
/// range just after the colon. `key` is the holding entry's key position and style, when the
/// scalar is a mapping value.
pub fn scalar_span(
    src: &str,
    lm: &LineMap,
    node: &Node,
    key: Option<(Pos, Style)>,
    in_flow: bool,
) -> Option<Range<usize>> {
    let Kind::Scalar {
        value,
        style,
        decorated,
        ..
    } = &node.kind
    else {
        return None;
    };
    if *decorated {
        return None;
    }
    match style {
        Style::Plain if value.is_empty() => {
            // The parser places an empty value at the next token; the value really sits after `:`.
            let (kp, ks) = key?;
            let at = after_colon(src, lm, kp, ks, in_flow)?;
            Some(at..at)
        }
        Style::Plain | Style::SingleQuoted | Style::DoubleQuoted => {
            let start = lm.offset(src, node.pos)?;
            let end = inline_scalar_end(src, start, *style, in_flow)?;
            (end > start).then_some(start..end)
        }
        Style::Literal | Style::Folded => {
            // From the `|`/`>` header after the key to the end of the last content line.
            let (kp, ks) = key?;
            let colon = after_colon(src, lm, kp, ks, in_flow)?;
            let rest = &src[colon..];
            let header = colon + (rest.len() - rest.trim_start_matches([' ', '\t']).len());
            if !matches!(src.as_bytes().get(header), Some(b'|' | b'>')) {
                return None;
            }
            let key_indent = kp.col - 1;
            let header_line = lm.line_of(header);
            let mut last = header_line;
            for line in header_line + 1..=lm.line_count() {
                let text = lm.line(src, line)?;
                if text.trim().is_empty() {
                    continue;
                }
                if indent_of(text) <= key_indent {
                    break;
                }
                last = line;
            }
            Some(header..lm.line_end(src, last)?)
        }
    }
}

/// The byte range of a flow collection, `{` to `}` or `[` to `]` inclusive.
pub fn flow_span(src: &str, lm: &LineMap, node: &Node) -> Option<Range<usize>> {
    if !node.flow {
        return None;
    }
    let start = lm.offset(src, node.pos)?;
    let end = lm.offset(src, node.end?)?;
    Some(start..end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tree::parse;

    fn value_span(src: &str, key: &str) -> String {
        let root = parse(src).unwrap().unwrap();
        let lm = LineMap::new(src);
        let e = root.get(key).unwrap();
        let r = match &e.value.kind {
            Kind::Scalar { .. } => {
                scalar_span(src, &lm, &e.value, Some((e.key_pos, e.key_style)), false).unwrap()
            }
            _ => flow_span(src, &lm, &e.value).unwrap(),
        };
        src[r].to_string()
    }

    #[test]
    fn spans_of_each_scalar_style() {
        let src = "a: plain value # comment\nb: 'it''s'  \nc: \"q\\\"x\" # c\nd:\ne: |\n  one\n   two\n\nf: [x, {y: z}]\n\"g k\": v\nh: ünï x\n";
        assert_eq!(value_span(src, "a"), "plain value");
        assert_eq!(value_span(src, "b"), "'it''s'");
        assert_eq!(value_span(src, "c"), "\"q\\\"x\"");
        assert_eq!(value_span(src, "d"), "");
        assert_eq!(value_span(src, "e"), "|\n  one\n   two");
        assert_eq!(value_span(src, "f"), "[x, {y: z}]");
        assert_eq!(value_span(src, "g k"), "v");
        assert_eq!(value_span(src, "h"), "ünï x");
    }

    #[test]
    fn line_map_offsets() {
        let src = "ab\r\nçd\n";
        let lm = LineMap::new(src);
        assert_eq!(lm.line(src, 1), Some("ab"));
        assert_eq!(lm.offset(src, Pos { line: 2, col: 2 }), Some(6));
        assert_eq!(lm.line_of(6), 2);
    }
}
