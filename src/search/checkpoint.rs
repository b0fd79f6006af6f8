//! Stopping an optimisation safely and continuing it later.
//!
//! Every new evaluation is recorded in a journal (search, parameters, score with its
//! per-rollout outcomes), written whole to `checkpoint.json` every few evaluations and when
//! the run stops. The searches are deterministic given the seed, so a resumed run asks for
//! the same candidates in the same order; the journal answers those it already holds and
//! the run continues from where it stopped, reaching the result an uninterrupted run would.
//!
//! Ctrl-C and SIGTERM set a flag the searches look at before each new evaluation.

use super::objective::Score;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Asks the running searches to stop at their next safe point.
pub fn request_stop() {
    crate::support::stop::request();
}

/// A stop was asked for (signal, or the test hook).
pub fn stop_requested() -> bool {
    crate::support::stop::requested()
}

/// One recorded evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The search that asked (`FAMILY` or `FAMILY@LIMIT`).
    pub search: String,
    /// The candidate's parameter values.
    pub values: Vec<f64>,
    /// What it scored.
    pub score: Score,
}

#[derive(Serialize, Deserialize)]
struct CheckpointFile {
    regimen_version: String,
    /// What the run is (scenario hash, seed, plan): a resume must match it.
    fingerprint: String,
    records: Vec<Record>,
}

fn key(search: &str, values: &[f64]) -> (String, Vec<u64>) {
    (
        search.to_owned(),
        values.iter().map(|v| v.to_bits()).collect(),
    )
}

/// The journal of an optimisation run.
pub struct Journal {
    path: PathBuf,
    fingerprint: String,
    every: u64,
    stop_after: Option<u64>,
    records: Mutex<Vec<Record>>,
    replay: HashMap<(String, Vec<u64>), Score>,
}

impl Journal {
    /// A fresh journal saved to `path` every `every` new evaluations; `stop_after` asks for
    /// a stop after that many new evaluations (to test interruption).
    pub fn new(path: &Path, fingerprint: String, every: u64, stop_after: Option<u64>) -> Journal {
        Journal {
            path: path.to_path_buf(),
            fingerprint,
            every: every.max(1),
            stop_after,
            records: Mutex::new(Vec::new()),
            replay: HashMap::new(),
        }
    }

    /// The journal of an interrupted run in `path`, which must be the same run; it goes on
    /// being saved to `save_to`.
    pub fn resume(
        path: &Path,
        save_to: &Path,
        fingerprint: String,
        every: u64,
        stop_after: Option<u64>,
    ) -> Result<Journal> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Usage(format!(
                "--resume: cannot read {}: {e} (is this the output folder of an interrupted optimise?)",
                path.display()
            ))
        })?;
        let file: CheckpointFile = serde_json::from_str(&text).map_err(|e| Error::Format {
            path: path.to_path_buf(),
            reason: format!("not a regimen checkpoint: {e}"),
        })?;
        if file.regimen_version != env!("CARGO_PKG_VERSION") {
            return Err(Error::Usage(format!(
                "{} was written by regimen {}; this is {}",
                path.display(),
                file.regimen_version,
                env!("CARGO_PKG_VERSION")
            )));
        }
        if file.fingerprint != fingerprint {
            return Err(Error::Usage(format!(
                "{} belongs to another run (a different scenario, seed or search settings); \
                 resume with the same scenario and flags as the interrupted run",
                path.display()
            )));
        }
        let mut journal = Journal::new(save_to, fingerprint, every, stop_after);
        journal.replay = file
            .records
            .iter()
            .map(|r| (key(&r.search, &r.values), r.score.clone()))
            .collect();
        journal.records = Mutex::new(file.records);
        Ok(journal)
    }

    /// Evaluations recorded so far.
    pub fn len(&self) -> usize {
        self.records.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// Nothing recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The recorded score of this candidate, if the interrupted run had scored it.
    pub fn lookup(&self, search: &str, values: &[f64]) -> Option<Score> {
        self.replay.get(&key(search, values)).cloned()
    }

    /// Records a new evaluation; saves every `every` of them.
    pub fn record(&self, search: &str, values: &[f64], score: &Score) -> Result<()> {
        let n = {
            let mut records = self
                .records
                .lock()
                .map_err(|_| Error::Internal("the journal lock was poisoned".to_owned()))?;
            records.push(Record {
                search: search.to_owned(),
                values: values.to_vec(),
                score: score.clone(),
            });
            records.len() as u64
        };
        let new = n - self.replay.len() as u64;
        if new.is_multiple_of(self.every) {
            self.save()?;
        }
        if self.stop_after.is_some_and(|s| new >= s) {
            request_stop();
        }
        Ok(())
    }

    /// Writes the checkpoint whole (temporary file, then rename).
    pub fn save(&self) -> Result<()> {
        let records = self
            .records
            .lock()
            .map_err(|_| Error::Internal("the journal lock was poisoned".to_owned()))?
            .clone();
        let file = CheckpointFile {
            regimen_version: env!("CARGO_PKG_VERSION").to_owned(),
            fingerprint: self.fingerprint.clone(),
            records,
        };
        let text = serde_json::to_string(&file).map_err(|e| Error::Format {
            path: self.path.clone(),
            reason: format!("cannot encode the checkpoint: {e}"),
        })?;
        crate::report::write_atomic(&self.path, text.as_bytes())
    }
}
