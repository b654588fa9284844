//! Rendering of results as a table, JSON or YAML (`-o`).

use crate::cli::OutputFormat;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use serde::Serialize;

/// Print rows as a table (header + rows) or the serializable value as JSON/YAML.
pub fn render<T: Serialize>(format: OutputFormat, header: &[&str], rows: Vec<Vec<String>>, value: &T) -> anyhow::Result<()> {
    match format {
        OutputFormat::Table => println!("{}", table(header, rows)),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(value)?),
        OutputFormat::Yaml => print!("{}", serde_yaml::to_string(value)?),
    }
    Ok(())
}

pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(header.to_vec());
    for r in rows {
        t.add_row(r);
    }
    t
}
