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
    "scenario.yaml",
    "manifest.json",
    "summary.csv",
    "summary.json",
    "notes.txt",
    "leaderboard.csv",
    "trace.csv",
    "pareto.csv",
    "best.yaml",
    "checkpoint.json",
    "search.json",
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
