//! A comparison split into shards and merged gives exactly the single-machine files.

mod common;
use common::regimen_ok;
use std::path::{Path, PathBuf};

fn dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("regimen-shards-{name}-{}", std::process::id()))
}

fn compare(out: &Path, extra: &[&str]) -> String {
    compare_seed(out, "3", extra)
}

fn compare_seed(out: &Path, seed: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "compare",
        "scenarios/zhang2022-prostate.yaml",
        "--rollouts",
        "250",
        "--seed",
        seed,
        "--trajectories",
        "12",
        "--record-every",
        "28",
        "--no-png",
        "-q",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    regimen_ok(&args)
}

fn merge_output(dirs: &[PathBuf], out: &Path) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_regimen"));
    cmd.arg("merge")
        .args(dirs)
        .args(["--out", out.to_str().unwrap(), "--no-png"]);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

#[test]
fn four_shards_merge_to_the_single_machine_files() {
    let single = dir("single");
    compare(&single, &[]);
    let shards: Vec<PathBuf> = (0..4).map(|k| dir(&format!("s{k}"))).collect();
    for (k, d) in shards.iter().enumerate() {
        let said = compare(d, &["--shard", &format!("{k}/4")]);
        assert!(said.contains(&format!("shard {k}/4")), "{said}");
        assert!(!d.join("summary.csv").exists(), "a shard writes no summary");
    }
    // Resubmitting a finished shard does nothing.
    let again = compare(&shards[1], &["--shard", "1/4"]);
    assert!(again.contains("already done"), "{again}");
    let merged = dir("merged");
    let o = merge_output(&shards, &merged);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "summary.csv",
        "summary.json",
        "outcomes.csv",
        "trajectory.csv",
        "visits.csv",
        "doses.csv",
        "scenario.yaml",
        "plots/km.svg",
        "plots/swimmer-adaptive-50.svg",
    ] {
        let a = std::fs::read(single.join(f)).unwrap();
        let b = std::fs::read(merged.join(f)).unwrap();
        assert!(
            a == b,
            "{f} differs between the single run and the merged shards"
        );
    }
    // A missing shard, a shard given twice, or a shard of another job is refused.
    let o = merge_output(&shards[..3], &dir("bad1"));
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("shards missing"));
    let twice = vec![
        shards[0].clone(),
        shards[0].clone(),
        shards[2].clone(),
        shards[3].clone(),
    ];
    let o = merge_output(&twice, &dir("bad2"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("given twice"));
    let other = dir("other");
    compare_seed(&other, "4", &["--shard", "3/4"]);
    let mixed = vec![
        shards[0].clone(),
        shards[1].clone(),
        shards[2].clone(),
        other.clone(),
    ];
    let o = merge_output(&mixed, &dir("bad3"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not shards of the same job") && err.contains("seed"),
        "{err}"
    );
    for d in shards.iter().chain([&single, &merged, &other]) {
        std::fs::remove_dir_all(d).unwrap();
    }
}

fn optimise(out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "optimise",
        "scenarios/zhang2022-prostate.yaml",
        "--families",
        "intermittent,holiday,lp",
        "--pareto",
        "0.1,0.5",
        "--budget-evals",
        "6",
        "--rollouts",
        "16",
        "--holdout",
        "24",
        "--no-png",
        "-q",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    regimen_ok(&args)
}

#[test]
fn three_optimise_shards_merge_to_the_single_machine_leaderboard() {
    let single = dir("opt-single");
    optimise(&single, &[]);
    let shards: Vec<PathBuf> = (0..3).map(|k| dir(&format!("opt-s{k}"))).collect();
    for (k, d) in shards.iter().enumerate() {
        let said = optimise(d, &["--shard", &format!("{k}/3")]);
        // Six units: three searches at each of two dose limits.
        assert!(said.contains("2 of 6 search units"), "{said}");
    }
    let merged = dir("opt-merged");
    let o = merge_output(&shards, &merged);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["leaderboard.csv", "trace.csv", "pareto.csv", "best.yaml"] {
        let a = std::fs::read(single.join(f)).unwrap();
        let b = std::fs::read(merged.join(f)).unwrap();
        assert!(
            a == b,
            "{f} differs between the single run and the merged shards"
        );
    }
    let o = merge_output(&shards[..2], &dir("opt-bad"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("shards missing"));
    for d in shards.iter().chain([&single, &merged]) {
        std::fs::remove_dir_all(d).unwrap();
    }
}
