//! The self-contained HTML report: inline CSS and SVG, no scripts, nothing fetched.

use super::data::{RunFolder, Table};
use super::figures::Figure;
use super::svg::escape;

const STYLE: &str = "body{font-family:'DejaVu Sans',Verdana,Arial,sans-serif;max-width:1000px;\
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;font-size:.85em;margin:1em 0;display:block;overflow-x:auto}\
th,td{border-bottom:1px solid #e5e5e5;padding:.3em .6em;text-align:right;white-space:nowrap}\
th:first-child,td:first-child{text-align:left}th{background:#f5f5f5;white-space:normal;\
vertical-align:bottom}\
figure{margin:1.5em 0}figcaption{font-size:.85em;color:#555}svg{max-width:100%;height:auto}\
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.8em}\
.meta{color:#555;font-size:.9em}.muted{color:#999}.note{background:#fff8e1;padding:.5em .8em}";

/// A p-value with two significant figures.
fn fixed_sig(p: f64) -> String {
    if !p.is_finite() {
        "not computed".to_owned()
    } else if p < 1e-3 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

/// The headline of a comparison from summary.csv: median TTP, RMST, ΔRMST and HR with their
/// 95 % CIs, P(PFS), cures, dose and time on drug, formatted for reading. A hazard ratio that
/// should not be read (hazards not proportional, or pointing against ΔRMST) is greyed.
fn comparison_table(text: &str) -> String {
    let t = Table::parse(text);
    let col = |name: &str| t.column(name);
    let num = |row: &[String], name: &str| Table::number(row, col(name));
    let fixed = |x: f64, digits: usize| {
        if x.is_finite() {
            format!("{x:.digits$}")
        } else {
            "—".to_owned()
        }
    };
    let ends = |x: f64| {
        if x.is_finite() {
            format!("{x:.0}")
        } else {
            "NR".to_owned()
        }
    };
    let pfs: Vec<String> = t
        .header
        .iter()
        .filter(|h| h.starts_with("pfs_at_"))
        .cloned()
        .collect();
    let drugs: Vec<String> = t
        .header
        .iter()
        .filter_map(|h| h.strip_prefix("relative_dose_").map(str::to_owned))
        .collect();
    let mut out = String::from(
        "<table>\n<tr><th>arm</th><th>median TTP (95% CI)</th><th>RMST</th>\
         <th>ΔRMST vs reference (95% CI)</th><th>HR (95% CI)</th>",
    );
    for p in &pfs {
        out.push_str(&format!(
            "<th>PFS at {}</th>",
            escape(&p["pfs_at_".len()..])
        ));
    }
    // Cures only where some arm has any.
    let cures = t.rows.iter().any(|r| num(r, "p_cured") > 0.0);
    if cures {
        out.push_str("<th>cured</th>");
    }
    for d in &drugs {
        out.push_str(&format!("<th>{} dose vs ref.</th>", escape(d)));
    }
    out.push_str("<th>% on drug</th></tr>\n");
    for row in &t.rows {
        let median = num(row, "median_ttp");
        let rmst_difference = num(row, "rmst_difference");
        out.push_str(&format!(
            "<tr><td>{}</td><td>{} ({}–{})</td><td>{}</td>",
            escape(&Table::text(row, col("arm"))),
            if median.is_finite() {
                format!("{median:.0}")
            } else {
                "not reached".to_owned()
            },
            ends(num(row, "median_ttp_lower")),
            ends(num(row, "median_ttp_upper")),
            fixed(num(row, "restricted_mean_ttp"), 0)
        ));
        if rmst_difference.is_finite() {
            out.push_str(&format!(
                "<td>{rmst_difference:+.0} ({:+.0} to {:+.0})</td>",
                num(row, "rmst_difference_lower"),
                num(row, "rmst_difference_upper")
            ));
            let hr = num(row, "hazard_ratio");
            let cell = if hr.is_finite() {
                format!(
                    "{hr:.2} ({:.2}–{:.2})",
                    num(row, "hazard_ratio_lower"),
                    num(row, "hazard_ratio_upper")
                )
            } else {
                "—".to_owned()
            };
            if Table::text(row, col("hazard_ratio_misleading")) == "1" {
                out.push_str(&format!(
                    "<td class=\"muted\" title=\"hazards not proportional (Grambsch–Therneau \
                     p = {}) or the HR points against ΔRMST: read ΔRMST\">{cell} ‡</td>",
                    fixed_sig(num(row, "proportional_hazards_p"))
                ));
            } else {
                out.push_str(&format!("<td>{cell}</td>"));
            }
        } else {
            out.push_str("<td>reference</td><td>—</td>");
        }
        for p in &pfs {
            out.push_str(&format!("<td>{}</td>", fixed(num(row, p), 2)));
        }
        if cures {
            out.push_str(&format!("<td>{}</td>", fixed(num(row, "p_cured"), 2)));
        }
        for d in &drugs {
            let x = num(row, &format!("relative_dose_{d}"));
            out.push_str(&format!(
                "<td>{}</td>",
                if x.is_finite() {
                    format!("{:.0}%", 100.0 * x)
                } else {
                    "—".to_owned()
                }
            ));
        }
        out.push_str(&format!(
            "<td>{}</td></tr>\n",
            fixed(100.0 * num(row, "mean_fraction_time_on_drug"), 1)
        ));
    }
    out.push_str("</table>\n");
    out
}

/// A CSV file as an HTML table (long tables keep their first 200 rows).
fn table(text: &str) -> String {
    let t = Table::parse(text);
    let mut out = String::from("<table>\n<tr>");
    for h in &t.header {
        out.push_str(&format!("<th>{}</th>", escape(h)));
    }
    out.push_str("</tr>\n");
    for row in t.rows.iter().take(200) {
        out.push_str("<tr>");
        for cell in row {
            let shown = match cell.parse::<f64>() {
                Ok(v) if cell.len() > 8 && v.fract() != 0.0 => format!("{v:.4}"),
                _ => cell.clone(),
            };
            out.push_str(&format!("<td>{}</td>", escape(&shown)));
        }
        out.push_str("</tr>\n");
    }
    if t.rows.len() > 200 {
        out.push_str(&format!(
            "<tr><td colspan=\"{}\">… {} more rows in the CSV file</td></tr>\n",
            t.header.len(),
            t.rows.len() - 200
        ));
    }
    out.push_str("</table>\n");
    out
}

fn file(folder: &RunFolder, name: &str) -> Option<String> {
    std::fs::read_to_string(folder.dir.join(name)).ok()
}

/// SVG for inlining in HTML: the namespace declaration is not needed there.
fn inline(svg: &str) -> String {
    svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
}

/// The scenario's progression rule, with the arms that have their own.
fn progression_summary(s: &crate::scenario::Scenario) -> String {
    let mut out = s.progression.describe();
    let own: Vec<String> = s
        .arms
        .iter()
        .filter(|a| a.progression != s.progression)
        .map(|a| format!("{}: {}", a.name, a.progression.describe()))
        .collect();
    if !own.is_empty() {
        out.push_str(&format!(" (arms with their own rule — {})", own.join("; ")));
    }
    if !s.treats_beyond_progression() {
        out.push_str("; treatment stops at progression");
    }
    out
}

/// A short description of the scenario from its resolved form: model, drugs, arms.
fn scenario_summary(folder: &RunFolder) -> Option<String> {
    let path = folder.dir.join("scenario.yaml");
    let text = std::fs::read_to_string(&path).ok()?;
    let s = crate::scenario::Scenario::from_text(&path, &text).ok()?;
    let mut out = format!(
        "<p>Horizon {} {}; visits every {} {}; progression: {}.</p>\n<table>\n<tr><th>compartment</th><th>role</th><th>initial</th><th>birth</th><th>death</th></tr>\n",
        s.horizon,
        escape(s.time_units.as_str()),
        s.marker.every,
        escape(s.time_units.as_str()),
        escape(&progression_summary(&s))
    );
    for c in &s.model.compartments {
        let role = match c.role {
            crate::model::Role::Sensitive => "sensitive",
            crate::model::Role::Persister => "persister",
            crate::model::Role::Resistant => "resistant",
        };
        let initial = if c.initial == 0.0 || c.initial.abs() < 1e4 {
            c.initial.to_string()
        } else {
            format!("{:e}", c.initial)
        };
        out.push_str(&format!(
            "<tr><td>{}</td><td>{role}</td><td>{initial}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&c.name),
            c.birth,
            c.death
        ));
    }
    out.push_str("</table>\n<table>\n<tr><th>arm</th><th>description</th></tr>\n");
    for a in &s.arms {
        out.push_str(&format!(
            "<tr><td>{}</td><td style=\"text-align:left\">{}</td></tr>\n",
            escape(&a.name),
            escape(&a.description)
        ));
    }
    out.push_str("</table>\n");
    let drugs: Vec<String> = s.drugs.iter().map(|d| escape(&d.name)).collect();
    out.push_str(&format!("<p>Drugs: {}.</p>\n", drugs.join(", ")));
    if !s.resolved_spec().virtual_patients.is_empty() {
        // The table above gives the nominal values; each rollout draws these anew.
        let drawn: Vec<String> = s
            .resolved_spec()
            .virtual_patients
            .iter()
            .map(|(key, d)| {
                let law = match d {
                    crate::scenario::spec::DistributionSpec::Lognormal { median, cv } => {
                        match median {
                            Some(m) => format!("log-normal, median {m:e}, CV {cv}"),
                            None => format!("log-normal about the value above, CV {cv}"),
                        }
                    }
                    crate::scenario::spec::DistributionSpec::Normal { mean, sd } => {
                        format!("normal, mean {mean}, SD {sd}")
                    }
                    crate::scenario::spec::DistributionSpec::Uniform { low, high } => {
                        format!("uniform on [{low}, {high}]")
                    }
                };
                format!("<code>{}</code>: {}", escape(key), escape(&law))
            })
            .collect();
        out.push_str(&format!(
            "<p>Virtual patients (drawn anew for every rollout, the same for every arm): {}.</p>\n",
            drawn.join("; ")
        ));
    }
    Some(out)
}

/// The report of a run's folder, with its figures.
pub fn report(folder: &RunFolder, figures: &[Figure]) -> String {
    let m = &folder.manifest;
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{} — regimen {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&folder.scenario_name),
        escape(&folder.command)
    );
    out.push_str(&format!(
        "<h1>{}</h1>\n<p class=\"meta\">regimen {} · <code>{}</code> · {} · {} threads · scenario <code>{}</code> (SHA-256 {})</p>\n",
        escape(&folder.scenario_name),
        escape(m["regimen_version"].as_str().unwrap_or("?")),
        escape(&folder.command),
        if folder.stochastic {
            format!(
                "seed {} · {} rollouts per arm",
                escape(&m["seed"].to_string()),
                escape(&m["rollouts_per_arm"].to_string())
            )
        } else {
            "deterministic run (mean-field ODE)".to_owned()
        },
        escape(&m["threads"].to_string()),
        escape(m["scenario_file"].as_str().unwrap_or("?")),
        escape(m["scenario_sha256"].as_str().unwrap_or("?"))
    ));
    if let Some(summary) = scenario_summary(folder) {
        out.push_str("<h2>Scenario</h2>\n");
        out.push_str(&summary);
    }
    let results = [
        "leaderboard.csv",
        "summary.csv",
        "estimates.csv",
        "outcomes.csv",
    ]
    .iter()
    .find_map(|n| file(folder, n).map(|t| (n, t)));
    if let Some((name, text)) = results {
        out.push_str("<h2>Results</h2>\n");
        if *name == "summary.csv" {
            out.push_str(&comparison_table(&text));
            if let Some(notes) = file(folder, "notes.txt") {
                for note in notes.lines().filter(|l| !l.trim().is_empty()) {
                    out.push_str(&format!("<p class=\"note\">{}</p>\n", escape(note)));
                }
            }
            out.push_str(&format!(
                "<details><summary>every column of {name}</summary>\n{}</details>\n",
                table(&text)
            ));
        } else {
            out.push_str(&format!("<p class=\"meta\">{name}</p>\n"));
            out.push_str(&table(&text));
        }
    }
    if let Some(pop) = file(folder, "population.csv") {
        out.push_str("<h2>Population (two-stage)</h2>\n");
        out.push_str(&table(&pop));
        if let Some(forecast) = file(folder, "forecast.csv") {
            out.push_str("<h2>Forecast of the data held back</h2>\n");
            out.push_str(&table(&forecast));
        }
    }
    if let Some(best) = file(folder, "best.yaml") {
        out.push_str("<h2>Best schedule found</h2>\n<pre>");
        out.push_str(&escape(&best));
        out.push_str("</pre>\n");
    }
    if !figures.is_empty() {
        out.push_str("<h2>Figures</h2>\n");
        for f in figures {
            out.push_str(&format!(
                "<figure id=\"{}\">\n{}<figcaption>{}</figcaption>\n</figure>\n",
                escape(&f.name),
                inline(&f.svg),
                escape(&f.caption)
            ));
        }
    }
    if let Some(scenario) = file(folder, "scenario.yaml") {
        out.push_str("<h2>Scenario (resolved)</h2>\n<details><summary>every parameter, defaults filled in</summary>\n<pre>");
        out.push_str(&escape(&scenario));
        out.push_str("</pre>\n</details>\n");
    }
    out.push_str("<h2>Manifest</h2>\n<pre>");
    out.push_str(&escape(
        &serde_json::to_string_pretty(m).unwrap_or_default(),
    ));
    out.push_str("</pre>\n</body>\n</html>\n");
    out
}
