//! Finding a named schedule: `schedules/` beside the scenario, `../schedules/`, then the
//! library compiled into regimen.

use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/schedule_library.rs"));

/// The names of the built-in schedules.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(name, _)| *name)
}

/// The file and text of schedule `name`, or a message saying where it was looked for.
pub fn find(scenario: &Path, name: &str) -> Result<(PathBuf, String), String> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(format!(
            "`{name}` is not a schedule name: a named schedule is a file in schedules/ \
             (letters, digits, `_`, `-`); an inline schedule is a mapping such as \
             `{{continuous: {{dose: 1.0}}}}`"
        ));
    }
    let dir = scenario.parent().unwrap_or(Path::new("."));
    // A scenario given as text (no file) takes built-in schedules only.
    let folders = if scenario == Path::new(super::FROM_STRING) {
        Vec::new()
    } else {
        vec![dir.join("schedules"), dir.join("..").join("schedules")]
    };
    for base in folders {
        let file = base.join(format!("{name}.yaml"));
        if file.is_file() {
            return match super::parse::read_text(&file) {
                Ok(text) => Ok((file, text)),
                Err(e) => Err(e.to_string()),
            };
        }
    }
    if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name) {
        return Ok((
            PathBuf::from(format!("<built-in>/schedules/{name}.yaml")),
            (*text).to_owned(),
        ));
    }
    Err(format!(
        "unknown schedule `{name}`: no {name}.yaml in schedules/ beside the scenario or above \
         it, and no built-in schedule of that name (built-in: {})",
        builtin_names().collect::<Vec<_>>().join(", ")
    ))
}
