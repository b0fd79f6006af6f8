//! The self-contained HTML report: inline CSS and SVG, no scripts, nothing fetched.

use super::data::{RunFolder, Table};
use super::figures::Figure;
use super::svg::escape;

const STYLE: &str = "body{font-family:'DejaVu Sans',Verdana,Arial,sans-serif;max-width:1000px;\
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;font-size:.85em;margin:1em 0;display:block;overflow-x:auto}\
th,td{border-bottom:1px solid #e5e5e5;padding:.3em .6em;text-align:right;white-space:nowrap}\
th:first-child,td:first-child{text-align:left}th{background:#f5f5f5}\
figure{margin:1.5em 0}figcaption{font-size:.85em;color:#555}svg{max-width:100%;height:auto}\
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.8em}\
.meta{color:#555;font-size:.9em}";

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
    if !s.spec.progression.treat_beyond_progression.unwrap_or(false) {
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
        escape(s.spec.time_units.as_str()),
        s.marker.every,
        escape(s.spec.time_units.as_str()),
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
    for a in &s.spec.arms {
        out.push_str(&format!(
            "<tr><td>{}</td><td style=\"text-align:left\">{}</td></tr>\n",
            escape(&a.name),
            escape(&a.description)
        ));
    }
    out.push_str("</table>\n");
    let drugs: Vec<String> = s.drugs.iter().map(|d| escape(&d.name)).collect();
    out.push_str(&format!("<p>Drugs: {}.</p>\n", drugs.join(", ")));
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
                m["seed"], m["rollouts_per_arm"]
            )
        } else {
            "deterministic run (mean-field ODE)".to_owned()
        },
        m["threads"],
        escape(m["scenario_file"].as_str().unwrap_or("?")),
        escape(m["scenario_sha256"].as_str().unwrap_or("?"))
    ));
    if let Some(summary) = scenario_summary(folder) {
        out.push_str("<h2>Scenario</h2>\n");
        out.push_str(&summary);
    }
    let results = ["leaderboard.csv", "summary.csv", "outcomes.csv"]
        .iter()
        .find_map(|n| file(folder, n).map(|t| (n, t)));
    if let Some((name, text)) = results {
        out.push_str(&format!("<h2>Results</h2>\n<p class=\"meta\">{name}</p>\n"));
        out.push_str(&table(&text));
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
