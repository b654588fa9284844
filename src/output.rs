//! Rendering of results as a table, JSON or YAML (`-o`).

use crate::cli::OutputFormat;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use serde::Serialize;

/// Print rows as a table (header + rows) or the serializable value as JSON/YAML.
pub fn render<T: Serialize>(
    format: OutputFormat,
    header: &[&str],
    rows: Vec<Vec<String>>,
    value: &T,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Table => println!("{}", table(header, rows)),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(value)?),
        OutputFormat::Yaml => print!("{}", serde_yaml::to_string(value)?),
    }
    Ok(())
}

pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.to_vec());
    for r in rows {
        t.add_row(r.iter().map(|c| terminal_safe(c)).collect::<Vec<_>>());
    }
    t.set_content_arrangement(arrangement(t.width()));
    t
}

/// Fit the table to the terminal, unless the terminal's width is absurd: a pty that reports
/// no size (`script`, `ssh -t` from some tools, CI runners) says 0 columns, and fitting to that
/// prints one character per column. Then the table is not wrapped at all.
fn arrangement(terminal_width: Option<u16>) -> ContentArrangement {
    match terminal_width {
        Some(w) if w < MIN_WIDTH => ContentArrangement::Disabled,
        _ => ContentArrangement::Dynamic,
    }
}

/// Narrower than this is not a real terminal's width.
const MIN_WIDTH: u16 = 20;

/// Text for a terminal: a remote command's stderr, an API's message or a log line may hold
/// escape sequences (which would repaint the user's terminal) or a CR (which hides the start
/// of a line). Newlines stay, tabs become a space, every other control character (C0, DEL,
/// C1) is dropped. Used for table cells and the final error message: the sinks every error
/// text reaches.
pub fn terminal_safe(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' => Some('\n'),
            '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::terminal_safe;

    #[test]
    fn a_terminal_without_a_size_gets_an_unwrapped_table() {
        use comfy_table::ContentArrangement::Disabled;
        let disabled = |w| matches!(super::arrangement(w), Disabled);
        assert!(disabled(Some(0)) && disabled(Some(19)));
        assert!(!disabled(Some(80)) && !disabled(None));
        let mut t = super::table(
            &["COMPONENT", "RESULT"],
            vec![vec!["host-prep".into(), "unchanged".into()]],
        );
        t.set_width(0);
        t.set_content_arrangement(super::arrangement(t.width()));
        assert!(t.to_string().contains("COMPONENT"), "{t}");
    }

    #[test]
    fn escapes_and_carriage_returns_are_dropped_newlines_kept() {
        assert_eq!(
            terminal_safe("\u{1b}[2J\u{1b}[31mfail\r\tcause\nnext\u{7f}\u{9b}line"),
            "[2J[31mfail causenextline".replace("causenext", "cause\nnext")
        );
        assert_eq!(terminal_safe("plain — ünïcode"), "plain — ünïcode");
    }

    #[test]
    fn table_cells_are_terminal_safe() {
        let t = super::table(&["A"], vec![vec!["x\u{1b}]0;pwned\u{7}y".into()]]).to_string();
        assert!(!t.contains('\u{1b}') && !t.contains('\u{7}'), "{t:?}");
        assert!(t.contains("x]0;pwnedy"), "{t}");
    }
}
