//! Printing what the licensor answered: one object or a list, as a table (the default),
//! CSV, the ids alone, or the answer itself as JSON or YAML.

use crate::output::{self, Format};
use serde_json::Value;
use std::io::Write;

/// `admin`'s output formats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum AdminFormat {
    /// Aligned columns for people.
    #[default]
    Table,
    /// The licensor's answer, as JSON.
    Json,
    /// The licensor's answer, as YAML.
    Yaml,
    /// The table's rows as CSV (RFC 4180), with a header row.
    Csv,
    /// Only the ids, one a line, for scripts.
    Name,
}

/// The columns a table shows, by field name.
pub type Columns = &'static [&'static str];

/// What a command answered, and how to show it.
#[derive(Debug)]
pub struct Shown {
    /// The licensor's answer.
    pub value: Value,
    /// A list (`{"items": […]}`) or one object.
    pub list: bool,
    /// The field holding a list's rows (`items`).
    pub items: &'static str,
    /// The columns of the table and the CSV.
    pub columns: Columns,
    /// The field `-o name` prints.
    pub name: &'static str,
    /// A list inside the object shown as a second table (`deployment`'s licenses).
    pub nested: Option<(&'static str, Columns)>,
}

impl Shown {
    /// One object.
    pub fn one(value: Value, columns: Columns) -> Self {
        Self {
            value,
            list: false,
            items: "items",
            columns,
            name: "id",
            nested: None,
        }
    }

    /// A list, `{"items": […]}`.
    pub fn list(value: Value, columns: Columns) -> Self {
        Self {
            list: true,
            ..Self::one(value, columns)
        }
    }

    fn rows(&self) -> Vec<&Value> {
        if self.list {
            self.value[self.items]
                .as_array()
                .map(|items| items.iter().collect())
                .unwrap_or_default()
        } else {
            vec![&self.value]
        }
    }
}

/// Prints `shown` in `format`.
pub fn print(shown: &Shown, format: AdminFormat, out: &mut impl Write) -> anyhow::Result<()> {
    match format {
        AdminFormat::Json => output::print_document(&shown.value, Format::Json, out)?,
        AdminFormat::Yaml => output::print_document(&shown.value, Format::Yaml, out)?,
        AdminFormat::Name => {
            for row in shown.rows() {
                writeln!(out, "{}", text(&row[shown.name], ""))?;
            }
        }
        AdminFormat::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            writer.write_record(shown.columns)?;
            for row in shown.rows() {
                writer.write_record(shown.columns.iter().map(|c| text(&row[*c], "")))?;
            }
            writer.flush()?;
        }
        AdminFormat::Table => {
            table(&shown.rows(), shown.columns, out)?;
            if let Some((field, columns)) = shown.nested {
                let items: Vec<&Value> = shown.value[field]
                    .as_array()
                    .map(|items| items.iter().collect())
                    .unwrap_or_default();
                writeln!(out)?;
                writeln!(out, "{}", field.to_uppercase())?;
                table(&items, columns, out)?;
            }
        }
    }
    Ok(())
}

/// A cell: strings as they are, `null` as `empty`, anything else as JSON.
fn text(value: &Value, empty: &str) -> String {
    match value {
        Value::Null => empty.to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn table(rows: &[&Value], columns: Columns, out: &mut impl Write) -> std::io::Result<()> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| columns.iter().map(|c| text(&row[*c], "-")).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain(std::iter::once(c.len()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    writeln!(
        out,
        "{}",
        line(columns.iter().map(|c| c.to_uppercase()).collect())
    )?;
    for row in cells {
        writeln!(out, "{}", line(row))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn render(shown: &Shown, format: AdminFormat) -> String {
        let mut out = Vec::new();
        print(shown, format, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    const COLUMNS: Columns = &["id", "name", "count"];

    fn accounts() -> Shown {
        Shown::list(
            json!({"items": [
                {"id": "a1", "name": "Acme, Inc. \"the best\"", "count": 3},
                {"id": "b2", "name": "Bee", "count": null}
            ]}),
            COLUMNS,
        )
    }

    #[test]
    fn a_list_prints_as_a_table_csv_or_names() {
        let shown = accounts();
        assert_eq!(
            render(&shown, AdminFormat::Table),
            "ID  NAME                   COUNT\na1  Acme, Inc. \"the best\"  3\nb2  Bee                    -\n"
        );
        // RFC 4180: a header row, fields with commas or quotes quoted, quotes doubled.
        assert_eq!(
            render(&shown, AdminFormat::Csv),
            "id,name,count\na1,\"Acme, Inc. \"\"the best\"\"\",3\nb2,Bee,\n"
        );
        assert_eq!(render(&shown, AdminFormat::Name), "a1\nb2\n");
        let json: Value = serde_json::from_str(&render(&shown, AdminFormat::Json)).unwrap();
        assert_eq!(json, shown.value);
    }

    #[test]
    fn one_object_prints_as_a_one_row_table() {
        let shown = Shown::one(json!({"id": "a1", "name": "Acme", "count": 1}), COLUMNS);
        assert_eq!(
            render(&shown, AdminFormat::Table),
            "ID  NAME  COUNT\na1  Acme  1\n"
        );
        assert_eq!(render(&shown, AdminFormat::Name), "a1\n");
        assert_eq!(
            render(&shown, AdminFormat::Csv),
            "id,name,count\na1,Acme,1\n"
        );
        assert!(render(&shown, AdminFormat::Yaml).contains("name: Acme"));
    }

    #[test]
    fn nested_lists_print_as_a_second_table() {
        let mut shown = Shown::one(
            json!({"id": "d1", "name": "x", "count": 0, "licenses": [{"id": "l1", "name": "y", "count": 2}]}),
            COLUMNS,
        );
        shown.nested = Some(("licenses", COLUMNS));
        let text = render(&shown, AdminFormat::Table);
        assert!(
            text.ends_with("LICENSES\nID  NAME  COUNT\nl1  y     2\n"),
            "{text}"
        );
    }
}
