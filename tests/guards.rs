//! Runtime guards and output-folder integrity (issue 12): damaged run folders are refused
//! with their location, flags are validated once for every command, files are never mixed
//! or overwritten, and a scenario reads only what it should.

mod common;
use common::{regimen_ok, regimen_within};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn bundled(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("scenarios/{name}.yaml"))
        .to_string_lossy()
        .into_owned()
}

fn temp(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("regimen-guards-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_nan_in_a_run_folder_is_refused_with_its_place() {
    // One NaN time in outcomes.csv used to send the Kaplan–Meier loop spinning (plot, merge).
    let dir = temp("nan");
    regimen_ok(&[
        "compare",
        &bundled("zhang2022-prostate"),
        "--rollouts",
        "20",
        "--no-png",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let file = dir.join("outcomes.csv");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut cells: Vec<String> = lines[3].split(',').map(str::to_owned).collect();
    cells[2] = "NaN".to_owned(); // arm,rollout,time,…
    lines[3] = cells.join(",");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let (code, _, err) = regimen_within(
        &["plot", dir.to_str().unwrap(), "--no-png"],
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("outcomes.csv: line 4, column `time`: expected a finite number, got `NaN`"),
        "{err}"
    );
}

#[test]
fn every_command_checks_its_flags_the_same_way() {
    // compare used to accept --record-every 1e-9 and grow memory without end; optimise's
    // --rollouts flag bypassed the optimise: block's cap of 1e7.
    let z = bundled("zhang2022-prostate");
    let dir = temp("flags");
    let out = dir.to_str().unwrap();
    for (args, expect) in [
        (
            vec!["compare", &z, "--record-every", "1e-9", "--out", out],
            "more than the limit of 2e6; record less often",
        ),
        (
            vec!["simulate", &z, "--record-every", "1e-9", "--out", out],
            "more than the limit of 2e6; record less often",
        ),
        (
            vec!["compare", &z, "--rollouts", "20000000", "--out", out],
            "--rollouts 20000000 is more than the limit of 10000000",
        ),
        (
            vec!["optimise", &z, "--rollouts", "100000000", "--out", out],
            "--rollouts 100000000 is more than the limit of 10000000",
        ),
        (
            vec!["optimise", &z, "--holdout", "0", "--out", out],
            "--holdout must be at least 1",
        ),
        (
            vec![
                "compare",
                &z,
                "--trajectories",
                "1000",
                "--record-every",
                "0.01",
                "--out",
                out,
            ],
            "more than the limit of 2e7",
        ),
    ] {
        let (code, _, err) = regimen_within(&args, Duration::from_secs(60));
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
    }
    assert!(!dir.join("outcomes.csv").exists(), "nothing was run");
}

fn refused(args: &[&str], expect: &str) {
    let (code, _, err) = regimen_within(args, Duration::from_secs(60));
    assert_eq!(code, Some(1), "{args:?}: {err}");
    assert!(err.contains(expect), "{args:?}: {err}");
}

#[test]
fn inputs_are_never_overwritten_and_outputs_are_checked_first() {
    let dir = temp("inputs");
    std::fs::create_dir_all(&dir).unwrap();
    // The user's scenario, named as regimen names its resolved copy.
    let scenario = dir.join("scenario.yaml");
    let original = format!(
        "# my comments\n{}",
        std::fs::read_to_string(bundled("zhang2022-prostate")).unwrap()
    );
    std::fs::write(&scenario, &original).unwrap();
    let s = scenario.to_str().unwrap();
    let d = dir.to_str().unwrap();
    refused(&["simulate", s, "--out", d], "would overwrite the input");
    refused(
        &["simulate", s, "--out", &format!("{d}/run"), "--report", s],
        "--report",
    );
    refused(
        &["events", s, "--arm", "adaptive-50", "--out", s],
        "is one of this run's inputs",
    );
    assert_eq!(std::fs::read_to_string(&scenario).unwrap(), original);
    // An --out that is a file, or cannot be created, is found before any work.
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let f = file.to_str().unwrap();
    refused(&["compare", s, "--out", f], "is a file, not a folder");
    refused(
        &["compare", s, "--out", &format!("{f}/sub")],
        "cannot write",
    );
    // merge --out into one of its shards would destroy it.
    let shard1 = dir.join("s1");
    let shard2 = dir.join("s2");
    for (k, sh) in [(0, &shard1), (1, &shard2)] {
        regimen_ok(&[
            "compare",
            s,
            "--rollouts",
            "200",
            "--shard",
            &format!("{k}/2"),
            "--no-png",
            "--out",
            sh.to_str().unwrap(),
        ]);
    }
    let before = std::fs::read_to_string(shard1.join("outcomes.csv")).unwrap();
    refused(
        &[
            "merge",
            shard1.to_str().unwrap(),
            shard2.to_str().unwrap(),
            "--out",
            shard1.to_str().unwrap(),
        ],
        "is one of this run's inputs",
    );
    assert_eq!(
        std::fs::read_to_string(shard1.join("outcomes.csv")).unwrap(),
        before
    );
}

#[test]
fn the_report_escapes_what_it_reads_from_the_folder() {
    let dir = temp("escape");
    regimen_ok(&[
        "simulate",
        &bundled("zhang2022-prostate"),
        "--rollouts",
        "10",
        "--no-png",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let manifest = dir.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["seed"] = serde_json::Value::String("<img src=x onerror=alert(1)>".to_owned());
    json["threads"] = serde_json::Value::String("<script>".to_owned());
    std::fs::write(&manifest, serde_json::to_string(&json).unwrap()).unwrap();
    let report = dir.join("report.html");
    regimen_ok(&[
        "plot",
        dir.to_str().unwrap(),
        "--no-png",
        "--report",
        report.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        !html.contains("<img") && !html.contains("<script"),
        "unescaped manifest field"
    );
    assert!(html.contains("&lt;img src=x"));
}

#[test]
fn plot_file_names_do_not_collide() {
    use regimen::plot::figures::slug;
    assert_ne!(slug("a.b"), slug("a-b"));
    assert_ne!(slug("a b"), slug("a-b"));
    assert_eq!(slug("continuous-mtd_2"), "continuous-mtd_2");
}

#[test]
fn a_scenario_reads_data_only_from_its_folder() {
    let dir = temp("data");
    std::fs::create_dir_all(&dir).unwrap();
    let outside = temp("data-outside");
    std::fs::create_dir_all(&outside).unwrap();
    let secret = outside.join("secret.csv");
    std::fs::write(&secret, "ID,TIME,AMT\n1,0,1\n").unwrap();
    let scenario = |file: &str| {
        format!(
            "format_version: 1\nname: data\ntime_units: days\nhorizon: 100\nmodel:\n  growth: \
             exponential\n  compartments:\n    tumour: {{ birth: 0.02, initial: 1.0e9 }}\n\
             drugs:\n  drug:\n    effects:\n      tumour: {{ kill: {{ linear: {{ slope: 0.05 }} }} }}\n\
             observation: {{ every: 28 }}\nprogression: {{ rule: rise_over_nadir }}\narms:\n  \
             - name: a\n    schedule: {{ events: {{ file: {file} }} }}\n"
        )
    };
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&secret, dir.join("link.csv")).unwrap();
        std::os::unix::fs::symlink("/dev/null", dir.join("device.csv")).unwrap();
    }
    let check = |file: &str, extra: &[&str]| {
        let path = dir.join(format!("{}.yaml", file.replace(['/', '.'], "_")));
        std::fs::write(&path, scenario(file)).unwrap();
        let mut args = vec!["check", path.to_str().unwrap()];
        args.extend_from_slice(extra);
        regimen_within(&args, Duration::from_secs(30))
    };
    let (code, _, err) = check(secret.to_str().unwrap(), &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("lies outside the scenario's folder"), "{err}");
    #[cfg(unix)]
    {
        let (code, _, err) = check("link.csv", &[]);
        assert_eq!(code, Some(1));
        assert!(err.contains("lies outside the scenario's folder"), "{err}");
        let (code, _, err) = check("device.csv", &[]);
        assert_eq!(code, Some(1));
        assert!(err.contains("is not a regular file"), "{err}");
        // The flag lets a user who means it read outside the folder.
        let (code, _, err) = check("link.csv", &["--allow-outside-data"]);
        assert_eq!(code, Some(0), "{err}");
    }
    // A file that was not meant to be dosing records is not echoed beyond one cell.
    std::fs::write(dir.join("long.csv"), format!("{},TIME\n", "y".repeat(500))).unwrap();
    let (code, _, err) = check("long.csv", &[]);
    assert_eq!(code, Some(1));
    assert!(!err.contains(&"y".repeat(41)), "{err}");
}

/// The run files of a folder (relative path → contents), the manifest without its timing.
fn run_files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            let mut bytes = std::fs::read(&p).unwrap();
            if rel == "manifest.json" {
                let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                json.as_object_mut().unwrap().remove("wall_seconds");
                bytes = serde_json::to_vec(&json).unwrap();
            }
            out.insert(rel, bytes);
        }
    }
    out
}

fn compare_args<'a>(scenario: &'a str, seed: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "compare",
        scenario,
        "--rollouts",
        "300",
        "--seed",
        seed,
        "--no-png",
        "-q",
        "--out",
        out,
    ]
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn a_folder_killed_at_any_instant_holds_one_run_whole_or_none() {
    // The old run (seed 1) and the new (seed 2), each written without interference.
    let base = temp("kill");
    let scenario = bundled("zhang2022-prostate");
    let (old, new) = (base.join("old"), base.join("new"));
    regimen_ok(&compare_args(&scenario, "1", old.to_str().unwrap()));
    let started = std::time::Instant::now();
    regimen_ok(&compare_args(&scenario, "2", new.to_str().unwrap()));
    let took = started.elapsed();
    let (old_files, new_files) = (run_files(&old), run_files(&new));
    assert!(old_files.contains_key("outcomes.csv") && old_files != new_files);
    // Kill the new run into a folder holding the old one at 24 instants spread over (and
    // beyond) its duration, then look at what the folder holds.
    let dir = base.join("run");
    let mut seen = std::collections::BTreeMap::new();
    for k in 0..24u32 {
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(&old, &dir);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_regimen"))
            .args(compare_args(&scenario, "2", dir.to_str().unwrap()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(took.mul_f64(2.0 * k as f64 / 23.0));
        let _ = child.kill();
        let _ = child.wait();
        let now = run_files(&dir);
        let state = if now == old_files {
            "old"
        } else if now == new_files {
            "new"
        } else if now.is_empty() {
            "none"
        } else {
            panic!(
                "killed at instant {k}: the folder mixes runs or holds a partial one: {:?}",
                now.keys().collect::<Vec<_>>()
            );
        };
        *seen.entry(state).or_insert(0) += 1;
    }
    // The earliest kills find the old run; on an unloaded machine the latest find the new
    // one (not required: a loaded machine may take more than twice as long).
    eprintln!("folder states after 24 kills: {seen:?}");
    assert!(seen.contains_key("old"), "{seen:?}");
}

#[test]
fn a_second_writer_is_refused_and_the_first_finishes_whole() {
    let base = temp("two");
    let scenario = bundled("persister-nsclc");
    let dir = base.join("run");
    let parent = base.clone();
    std::fs::create_dir_all(&parent).unwrap();
    let args: Vec<String> = [
        "compare",
        &scenario,
        "--rollouts",
        "400",
        "--no-png",
        "-q",
        "--out",
        dir.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_regimen"))
        .args(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first run is staging (it holds the lock by then).
    let staging = || {
        std::fs::read_dir(&parent)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".run.staging-"))
    };
    let t0 = std::time::Instant::now();
    while !staging() && t0.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(staging(), "the first run never started staging");
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, err) = regimen_within(&argv, Duration::from_secs(60));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("is being written by another regimen run"),
        "{err}"
    );
    let status = first.wait().unwrap();
    assert!(status.success());
    let outcomes = std::fs::read_to_string(dir.join("outcomes.csv")).unwrap();
    assert_eq!(
        outcomes.lines().count(),
        1 + 400 * 5,
        "every rollout of every arm"
    );
    for f in [
        "summary.csv",
        "summary.json",
        "manifest.json",
        "scenario.yaml",
        "notes.txt",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_during_compare_says_so_and_keeps_the_old_folder() {
    let base = temp("sigint");
    let scenario = bundled("persister-nsclc");
    let dir = base.join("run");
    regimen_ok(&[
        "compare",
        &scenario,
        "--rollouts",
        "20",
        "--no-png",
        "-q",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let before = run_files(&dir);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_regimen"))
        .args([
            "compare",
            &scenario,
            "--rollouts",
            "3000",
            "--seed",
            "9",
            "--no-png",
            "-q",
            "--out",
            dir.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("interrupted") && err.contains("keeps its previous contents"),
        "{err}"
    );
    assert_eq!(run_files(&dir), before);
}

#[test]
fn both_engines_stop_on_a_rate_no_engine_can_follow() {
    // A kill of 1e300 per day: simulate failed with "state became non-finite" (naming
    // nothing) while compare returned numbers for the same file.
    let dir = temp("overflow");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("huge.yaml");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/valid/minimal.yaml"),
    )
    .unwrap()
    .replace("slope: 0.05", "slope: 1.0e300");
    std::fs::write(&file, text).unwrap();
    let f = file.to_str().unwrap();
    let out = dir.join("out");
    let o = out.to_str().unwrap();
    let expect = "the death rate of `tumour` (its death, negative growth and every drug's kill) \
                  reached 1e300 per time unit, more than the limit of 1e4";
    refused(&["simulate", f, "--out", o], expect);
    refused(&["compare", f, "--rollouts", "10", "--out", o], expect);
}

#[cfg(unix)]
#[test]
fn ctrl_c_during_the_hold_out_scoring_stops_optimise_and_keeps_the_journal() {
    // The searches are quick and the hold-out is long: the signal lands in the hold-out,
    // which used to ignore it (only SIGKILL stopped it).
    let dir = temp("holdout");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_regimen"))
        .args([
            "optimise",
            "--no-sensitivity",
            &bundled("persister-nsclc"),
            "--families",
            "intermittent",
            "--budget-evals",
            "2",
            "--rollouts",
            "5",
            "--holdout",
            "200000",
            "--no-png",
            "-q",
            "--out",
            dir.to_str().unwrap(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let t0 = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        t0.elapsed() < Duration::from_secs(60),
        "the signal was not heeded"
    );
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("hold-out") && err.contains("--resume"),
        "{err}"
    );
    assert!(!dir.join("leaderboard.csv").exists());
}

#[test]
fn control_characters_in_messages_are_shown_not_sent() {
    // An arm name typed with ESC and BEL is quoted back in the error: escaped.
    let (code, _, err) = regimen_within(
        &[
            "simulate",
            &bundled("zhang2022-prostate"),
            "--arm",
            "bad\u{1b}[31mred\u{7}",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(1));
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
    assert!(err.contains("bad\\u{1b}[31mred\\u{7}"), "{err}");
}

#[test]
fn a_new_run_leaves_nothing_of_the_old_one() {
    // compare --trajectories 0 into a folder that held trajectories kept the old ones (and
    // the new report drew them); simulate into a compare's folder kept its summary.
    let dir = temp("replace");
    let d = dir.to_str().unwrap();
    let z = bundled("zhang2022-prostate");
    regimen_ok(&["compare", &z, "--rollouts", "50", "--no-png", "--out", d]);
    assert!(dir.join("trajectory.csv").is_file());
    regimen_ok(&[
        "compare",
        &z,
        "--rollouts",
        "50",
        "--trajectories",
        "0",
        "--no-png",
        "--out",
        d,
    ]);
    assert!(
        !dir.join("trajectory.csv").exists() && !dir.join("plots/swimmer-adaptive-50.svg").exists()
    );
    regimen_ok(&["simulate", &z, "--no-png", "--out", d]);
    assert!(!dir.join("summary.csv").exists() && !dir.join("notes.txt").exists());
    assert!(dir.join("trajectory.csv").is_file());
}

#[test]
fn a_folder_that_holds_other_files_is_never_replaced() {
    // A run replaces its output folder whole: --out pointing at a folder of the user's (the
    // scenarios, or the folder holding the shards being merged) must be refused, not emptied.
    let dir = temp("foreign");
    std::fs::create_dir_all(dir.join("mine")).unwrap();
    std::fs::write(dir.join("mine/notes.md"), "keep me").unwrap();
    let z = bundled("zhang2022-prostate");
    refused(
        &[
            "compare",
            &z,
            "--rollouts",
            "10",
            "--out",
            dir.join("mine").to_str().unwrap(),
        ],
        "holds `notes.md`, which no regimen run writes",
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("mine/notes.md")).unwrap(),
        "keep me"
    );
    let runs = dir.join("runs");
    for k in 0..2 {
        regimen_ok(&[
            "compare",
            &z,
            "--rollouts",
            "200",
            "--shard",
            &format!("{k}/2"),
            "--no-png",
            "--out",
            runs.join(format!("shard-{k}")).to_str().unwrap(),
        ]);
    }
    refused(
        &[
            "merge",
            runs.join("shard-0").to_str().unwrap(),
            runs.join("shard-1").to_str().unwrap(),
            "--out",
            runs.to_str().unwrap(),
        ],
        "holds `shard-",
    );
    assert!(runs.join("shard-0/outcomes.csv").is_file());
}
