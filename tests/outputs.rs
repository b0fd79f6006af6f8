//! Every CSV a command writes is rectangular: each row has as many fields as its header.

use std::path::Path;
mod common;
use common::regimen_ok;

fn run(args: &[&str], dir: &Path) {
    let mut all = args.to_vec();
    all.extend(["--out", dir.to_str().unwrap()]);
    regimen_ok(&all);
}

/// Fields of a CSV line (no field of regimen's CSVs contains a quoted comma).
fn fields(line: &str) -> usize {
    line.split(',').count()
}

fn check_folder(dir: &Path) -> usize {
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "csv") {
            let text = std::fs::read_to_string(&path).unwrap();
            let mut lines = text.lines();
            let header = fields(lines.next().expect("a header"));
            for (i, line) in lines.enumerate() {
                assert_eq!(
                    fields(line),
                    header,
                    "{}: row {} has {} fields, the header {header}",
                    path.display(),
                    i + 2,
                    fields(line)
                );
            }
            checked += 1;
        }
    }
    checked
}

#[test]
fn every_csv_is_rectangular() {
    let base = std::env::temp_dir().join(format!("regimen-outputs-{}", std::process::id()));
    let scenario = "scenarios/persister-nsclc.yaml";
    let jobs: Vec<(&str, Vec<&str>)> = vec![
        ("simulate", vec!["simulate", scenario]),
        (
            "rollouts",
            vec![
                "simulate",
                scenario,
                "--rollouts",
                "8",
                "--trajectories",
                "2",
                "-q",
            ],
        ),
        (
            "compare",
            vec!["compare", scenario, "--rollouts", "8", "-q"],
        ),
        (
            "optimise",
            vec![
                "optimise",
                "--no-sensitivity",
                "scenarios/zhang2022-prostate.yaml",
                "--budget-evals",
                "4",
                "--rollouts",
                "8",
                "--holdout",
                "8",
                "--pareto",
                "0.5,1",
                "-q",
            ],
        ),
    ];
    let mut checked = 0;
    for (name, args) in jobs {
        let dir = base.join(name);
        run(&args, &dir);
        checked += check_folder(&dir);
    }
    // outcomes, trajectory, visits; outcomes, summary, trajectory, visits; outcomes, summary;
    // leaderboard, trace, pareto.
    assert!(checked >= 11, "only {checked} CSV files checked");
    std::fs::remove_dir_all(&base).unwrap();
}
