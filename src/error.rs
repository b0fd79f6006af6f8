//! The library's error type. Every variant says which file and what went wrong, so the
//! binary can print it as is.

use std::fmt;
use std::path::PathBuf;

/// Where in an input file a problem sits: file, 1-based line and column, and the field path
/// (`arms[2].schedule.intermittent.off`).
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// The file (a scenario, a schedule file, a CSV of dosing records).
    pub file: PathBuf,
    /// 1-based line, when the position is known.
    pub line: Option<usize>,
    /// 1-based column, when the position is known.
    pub column: Option<usize>,
    /// Dotted field path; empty for the document itself.
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if self.field.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.field, self.message)
        }
    }
}

/// Everything that can go wrong in the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An input file is not valid; one diagnostic per problem found.
    #[error("{}", DiagnosticList(.0))]
    Invalid(Vec<Diagnostic>),
    /// Stopped by Ctrl-C or SIGTERM; says what was finished and what was kept.
    #[error("interrupted: {0}")]
    Interrupted(String),
    /// A file regimen wrote (a manifest, a shard's outcomes) cannot be read back.
    #[error("{}: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An arm name that the scenario does not have.
    #[error("{what}: no arm `{name}`; the arms are: {arms}")]
    UnknownArm {
        /// The request that named it (`--arm`, `--reference`, `arm=`).
        what: String,
        /// The name asked for.
        name: String,
        /// The scenario's arms, comma-separated.
        arms: String,
    },
    /// A request beyond what regimen will run (see [`crate::support::limits`]).
    #[error("{0}")]
    Limit(String),
    /// A request that does not fit the scenario or the folders given.
    #[error("{0}")]
    Usage(String),
    /// A broken invariant of regimen itself (a bug to report, not a problem of the input).
    #[error("internal error (please report it): {0}")]
    Internal(String),
    /// The numerical integration could not proceed (step size underflow, non-finite state).
    #[error("simulation of arm '{arm}' failed at t = {time}: {reason}")]
    Simulation {
        /// The arm.
        arm: String,
        /// Simulation time at the failure.
        time: f64,
        /// What went wrong.
        reason: String,
    },
}

impl Error {
    /// A problem with the scenario `file`'s field `field` (a path such as
    /// `optimise.robust.uncertain.<path>`), said in `message`.
    pub fn in_field(file: &std::path::Path, field: &str, message: impl Into<String>) -> Error {
        Error::Invalid(vec![Diagnostic {
            file: file.to_path_buf(),
            line: None,
            column: None,
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    /// An engine's failure at time `time`; the driver names the arm ([`Error::in_arm`]).
    pub fn engine(time: f64, reason: impl Into<String>) -> Error {
        Error::Simulation {
            arm: String::new(),
            time,
            reason: reason.into(),
        }
    }

    /// A simulation failure, said of arm `name`.
    pub fn in_arm(self, name: &str) -> Error {
        match self {
            Error::Simulation { time, reason, .. } => Error::Simulation {
                arm: name.to_owned(),
                time,
                reason,
            },
            other => other,
        }
    }

    /// A simulation failure with where it happened (e.g. a point of parameter uncertainty)
    /// added to its reason.
    pub fn in_context(self, context: &str) -> Error {
        match self {
            Error::Simulation { arm, time, reason } => Error::Simulation {
                arm,
                time,
                reason: format!("{reason} ({context})"),
            },
            other => other,
        }
    }
}

struct DiagnosticList<'a>(&'a [Diagnostic]);

impl fmt::Display for DiagnosticList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {d}")?;
        }
        Ok(())
    }
}

/// The result of every fallible call of the library.
pub type Result<T> = std::result::Result<T, Error>;
