//! Observed data in the pharmacometrics (NONMEM) layout: one row per dose or measurement,
//! `ID, TIME, EVID, AMT, CMT, DV, MDV` (+ `RATE, II, ADDL, SS`, and `BLQ` or `CENS` for
//! values below the limit of quantification), read with the `csv` crate so quoting, a
//! byte-order mark and CRLF line ends all work.
//!
//! EVID 0 rows are observations of the scenario's marker (ignored when MDV = 1), EVID 1 rows
//! doses, EVID 2 rows other events (skipped, with a note). EVID 3 and 4 reset the subject's
//! state, which no engine here can do: they are refused, with the row, so no dose is ever
//! dropped silently. Columns the reader does not know are kept as covariates (their value on
//! the subject's first row). A known name in the wrong case is an error: it is a typo, not a
//! covariate.

use crate::error::Diagnostic;
use crate::protocol::events::EventRecord;
use std::path::{Path, PathBuf};

/// The columns with a meaning.
pub const KNOWN: [&str; 13] = [
    "ID", "TIME", "EVID", "AMT", "CMT", "DV", "MDV", "RATE", "II", "ADDL", "SS", "BLQ", "CENS",
];

/// One measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// When it was taken.
    pub time: f64,
    /// The value; for a censored measurement, the limit it was below.
    pub value: f64,
    /// Below the limit of quantification (M3: contributes P(value < limit)).
    pub censored: bool,
    /// The 1-based line of the row in the file.
    pub line: usize,
}

/// One dose as the data give it, with the line it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct DataDose {
    /// The record (`cmt` is the 1-based drug index, if the data give it).
    pub record: EventRecord,
    /// The 1-based line of the row in the file.
    pub line: usize,
}

/// Everything the data hold about one subject, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    /// The subject's ID as written.
    pub id: String,
    /// The doses the subject received.
    pub doses: Vec<DataDose>,
    /// The subject's measurements of the marker.
    pub measurements: Vec<Measurement>,
    /// The extra columns' values on the subject's first row.
    pub covariates: Vec<(String, String)>,
    /// The line of the subject's first row.
    pub first_line: usize,
}

/// A dataset: its subjects in the order of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The file it was read from.
    pub file: PathBuf,
    /// The subjects.
    pub subjects: Vec<Subject>,
    /// The extra columns (kept as covariates).
    pub covariates: Vec<String>,
    /// Things worth telling the user that are not errors (skipped rows, extra columns).
    pub notes: Vec<String>,
}

/// What the caller needs of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A dosing-record file of one schedule: TIME and AMT required, measurements skipped.
    Doses,
    /// Observed data for fitting: ID, TIME and DV required.
    Observed,
}

fn problem(
    file: &Path,
    line: usize,
    column: Option<usize>,
    field: &str,
    message: String,
) -> Diagnostic {
    Diagnostic {
        file: file.to_path_buf(),
        line: Some(line),
        column,
        field: field.to_owned(),
        message,
    }
}

/// At most 40 characters of a cell, for messages (never echo more of a user's file).
fn shown(cell: &str) -> String {
    cell.chars().take(40).collect()
}

/// Reads a dataset (`text`, the contents of `file`).
pub fn read(file: &Path, text: &str, layout: Layout) -> Result<Dataset, Vec<Diagnostic>> {
    // Spreadsheets often start a UTF-8 CSV with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_owned).collect(),
        Err(e) => {
            return Err(vec![problem(
                file,
                1,
                None,
                "",
                format!("cannot read the header: {e}"),
            )]);
        }
    };
    if header.iter().all(|h| h.is_empty()) {
        return Err(vec![problem(
            file,
            1,
            None,
            "",
            "the file is empty; expected a header line such as ID,TIME,EVID,AMT,CMT,DV,MDV"
                .to_owned(),
        )]);
    }
    let columns = Columns::new(file, &header, layout)?;
    let mut reading = Reading {
        file,
        layout,
        columns: &columns,
        problems: Vec::new(),
        subjects: Vec::new(),
        skipped: 0,
    };
    // The csv crate's own line count skips blank lines and CRLF ends: count from the byte
    // offset instead.
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    // A record's offset may point at the line end before it (after a CR, or a blank line).
    let bytes = text.as_bytes();
    let line_of = |byte: u64| {
        let mut at = byte as usize;
        while bytes.get(at).is_some_and(|b| *b == b'\r' || *b == b'\n') {
            at += 1;
        }
        line_starts.partition_point(|s| *s <= at)
    };
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| line_of(p.byte()));
                if record.iter().all(str::is_empty) {
                    continue;
                }
                reading.row(line, &record);
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| line_of(p.byte()));
                reading
                    .problems
                    .push(problem(file, line, None, "", format!("not a CSV row: {e}")));
                break;
            }
        }
    }
    let Reading {
        mut problems,
        subjects,
        skipped,
        ..
    } = reading;
    problems.extend(check_subjects(
        file,
        &columns,
        layout,
        &subjects,
        problems.is_empty(),
    ));
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut notes = Vec::new();
    if !columns.extra.is_empty() {
        notes.push(format!(
            "{}: kept as covariates (not used by the model): {}",
            file.display(),
            columns
                .extra
                .iter()
                .map(|(_, n)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if skipped > 0 {
        notes.push(format!(
            "{}: {skipped} rows skipped (EVID 2, or MDV 1 on an observation)",
            file.display()
        ));
    }
    Ok(Dataset {
        file: file.to_path_buf(),
        subjects,
        covariates: columns.extra.iter().map(|(_, n)| n.clone()).collect(),
        notes,
    })
}

/// What the layout asks of the subjects as a whole: one subject in a dosing file; in
/// observed data, measurements for every subject and at least one subject (`clean`: no
/// row had a problem).
fn check_subjects(
    file: &Path,
    columns: &Columns,
    layout: Layout,
    subjects: &[Subject],
    clean: bool,
) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    if layout == Layout::Doses && subjects.len() > 1 {
        problems.push(problem(
            file,
            subjects[1].first_line,
            columns.index("ID"),
            "ID",
            format!(
                "a dosing-record file holds one subject's doses; this one has {} IDs \
                 (keep the rows of one ID, or fit them all with `regimen fit`)",
                subjects.len()
            ),
        ));
    }
    if layout == Layout::Observed {
        for s in subjects {
            if s.measurements.is_empty() {
                problems.push(problem(
                    file,
                    s.first_line,
                    columns.index("ID"),
                    "ID",
                    format!(
                        "subject {} has no observations (EVID 0 rows with a DV): nothing to fit",
                        shown(&s.id)
                    ),
                ));
            }
        }
        if subjects.is_empty() && clean {
            problems.push(problem(
                file,
                1,
                None,
                "",
                "the file holds no rows".to_owned(),
            ));
        }
    }
    problems
}

/// Where each known column is, and which columns are extra.
struct Columns {
    known: Vec<(&'static str, usize)>,
    extra: Vec<(usize, String)>,
    width: usize,
}

impl Columns {
    fn new(file: &Path, header: &[String], layout: Layout) -> Result<Columns, Vec<Diagnostic>> {
        let mut problems = Vec::new();
        let mut known = Vec::new();
        let mut extra = Vec::new();
        for (i, name) in header.iter().enumerate() {
            if let Some(k) = KNOWN.iter().find(|k| **k == name.as_str()) {
                if known.iter().any(|(n, _)| n == k) {
                    problems.push(problem(
                        file,
                        1,
                        Some(i + 1),
                        name,
                        format!("column {name} appears twice"),
                    ));
                }
                known.push((*k, i));
            } else if KNOWN.contains(&name.to_ascii_uppercase().as_str()) {
                problems.push(problem(
                    file,
                    1,
                    Some(i + 1),
                    &shown(name),
                    format!(
                        "column `{}`: headers are upper case: write {}",
                        shown(name),
                        name.to_ascii_uppercase()
                    ),
                ));
            } else {
                extra.push((i, name.clone()));
            }
        }
        let required: &[&str] = match layout {
            Layout::Doses => &["TIME", "AMT"],
            Layout::Observed => &["ID", "TIME", "DV"],
        };
        for r in required {
            if !known.iter().any(|(n, _)| n == r) {
                problems.push(problem(
                    file,
                    1,
                    None,
                    r,
                    format!("missing column {r} (known columns: {})", KNOWN.join(",")),
                ));
            }
        }
        if known.iter().any(|(n, _)| *n == "BLQ") && known.iter().any(|(n, _)| *n == "CENS") {
            problems.push(problem(
                file,
                1,
                None,
                "BLQ",
                "give BLQ or CENS, not both: they say the same thing".to_owned(),
            ));
        }
        if problems.is_empty() {
            Ok(Columns {
                known,
                extra,
                width: header.len(),
            })
        } else {
            Err(problems)
        }
    }

    /// The 0-based index of a known column.
    fn at(&self, name: &str) -> Option<usize> {
        self.known.iter().find(|(n, _)| *n == name).map(|(_, i)| *i)
    }

    /// The 1-based column number of a known column, for messages.
    fn index(&self, name: &str) -> Option<usize> {
        self.at(name).map(|i| i + 1)
    }
}

/// The state of a read: subjects so far and problems found.
struct Reading<'a> {
    file: &'a Path,
    layout: Layout,
    columns: &'a Columns,
    problems: Vec<Diagnostic>,
    subjects: Vec<Subject>,
    skipped: usize,
}

impl Reading<'_> {
    fn error(&mut self, line: usize, name: &str, message: String) {
        let column = self.columns.index(name);
        self.problems
            .push(problem(self.file, line, column, name, message));
    }

    /// A numeric cell: `None` when the column is absent or the cell is empty or `.`.
    fn number(
        &mut self,
        line: usize,
        record: &csv::StringRecord,
        name: &str,
    ) -> Result<Option<f64>, ()> {
        let Some(i) = self.columns.at(name) else {
            return Ok(None);
        };
        let cell = record.get(i).unwrap_or("");
        if cell.is_empty() || cell == "." {
            return Ok(None);
        }
        match cell.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => {
                self.error(
                    line,
                    name,
                    format!("`{}` is not a finite number", shown(cell)),
                );
                Err(())
            }
        }
    }

    /// A whole number ≥ 0 (EVID, CMT, ADDL, MDV, flags).
    fn whole(&mut self, line: usize, name: &str, v: Option<f64>) -> Result<Option<u32>, ()> {
        let Some(v) = v else { return Ok(None) };
        if v < 0.0 || v.fract() != 0.0 || v > u32::MAX as f64 {
            self.error(
                line,
                name,
                format!("{name} must be a whole number ≥ 0, got {v}"),
            );
            return Err(());
        }
        Ok(Some(v as u32))
    }

    fn row(&mut self, line: usize, record: &csv::StringRecord) {
        if record.len() != self.columns.width {
            self.problems.push(problem(
                self.file,
                line,
                None,
                "",
                format!("{} values for {} columns", record.len(), self.columns.width),
            ));
            return;
        }
        let mut cells = [None; 13];
        let mut bad = false;
        for (slot, name) in cells.iter_mut().zip(KNOWN) {
            if name == "ID" {
                continue;
            }
            match self.number(line, record, name) {
                Ok(v) => *slot = v,
                Err(()) => bad = true,
            }
        }
        if bad {
            return;
        }
        let get = |name: &str| cells[KNOWN.iter().position(|k| *k == name).unwrap_or(0)];
        let id = self
            .columns
            .at("ID")
            .and_then(|i| record.get(i))
            .unwrap_or("1")
            .to_owned();
        if id.is_empty() || id == "." {
            self.error(line, "ID", "every row needs an ID".to_owned());
            return;
        }
        let Some(time) = get("TIME") else {
            self.error(line, "TIME", "every row needs a TIME".to_owned());
            return;
        };
        if time < 0.0 {
            self.error(line, "TIME", format!("TIME must be ≥ 0, got {time}"));
            return;
        }
        let Ok(evid) = self.whole(line, "EVID", get("EVID")) else {
            return;
        };
        let Ok(mdv) = self.whole(line, "MDV", get("MDV")) else {
            return;
        };
        let flag = get("BLQ").or(get("CENS"));
        let flag_name = if self.columns.at("BLQ").is_some() {
            "BLQ"
        } else {
            "CENS"
        };
        let Ok(flag) = self.whole(line, flag_name, flag) else {
            return;
        };
        // Without an EVID, a row with an amount is a dose (as in mrgsolve and most exports).
        let evid = evid.unwrap_or(u32::from(get("AMT").is_some()));
        if !self.subject_at(line, &id, time) {
            return;
        }
        match evid {
            0 => self.measurement(line, time, get("DV"), mdv, flag),
            1 => self.dose(line, time, &get),
            2 => self.skipped += 1,
            3 | 4 => self.error(
                line,
                "EVID",
                format!(
                    "EVID {evid} resets the subject's state, which regimen cannot simulate; \
                     split the subject into two IDs at this row (no dose is dropped silently)"
                ),
            ),
            other => self.error(
                line,
                "EVID",
                format!("EVID {other} is not one of 0 (observation), 1 (dose), 2 (other event)"),
            ),
        }
        if let Some(subject) = self.subjects.last_mut()
            && subject.covariates.is_empty()
            && subject.first_line == line
        {
            subject.covariates = self
                .columns
                .extra
                .iter()
                .map(|(i, name)| (name.clone(), record.get(*i).unwrap_or("").to_owned()))
                .collect();
        }
    }

    /// Makes `id` the current subject (a new one, or the last one continued) and checks the
    /// time order; false when the row is out of place.
    fn subject_at(&mut self, line: usize, id: &str, time: f64) -> bool {
        match self.subjects.last() {
            Some(last) if last.id == id => {
                let last_time = last
                    .doses
                    .iter()
                    .map(|d| d.record.time)
                    .chain(last.measurements.iter().map(|m| m.time))
                    .fold(f64::NEG_INFINITY, f64::max);
                if time < last_time {
                    self.error(
                        line,
                        "TIME",
                        format!(
                            "rows of subject {} must be in time order: {time} comes after {last_time}",
                            shown(id)
                        ),
                    );
                    return false;
                }
                true
            }
            _ => {
                if let Some(earlier) = self.subjects.iter().find(|s| s.id == id) {
                    let first = earlier.first_line;
                    self.error(
                        line,
                        "ID",
                        format!(
                            "subject {} appears again after other subjects (first at line {first}); \
                             keep each subject's rows together",
                            shown(id)
                        ),
                    );
                    return false;
                }
                self.subjects.push(Subject {
                    id: id.to_owned(),
                    doses: Vec::new(),
                    measurements: Vec::new(),
                    covariates: Vec::new(),
                    first_line: line,
                });
                true
            }
        }
    }

    fn measurement(
        &mut self,
        line: usize,
        time: f64,
        dv: Option<f64>,
        mdv: Option<u32>,
        flag: Option<u32>,
    ) {
        if mdv.unwrap_or(0) != 0 || self.layout == Layout::Doses {
            self.skipped += 1;
            return;
        }
        let Some(value) = dv else {
            self.error(
                line,
                "DV",
                "an observation (EVID 0, MDV 0) needs a DV".to_owned(),
            );
            return;
        };
        if value < 0.0 {
            self.error(
                line,
                "DV",
                format!("DV must be ≥ 0 (a marker level), got {value}"),
            );
            return;
        }
        if let Some(subject) = self.subjects.last_mut() {
            subject.measurements.push(Measurement {
                time,
                value,
                censored: flag.unwrap_or(0) != 0,
                line,
            });
        }
    }

    fn dose(&mut self, line: usize, time: f64, get: &dyn Fn(&str) -> Option<f64>) {
        if get("SS").unwrap_or(0.0) != 0.0 {
            self.error(
                line,
                "SS",
                "steady-state records (SS ≠ 0) are not supported; give the doses explicitly"
                    .to_owned(),
            );
            return;
        }
        if let Some(dv) = get("DV")
            && dv != 0.0
        {
            self.error(
                line,
                "DV",
                format!(
                    "a dose row (EVID 1) carries DV {dv}: put the measurement on its own row \
                     with EVID 0 (DV on a dose row must be empty, `.` or 0)"
                ),
            );
            return;
        }
        let Some(amt) = get("AMT") else {
            self.error(line, "AMT", "a dose (EVID 1) needs AMT".to_owned());
            return;
        };
        let mut ok = true;
        for name in ["AMT", "RATE", "II"] {
            if let Some(v) = get(name)
                && v < 0.0
            {
                self.error(line, name, format!("{name} must be ≥ 0, got {v}"));
                ok = false;
            }
        }
        let (Ok(cmt), Ok(addl)) = (
            self.whole(line, "CMT", get("CMT")),
            self.whole(line, "ADDL", get("ADDL")),
        ) else {
            return;
        };
        if cmt == Some(0) {
            self.error(line, "CMT", "CMT counts drugs from 1".to_owned());
            ok = false;
        }
        let ii = get("II").filter(|x| *x > 0.0);
        if addl.is_some_and(|a| a > 0) && ii.is_none() {
            self.error(
                line,
                "ADDL",
                "ADDL repeats a dose every II: give II > 0".to_owned(),
            );
            ok = false;
        }
        if !ok {
            return;
        }
        if let Some(subject) = self.subjects.last_mut() {
            subject.doses.push(DataDose {
                record: EventRecord {
                    time,
                    amt,
                    cmt,
                    ii,
                    addl: addl.filter(|a| *a > 0),
                    rate: get("RATE").filter(|x| *x > 0.0),
                    dur: None,
                },
                line,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_observed(text: &str) -> Result<Dataset, Vec<Diagnostic>> {
        read(Path::new("d.csv"), text, Layout::Observed)
    }

    #[test]
    fn subjects_doses_measurements_and_covariates() {
        let text = "\u{feff}ID,TIME,EVID,AMT,CMT,DV,MDV,BLQ,AGE\r\n\
                    1,0,1,1,1,.,1,0,71\r\n\
                    1,0,0,.,.,12.5,0,0,71\r\n\
                    1,28,0,.,.,0.1,0,1,71\r\n\
                    \"2\",0,0,.,.,30,0,0,65\r\n\
                    2,5,2,.,.,.,1,0,65\r\n";
        let data = read_observed(text).unwrap();
        assert_eq!(data.subjects.len(), 2);
        let s1 = &data.subjects[0];
        assert_eq!(s1.doses.len(), 1);
        assert_eq!(s1.doses[0].line, 2, "{:?}", s1.doses);
        assert_eq!(s1.measurements.len(), 2);
        assert!(s1.measurements[1].censored);
        assert_eq!(s1.covariates, vec![("AGE".to_owned(), "71".to_owned())]);
        assert_eq!(data.subjects[1].covariates[0].1, "65");
        assert_eq!(data.covariates, vec!["AGE"]);
        assert!(
            data.notes.iter().any(|n| n.contains("1 rows skipped")),
            "{:?}",
            data.notes
        );
    }

    #[test]
    fn bad_rows_are_located() {
        let cases = [
            ("ID,TIME,DV\n1,5,1\n1,2,1\n", 3, "time order"),
            (
                "ID,TIME,EVID,AMT,DV\n1,0,1,1,7\n1,1,0,.,1\n",
                2,
                "carries DV 7",
            ),
            ("ID,TIME,DV\n1,0,abc\n", 2, "`abc` is not a finite number"),
            (
                "ID,TIME,EVID,AMT,DV\n1,0,1,1,.\n",
                2,
                "subject 1 has no observations",
            ),
            (
                "ID,TIME,EVID,AMT,DV\n1,0,4,1,.\n1,1,0,.,2\n",
                2,
                "EVID 4 resets",
            ),
            ("ID,TIME,DV\n1,0,1\n2,0,1\n1,3,1\n", 4, "appears again"),
            ("id,TIME,DV\n1,0,1\n", 1, "headers are upper case: write ID"),
            ("ID,TIME\n1,0\n", 1, "missing column DV"),
        ];
        for (text, line, needle) in cases {
            let err = read_observed(text).unwrap_err();
            assert!(
                err.iter()
                    .any(|d| d.message.contains(needle) && d.line == Some(line)),
                "{text:?}: {err:?}"
            );
        }
    }
}
