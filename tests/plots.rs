//! The plots and the HTML report: well-formed, showing what they claim, self-contained.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
mod common;
use common::regimen_ok as regimen;

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("regimen-plots-{name}-{}", std::process::id()))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Elements of `svg` with `class` among their classes.
fn count_class(doc: &roxmltree::Document, class: &str) -> usize {
    doc.descendants()
        .filter(|n| {
            n.attribute("class")
                .is_some_and(|c| c.split_whitespace().any(|x| x == class))
        })
        .count()
}

/// Text of the elements inside groups of `class`.
fn texts_in(doc: &roxmltree::Document, class: &str) -> Vec<String> {
    doc.descendants()
        .filter(|n| {
            n.attribute("class")
                .is_some_and(|c| c.split_whitespace().any(|x| x == class))
        })
        .flat_map(|g| {
            g.descendants()
                .filter(|t| t.is_text())
                .filter_map(|t| t.text().map(str::to_owned))
        })
        .filter(|t| !t.trim().is_empty())
        .collect()
}

/// Every SVG in `dir/plots` parses as XML; returns them by file stem.
fn svgs(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir.join("plots")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "svg") {
            let text = read(&p);
            roxmltree::Document::parse(&text)
                .unwrap_or_else(|e| panic!("{} is not well-formed XML: {e}", p.display()));
            let png = p.with_extension("png");
            let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", png.display());
            out.insert(p.file_stem().unwrap().to_string_lossy().into_owned(), text);
        }
    }
    out
}

/// No fetch of anything: no src/href attributes, stylesheets, scripts or external url().
fn assert_self_contained(html: &str) {
    for banned in [
        "src=", "href=", "<script", "<link", "@import", "<iframe", "<img",
    ] {
        assert!(!html.contains(banned), "the report contains `{banned}`");
    }
    for (i, _) in html.match_indices("url(") {
        assert_eq!(&html[i + 4..i + 5], "#", "external url( in the report");
    }
}

#[test]
fn compare_report_and_plots_show_what_they_claim() {
    let dir = temp("compare");
    let report = dir.join("report.html");
    regimen(&[
        "compare",
        "scenarios/zhang2022-prostate.yaml",
        "--rollouts",
        "60",
        "--trajectories",
        "12",
        "-q",
        "--out",
        dir.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    let plots = svgs(&dir);
    let arms = ["standard-of-care", "adaptive-50"];
    for arm in arms {
        for kind in ["trajectory", "composition", "swimmer"] {
            assert!(
                plots.contains_key(&format!("{kind}-{arm}")),
                "{kind}-{arm}: {:?}",
                plots.keys()
            );
        }
    }
    // Kaplan–Meier: one curve and one band per arm, one censoring mark per distinct
    // censoring time of each arm in outcomes.csv, both axis labels.
    let km = roxmltree::Document::parse(&plots["km"]).unwrap();
    assert_eq!(count_class(&km, "km-curve"), arms.len());
    assert_eq!(count_class(&km, "km-band"), arms.len());
    let outcomes = read(&dir.join("outcomes.csv"));
    let mut header = outcomes.lines().next().unwrap().split(',');
    let col = |name: &str, h: &mut std::str::Split<char>| h.position(|c| c == name).unwrap();
    let (time, event) = (col("time", &mut header.clone()), col("event", &mut header));
    let mut censored: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in outcomes.lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        if c[event] == "0" {
            censored
                .entry(c[0].to_owned())
                .or_default()
                .insert(c[time].to_owned());
        }
    }
    let marks: usize = censored.values().map(|s| s.len()).sum();
    assert!(
        marks > 0,
        "adaptive-50 holds to the horizon: censored rollouts expected"
    );
    assert_eq!(count_class(&km, "censor"), marks);
    assert_eq!(texts_in(&km, "x-label"), vec!["time (days)"]);
    assert_eq!(texts_in(&km, "y-label"), vec!["progression-free"]);
    assert!(texts_in(&km, "legend").iter().any(|t| t == "adaptive-50"));
    let at_risk = texts_in(&km, "at-risk");
    assert!(
        at_risk.iter().filter(|t| *t == "60").count() >= 2,
        "{at_risk:?}"
    );
    // Swimmer: one bar per kept rollout (12 < 30), progression dots only where progressed.
    let swim = roxmltree::Document::parse(&plots["swimmer-standard-of-care"]).unwrap();
    assert_eq!(count_class(&swim, "patient"), 12);
    assert_eq!(count_class(&swim, "progression"), 12);
    let swim = roxmltree::Document::parse(&plots["swimmer-adaptive-50"]).unwrap();
    assert_eq!(count_class(&swim, "progression"), 0);
    assert!(
        count_class(&swim, "on-drug") > 12,
        "adaptive dosing comes in several periods"
    );
    // Trajectory: one curve per compartment, the marker, a band each, dosing shown.
    let tr = roxmltree::Document::parse(&plots["trajectory-adaptive-50"]).unwrap();
    assert_eq!(count_class(&tr, "compartment"), 2);
    assert_eq!(count_class(&tr, "marker"), 1);
    assert_eq!(count_class(&tr, "band"), 3);
    assert!(count_class(&tr, "dosing-on") > 0);
    assert!(texts_in(&tr, "y-label")[0].contains("log scale"));
    // The report: self-contained, every figure inline, the results table, the manifest.
    let html = read(&report);
    assert_self_contained(&html);
    assert_eq!(html.matches("<svg").count(), plots.len());
    for name in plots.keys() {
        assert!(html.contains(&format!("<figure id=\"{name}\"")), "{name}");
    }
    assert!(html.contains("<h2>Results</h2>") && html.contains("<td>adaptive-50</td>"));
    assert!(html.contains("scenario_sha256"));
    // `regimen plot` redraws the same pictures from the folder.
    let before = plots;
    std::fs::remove_dir_all(dir.join("plots")).unwrap();
    regimen(&["plot", dir.to_str().unwrap()]);
    assert_eq!(svgs(&dir), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_deterministic_trajectory_marks_threshold_and_progression() {
    let dir = temp("simulate");
    regimen(&[
        "simulate",
        "scenarios/zhang2022-prostate.yaml",
        "--arm",
        "standard-of-care",
        "--out",
        dir.to_str().unwrap(),
        "--no-png",
    ]);
    let text = read(&dir.join("plots/trajectory-standard-of-care.svg"));
    let doc = roxmltree::Document::parse(&text).unwrap();
    assert_eq!(count_class(&doc, "threshold"), 1);
    assert!(count_class(&doc, "visit") > 10);
    let label = texts_in(&doc, "progression");
    assert_eq!(label, vec!["progression, 672 days"], "{label:?}");
    assert!(!dir.join("plots/trajectory-standard-of-care.png").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn optimise_report_shows_every_evaluation_and_the_arms() {
    let dir = temp("optimise");
    let report = dir.join("report.html");
    regimen(&[
        "optimise",
        "scenarios/zhang2022-prostate.yaml",
        "--families",
        "intermittent,lp",
        "--budget-evals",
        "6",
        "--rollouts",
        "16",
        "--holdout",
        "16",
        "-q",
        "--out",
        dir.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    let plots = svgs(&dir);
    let doc = roxmltree::Document::parse(&plots["pareto"]).unwrap();
    let trace = read(&dir.join("trace.csv"));
    assert_eq!(count_class(&doc, "candidate"), trace.lines().count() - 1);
    assert_eq!(count_class(&doc, "arm"), 2);
    assert_eq!(count_class(&doc, "finalist"), 2);
    let labels = texts_in(&doc, "arm-label");
    assert!(
        labels.contains(&"standard-of-care".to_owned()),
        "{labels:?}"
    );
    // The legend names a front only when one is drawn (a line through two or more points, a
    // ring around one).
    let board = read(&dir.join("leaderboard.csv"));
    let header: Vec<&str> = board.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "on_front").unwrap();
    let on_front = board
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(col) == Some("true"))
        .count();
    let legend = texts_in(&doc, "legend");
    assert!(on_front >= 1, "{board}");
    assert_eq!(count_class(&doc, "front"), 1);
    let expected = if on_front == 1 {
        "front (one schedule)"
    } else {
        "front"
    };
    assert!(legend.iter().any(|t| t == expected), "{legend:?}");
    let html = read(&report);
    assert_self_contained(&html);
    assert!(html.contains("<h2>Best schedule found</h2>"));
    // The sensitivity report: a tornado bar per changed parameter of the best entry and
    // direction (one drug effect and two birth rates by default here; raising the capacity
    // effect past 1 makes no valid model, so it has only the lowered bar) and a 5 × 5 map,
    // both in the report (the map leaves out the invalid changes).
    let sensitivity = read(&dir.join("sensitivity.csv"));
    let best = board.lines().nth(1).unwrap().split(',').nth(1).unwrap();
    let directions: std::collections::BTreeSet<(String, bool)> = sensitivity
        .lines()
        .filter(|l| l.starts_with(&format!("{best},oneway,")))
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[2].to_owned(), cells[3].parse::<f64>().unwrap() > 0.0)
        })
        .collect();
    assert_eq!(directions.len(), 5, "{directions:?}");
    assert!(sensitivity.contains("capacity"));
    assert!(!directions.contains(&(
        "drugs.abiraterone.effects.sensitive.capacity.linear.slope".to_owned(),
        true
    )));
    let tornado = roxmltree::Document::parse(&plots["tornado"]).unwrap();
    assert_eq!(count_class(&tornado, "bar"), directions.len());
    let map = roxmltree::Document::parse(&plots["sensitivity-map"]).unwrap();
    let map_rows = sensitivity
        .lines()
        .filter(|l| l.starts_with(&format!("{best},map,")))
        .count();
    assert!((15..=25).contains(&map_rows), "{map_rows}");
    assert_eq!(count_class(&map, "cell"), map_rows);
    assert!(html.contains("tornado") && html.contains("sensitivity-map"));
    std::fs::remove_dir_all(&dir).unwrap();
}
