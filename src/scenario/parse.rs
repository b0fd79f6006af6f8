//! Reading one YAML file into a serde type, with errors that name file, line, column and
//! field path. The YAML library's error type stops here.

use super::locate::{Locations, join_index, join_key};
use crate::error::Diagnostic;
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use std::path::{Path, PathBuf};

/// Input files larger than this are refused before parsing (a scenario is a few KiB).
pub const MAX_INPUT_BYTES: u64 = 4 * 1024 * 1024;

/// A parsed document together with what is needed to point into it later.
pub struct Parsed<T> {
    /// The document.
    pub value: T,
    /// The file it came from.
    pub file: PathBuf,
    /// Where each field path sits in the file.
    pub locations: Locations,
}

/// Reads `file`, refusing oversized input and text that is not UTF-8.
pub fn read_text(file: &Path) -> Result<String, crate::Error> {
    use std::io::Read;
    let read_err = |source| crate::Error::Read {
        path: file.to_path_buf(),
        source,
    };
    let handle = std::fs::File::open(file).map_err(read_err)?;
    let mut bytes = Vec::new();
    handle
        .take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(crate::Error::Invalid(vec![diagnostic(
            file,
            None,
            "",
            format!(
                "file is larger than {} MiB; a scenario or schedule file is a few KiB",
                MAX_INPUT_BYTES / (1024 * 1024)
            ),
        )]));
    }
    String::from_utf8(bytes).map_err(|e| {
        crate::Error::Invalid(vec![diagnostic(
            file,
            None,
            "",
            format!(
                "file is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )])
    })
}

/// A problem at `field` of `file`, at the position `locations` give it (the document start
/// when unknown).
pub fn diagnostic(
    file: &Path,
    pos: Option<(usize, usize)>,
    field: &str,
    message: String,
) -> Diagnostic {
    Diagnostic {
        file: file.to_path_buf(),
        line: pos.map(|p| p.0),
        column: pos.map(|p| p.1),
        field: field.to_owned(),
        message,
    }
}

/// Parses `text` (the contents of `file`) into `T`.
pub fn parse<T: DeserializeOwned>(file: &Path, text: &str) -> Result<Parsed<T>, crate::Error> {
    let mut field_path = String::new();
    let options = serde_saphyr::options! { with_snippet: false };
    let result = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            field_path = path_string(e.path());
            e.into_inner()
        })
    });
    match result {
        Ok(value) => Ok(Parsed {
            value,
            file: file.to_path_buf(),
            locations: Locations::index(text),
        }),
        Err(err) => {
            // serde_path_to_error marks a key it could not name with `?`.
            while let Some(stripped) = field_path
                .strip_suffix(".?")
                .or(field_path.strip_suffix("?"))
            {
                field_path = stripped.to_owned();
            }
            let message = tidy_message(&err.without_snippet().to_string());
            let located = err
                .location()
                .filter(|l| l.line() > 0)
                .map(|l| (l.line() as usize, l.column() as usize))
                // A tab is reported after it; point at the start of the line it indents.
                .map(|(line, column)| {
                    if message.starts_with("YAML indents with spaces") {
                        (line, 1)
                    } else {
                        (line, column)
                    }
                });
            // A missing field is reported where its mapping ends; point at the mapping itself.
            let pos = if message.starts_with("missing field") {
                Locations::index(text).find(&field_path).or(located)
            } else {
                located.or_else(|| Locations::index(text).find(&field_path))
            };
            Err(crate::Error::Invalid(vec![diagnostic(
                file,
                pos,
                &field_path,
                message,
            )]))
        }
    }
}

/// Our dotted path form of serde_path_to_error's path.
fn path_string(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for segment in path.iter() {
        out = match segment {
            Segment::Seq { index } => join_index(&out, *index),
            Segment::Map { key } => join_key(&out, key),
            Segment::Enum { variant } => join_key(&out, variant),
            Segment::Unknown => join_key(&out, "?"),
        };
    }
    out
}

/// The YAML library appends "at line X, column Y" to its messages; we print the position
/// ourselves, in front, so drop it here and explain serde's terse phrases.
fn tidy_message(raw: &str) -> String {
    let mut msg = raw.trim().to_owned();
    if let Some(cut) = msg.rfind(" at line ") {
        msg.truncate(cut);
    }
    if let Some(rest) = msg.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(',').next().unwrap_or(rest).trim();
        msg = format!("key `{key}` appears twice; each key may appear once in a mapping");
    } else if msg.starts_with("invalid floating point") || msg.starts_with("invalid integer") {
        msg = format!("{msg}: expected a number here");
    } else if msg == "expected mapping start" {
        msg = "expected a mapping (`key: value` entries) here".to_owned();
    } else if msg == "expected sequence start" {
        msg = "expected a list (`- item` entries) here".to_owned();
    } else if msg.starts_with("multiple YAML documents") {
        msg = "the file holds more than one YAML document (a `---` line after the first): a \
               scenario is one document; remove the `---` and what follows, or split the file"
            .to_owned();
    } else if ["u8", "u16", "u32", "u64", "usize"]
        .iter()
        .any(|k| msg == format!("invalid {k}"))
    {
        msg = "expected a whole number ≥ 0 here (no sign, no decimal point)".to_owned();
    } else if msg.starts_with("tabs disallowed") {
        msg = "YAML indents with spaces, not tabs: replace the tab at the start of this line"
            .to_owned();
    }
    msg
}
