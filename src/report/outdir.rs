//! Output paths, checked before any work: an output folder must be a writable folder, and no
//! output may overwrite one of the run's inputs (the scenario, a data file, a shard).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Every file name a command writes into its output folder.
pub const RUN_FILES: &[&str] = &[
    "trajectory.csv",
    "visits.csv",
    "outcomes.csv",
    "doses.csv",
    "mpc_filter.csv",
    "mpc_decisions.csv",
    "scenario.yaml",
    "manifest.json",
    "summary.csv",
    "summary.json",
    "notes.txt",
    "leaderboard.csv",
    "trace.csv",
    "pareto.csv",
    "robust.csv",
    "sensitivity.csv",
    "best.yaml",
    "checkpoint.json",
    "search.json",
    "estimates.csv",
    "predictions.csv",
    "forecast.csv",
    "population.csv",
    "population.yaml",
    "curves.csv",
    "dosing.csv",
    "vpc.csv",
];

/// The path made absolute and free of `..` and symbolic links where it exists (for
/// comparing two paths that may name one file).
fn canonical(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    // A file not written yet: its folder's canonical form and its name.
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            parent
                .canonicalize()
                .map(|p| p.join(name))
                .unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    }
}

/// The output folder `dir` of a command whose inputs are `inputs`: refused when it is a file,
/// cannot be created or written, or would overwrite an input; created otherwise.
pub fn prepare(dir: &Path, inputs: &[&Path]) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Usage(format!(
            "--out {}: is a file, not a folder",
            dir.display()
        )));
    }
    if dir.file_name().is_none() {
        return Err(Error::Usage(format!(
            "--out {}: give the output folder a name of its own (the run replaces it whole)",
            dir.display()
        )));
    }
    // The run replaces the folder whole, so it may hold nothing but an earlier run's files.
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = RUN_FILES.contains(&name.as_str())
                || name == "plots"
                || name == "subjects"
                || name.ends_with(".html")
                || name.starts_with('.');
            if !ours {
                return Err(Error::Usage(format!(
                    "--out {} holds `{name}`, which no regimen run writes; a run replaces its \
                     output folder whole, so give a new or empty folder (or one an earlier run \
                     wrote)",
                    dir.display()
                )));
            }
        }
    }
    let folder = canonical(dir);
    for input in inputs {
        let input_path = canonical(input);
        if input_path == folder {
            return Err(Error::Usage(format!(
                "--out {} is one of this run's inputs; choose another folder",
                dir.display()
            )));
        }
        if input_path.parent() == Some(folder.as_path())
            && input_path
                .file_name()
                .is_some_and(|n| RUN_FILES.iter().any(|r| n == *r))
        {
            return Err(Error::Usage(format!(
                "--out {} would overwrite the input {}; choose another folder",
                dir.display(),
                input.display()
            )));
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    // Find out now, not after the whole run, that the folder takes files.
    let probe = dir.join(format!(".regimen-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// A single output file (`--report`, `events --out`): refused when it is one of `inputs`
/// or a folder; its folder must be writable.
pub fn check_file(flag: &str, path: &Path, inputs: &[&Path]) -> Result<()> {
    if path.is_dir() {
        return Err(Error::Usage(format!(
            "{flag} {}: is a folder, not a file",
            path.display()
        )));
    }
    let target = canonical(path);
    if inputs.iter().any(|i| canonical(i) == target) {
        return Err(Error::Usage(format!(
            "{flag} {} is one of this run's inputs and would be overwritten; choose another file",
            path.display()
        )));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| Error::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    Ok(())
}

/// The folder holding `dir`, and `dir`'s name: the lock, staging folder and journal of a
/// run folder live beside it under names made from that.
fn beside(dir: &Path) -> (PathBuf, String) {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_owned());
    (parent, name)
}

/// Takes the lock of the run folder `dir` (`.NAME.lock` beside it): refused while another
/// regimen process holds it. The lock goes with the returned file, and with the process.
pub fn lock(dir: &Path) -> Result<std::fs::File> {
    let (parent, name) = beside(dir);
    let lock_path = parent.join(format!(".{name}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| Error::Write {
            path: lock_path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Usage(format!(
            "{} is being written by another regimen run; wait for it to finish or choose \
             another --out",
            dir.display()
        ))),
        Err(std::fs::TryLockError::Error(source)) => Err(Error::Write {
            path: lock_path,
            source,
        }),
    }
}

/// A run's output folder while the run writes it. The folder is locked against a second
/// writer (`.NAME.lock` beside it, released when the process ends, however it ends); the run
/// writes into a staging folder beside it, and [`Staged::commit`] swaps that in for the old
/// folder with two renames. So the folder holds the old run whole, the new run whole, or —
/// for the instant between the renames — nothing: never files of two runs. A run that fails
/// or is stopped before the commit leaves the old folder as it was; leftovers of a killed run
/// are removed by the next run into the same folder.
pub struct Staged {
    dir: PathBuf,
    staging: PathBuf,
    old: PathBuf,
    committed: bool,
    _lock: std::fs::File,
}

impl Staged {
    /// Locks `dir` and opens a fresh staging folder for it (after [`prepare`]).
    pub fn begin(dir: &Path) -> Result<Staged> {
        let (parent, name) = beside(dir);
        let write_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Write { path, source }
        };
        let lock = lock(dir)?;
        // Holding the lock, anything staged or set aside by an earlier run is a leftover.
        if let Ok(entries) = std::fs::read_dir(&parent) {
            for entry in entries.flatten() {
                let n = entry.file_name().to_string_lossy().into_owned();
                if n.starts_with(&format!(".{name}.staging-"))
                    || n.starts_with(&format!(".{name}.old-"))
                {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let id = std::process::id();
        let staging = parent.join(format!(".{name}.staging-{id}"));
        std::fs::create_dir_all(&staging).map_err(write_err(&staging))?;
        Ok(Staged {
            dir: dir.to_path_buf(),
            old: parent.join(format!(".{name}.old-{id}")),
            staging,
            committed: false,
            _lock: lock,
        })
    }

    /// Where the run writes its files.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// Where an optimisation keeps its journal while it runs: beside the folder, outside the
    /// staging folder, so that a run killed outright (no chance to commit) can still be
    /// resumed; the commit puts a copy in the folder and removes this one.
    pub fn journal_path(&self) -> PathBuf {
        let (parent, name) = beside(&self.dir);
        parent
            .join(format!(".{name}.journal"))
            .join("checkpoint.json")
    }

    /// The folder the run is for.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where to write `path` now: a file inside the run's folder (a report kept with the
    /// run, say) goes into the staging folder, to be swapped in with the rest.
    pub fn redirect(&self, path: &Path) -> PathBuf {
        match path.strip_prefix(&self.dir) {
            Ok(inside) => self.staging.join(inside),
            Err(_) => path.to_path_buf(),
        }
    }

    /// As [`Staged::commit`], unless Ctrl-C or SIGTERM came while the files were written:
    /// then the old folder stays and the run says it was stopped.
    pub fn commit_unless_stopped(self) -> Result<()> {
        if crate::support::stop::requested() {
            return Err(Error::Interrupted(format!(
                "stopped while writing the files; {} keeps its previous contents",
                self.dir.display()
            )));
        }
        self.commit()
    }

    /// Puts the staged run in place of the old one.
    pub fn commit(mut self) -> Result<()> {
        let err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Write { path, source }
        };
        if self.dir.exists() {
            std::fs::rename(&self.dir, &self.old).map_err(err(&self.dir))?;
        }
        std::fs::rename(&self.staging, &self.dir).map_err(err(&self.dir))?;
        self.committed = true;
        let _ = std::fs::remove_dir_all(&self.old);
        // The folder now holds the journal's copy (if the run kept one).
        if self.dir.join("checkpoint.json").is_file()
            && let Some(journal) = self.journal_path().parent()
        {
            let _ = std::fs::remove_dir_all(journal);
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}
