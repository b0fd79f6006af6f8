//! Tables as columns: what a CSV file holds, and what the Python package hands to pandas
//! without printing and parsing numbers.

use super::Num;

/// One column's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Numbers; `None` is an empty cell (not reached, not applicable).
    Number(Vec<Option<f64>>),
    /// Text (arm names, drug names).
    Text(Vec<String>),
    /// Yes/no, written `true`/`false`.
    Flag(Vec<bool>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::Number(v) => v.len(),
            Column::Text(v) => v.len(),
            Column::Flag(v) => v.len(),
        }
    }

    fn cell(&self, row: usize) -> String {
        match self {
            Column::Number(v) => v[row].map_or_else(String::new, |x| Num(x).to_string()),
            Column::Text(v) => quoted(&v[row]),
            Column::Flag(v) => v[row].to_string(),
        }
    }
}

/// A cell of a row being added.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A number, or an empty cell.
    Number(Option<f64>),
    /// Text.
    Text(String),
    /// Yes/no (for a flag column; a number column takes a `bool` as 1 or 0).
    Flag(bool),
}

impl From<f64> for Cell {
    fn from(x: f64) -> Cell {
        Cell::Number(Some(x))
    }
}

impl From<Option<f64>> for Cell {
    fn from(x: Option<f64>) -> Cell {
        Cell::Number(x)
    }
}

impl From<bool> for Cell {
    fn from(x: bool) -> Cell {
        Cell::Flag(x)
    }
}

impl From<u64> for Cell {
    fn from(x: u64) -> Cell {
        Cell::Number(Some(x as f64))
    }
}

impl From<u32> for Cell {
    fn from(x: u32) -> Cell {
        Cell::Number(Some(f64::from(x)))
    }
}

impl From<&str> for Cell {
    fn from(x: &str) -> Cell {
        Cell::Text(x.to_owned())
    }
}

/// A table: named columns of equal length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Frame {
    /// Column names, in order.
    pub names: Vec<String>,
    /// The columns, in the order of `names`.
    pub columns: Vec<Column>,
}

/// Quotes a CSV field when it needs it.
fn quoted(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

impl Frame {
    /// An empty table with these columns; `text` names the columns that hold text, the
    /// others hold numbers.
    pub fn new(names: Vec<String>, text: &[&str]) -> Frame {
        Frame::with_flags(names, text, &[])
    }

    /// As [`Frame::new`], with `flags` naming the columns of yes/no values.
    pub fn with_flags(names: Vec<String>, text: &[&str], flags: &[&str]) -> Frame {
        let columns = names
            .iter()
            .map(|n| {
                if text.contains(&n.as_str()) {
                    Column::Text(Vec::new())
                } else if flags.contains(&n.as_str()) {
                    Column::Flag(Vec::new())
                } else {
                    Column::Number(Vec::new())
                }
            })
            .collect();
        Frame { names, columns }
    }

    /// Appends a row. A cell of another kind than its column is converted (the writers
    /// build rows from the same column list, so it does not happen).
    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.columns.len());
        for (column, cell) in self.columns.iter_mut().zip(row) {
            match (column, cell) {
                (Column::Number(v), Cell::Number(x)) => v.push(x),
                (Column::Number(v), Cell::Flag(b)) => v.push(Some(f64::from(u8::from(b)))),
                (Column::Number(v), Cell::Text(_)) => v.push(None),
                (Column::Text(v), Cell::Text(s)) => v.push(s),
                (Column::Text(v), Cell::Number(x)) => {
                    v.push(x.map_or_else(String::new, |x| Num(x).to_string()))
                }
                (Column::Text(v), Cell::Flag(b)) => v.push(b.to_string()),
                (Column::Flag(v), Cell::Flag(b)) => v.push(b),
                (Column::Flag(v), Cell::Number(x)) => v.push(x.is_some_and(|x| x != 0.0)),
                (Column::Flag(v), Cell::Text(s)) => v.push(s == "true"),
            }
        }
    }

    /// Rows in the table.
    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    /// The table has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.columns[i])
    }

    /// The table as CSV: a header line, then one line per row; numbers in their shortest
    /// exact form ([`Num`]), empty cells empty, text quoted where it needs it.
    pub fn to_csv(&self) -> String {
        let header: Vec<String> = self.names.iter().map(|n| quoted(n)).collect();
        let mut out = header.join(",");
        out.push('\n');
        for row in 0..self.len() {
            let cells: Vec<String> = self.columns.iter().map(|c| c.cell(row)).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }
}
