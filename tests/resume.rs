//! Stopping an optimisation and resuming it gives the uninterrupted result; a signal stops
//! it cleanly with a checkpoint and a message saying how to resume.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Waits (at most 120 s) for the journal a running optimisation keeps beside its output
/// folder `out` (the folder itself is swapped in whole at the end); returns its path.
fn wait_for_journal(out: &Path) -> PathBuf {
    let live = out.with_file_name(format!(
        ".{}.journal/checkpoint.json",
        out.file_name().unwrap().to_string_lossy()
    ));
    let started = std::time::Instant::now();
    while !live.exists() {
        assert!(started.elapsed().as_secs() < 120, "no journal after 120 s");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    live
}

fn dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("regimen-resume-{name}-{}", std::process::id()))
}

const FLAGS: [&str; 11] = [
    "--no-sensitivity",
    "--families",
    "intermittent,adaptive",
    "--budget-evals",
    "12",
    "--rollouts",
    "40",
    "--holdout",
    "40",
    "--no-png",
    "-q",
];

fn optimise(extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_regimen"))
        .args(["optimise", "scenarios/zhang2022-prostate.yaml"])
        .args(FLAGS)
        .args(extra)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

/// No temporary file is left behind in `dir`.
fn no_partial_files(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".tmp"), "left behind: {name}");
    }
}

#[test]
fn a_stopped_run_resumes_to_the_uninterrupted_result() {
    let whole = dir("whole");
    let o = optimise(&["--out", whole.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let part = dir("part");
    let o = optimise(&[
        "--out",
        part.to_str().unwrap(),
        "--stop-after-evaluations",
        "7",
    ]);
    assert!(
        !o.status.success(),
        "the interrupted run must exit non-zero"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("interrupted: after 7 evaluations") && err.contains("--resume"),
        "{err}"
    );
    assert!(part.join("checkpoint.json").is_file());
    assert!(
        !part.join("leaderboard.csv").exists(),
        "no leaderboard before hold-out scoring"
    );
    no_partial_files(&part);
    // Stop once more on the way, then finish.
    let o = optimise(&[
        "--resume",
        part.to_str().unwrap(),
        "--stop-after-evaluations",
        "5",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("interrupted: after 12 evaluations"));
    let o = optimise(&["--resume", part.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["leaderboard.csv", "trace.csv", "best.yaml"] {
        let a = std::fs::read(whole.join(f)).unwrap();
        let b = std::fs::read(part.join(f)).unwrap();
        assert!(
            a == b,
            "{f} differs between the resumed and the uninterrupted run"
        );
    }
    // A checkpoint of another run is refused.
    let o = optimise(&["--resume", part.to_str().unwrap(), "--seed", "9"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("belongs to another run"));
    std::fs::remove_dir_all(&whole).unwrap();
    std::fs::remove_dir_all(&part).unwrap();
}

#[test]
fn sigterm_stops_cleanly_with_a_checkpoint() {
    let out = dir("signal");
    let child = Command::new(env!("CARGO_BIN_EXE_regimen"))
        .args([
            "optimise",
            "--no-sensitivity",
            "scenarios/persister-nsclc.yaml",
            "--budget-evals",
            "400",
            "--rollouts",
            "40",
            "--checkpoint-every",
            "1",
            "-q",
            "--out",
            out.to_str().unwrap(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the search is under way (its first checkpoint exists: while the run goes
    // on, the journal lives beside the output folder, which is swapped in whole at the end),
    // then signal.
    wait_for_journal(&out);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success(), "a signalled run must exit non-zero");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("interrupted: after") && err.contains("--resume"),
        "{err}"
    );
    let text = std::fs::read_to_string(out.join("checkpoint.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).expect("a whole checkpoint");
    assert!(!v["records"].as_array().unwrap().is_empty());
    no_partial_files(&out);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_run_killed_outright_resumes_from_its_journal() {
    // SIGKILL gives no chance to commit: the folder keeps its previous contents, and the
    // journal beside it lets --resume go on from the last checkpoint.
    let out = dir("kill9");
    let args = [
        "optimise",
        "--no-sensitivity",
        "scenarios/zhang2022-prostate.yaml",
        "--budget-evals",
        "30",
        "--rollouts",
        "100",
        "--holdout",
        "100",
        "--checkpoint-every",
        "1",
        "-q",
        "--no-png",
        "--out",
        out.to_str().unwrap(),
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_regimen"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let live = wait_for_journal(&out);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.join("leaderboard.csv").exists(), "nothing committed");
    let mut resumed = args.to_vec();
    resumed.extend(["--resume", out.to_str().unwrap()]);
    let o = Command::new(env!("CARGO_BIN_EXE_regimen"))
        .args(&resumed)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("resuming: "), "{err}");
    assert!(out.join("leaderboard.csv").is_file() && out.join("checkpoint.json").is_file());
    assert!(
        !live.exists(),
        "the journal beside the folder is gone once committed"
    );
    no_partial_files(&out);
    std::fs::remove_dir_all(&out).unwrap();
}
