//! Plain aligned tables, as kubectl and kcctl print them: a header row in capitals, columns
//! padded with spaces, no borders (easy to read and to `grep`/`awk`).

/// A table under construction.
pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The lines of the table, each indented by `indent` spaces; trailing spaces trimmed.
    pub(crate) fn render_indented(&self, indent: usize) -> String {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(width(cell));
            }
        }
        let line = |cells: &[String]| {
            let mut text = " ".repeat(indent);
            for (i, cell) in cells.iter().enumerate().take(columns) {
                text.push_str(cell);
                if i + 1 < columns {
                    text.push_str(&" ".repeat(widths[i] - width(cell) + 2));
                }
            }
            text.trim_end().to_string()
        };
        let mut lines = vec![line(&self.header)];
        lines.extend(self.rows.iter().map(|r| line(r)));
        lines.join("\n")
    }

    pub(crate) fn render(&self) -> String {
        self.render_indented(0)
    }
}

fn width(text: &str) -> usize {
    text.chars().count()
}

/// The first line of a (possibly multi-line) text, cut to `max` characters: stack traces in a
/// table cell.
pub(crate) fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    match line.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let mut t = Table::new(&["NAME", "STATE"]);
        t.row(vec!["a-long-name".into(), "RUNNING".into()]);
        t.row(vec!["b".into(), "".into()]);
        assert_eq!(t.render(), "NAME         STATE\na-long-name  RUNNING\nb");
        assert_eq!(
            t.render_indented(2).lines().next(),
            Some("  NAME         STATE")
        );
    }

    #[test]
    fn first_lines() {
        assert_eq!(first_line("boom\n\tat x", 80), "boom");
        assert_eq!(first_line("abcdef", 3), "abc…");
    }
}
