//! The one-way flow of docs/architecture.md: no top-level module of the library imports one
//! above it in the layer order, so there are no import circles.

use std::collections::BTreeSet;
use std::path::Path;

/// Bottom to top. `error` may be used by every layer; `plot` and `search` are siblings.
const LAYERS: &[&[&str]] = &[
    &["support"],
    &["model"],
    &["protocol"],
    &["scenario"],
    &["sim"],
    &["stats"],
    &["report"],
    &["fit"],
    &["plot", "search"],
    &["api"],
];

/// The layer of a `crate::NAME` path; names re-exported at the root count as their module.
fn layer(name: &str) -> Option<usize> {
    let module = match name {
        "Scenario" => "scenario",
        "CompareOptions" | "Comparison" | "Optimisation" | "OptimiseOptions" | "Progress"
        | "Silent" | "SimulateOptions" | "Simulation" | "compare" | "optimise" | "simulate" => {
            "api"
        }
        other => other,
    };
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `crate::NAME` paths in `text` outside comments and unit tests.
fn imports(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut found = BTreeSet::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (i, _) in line.match_indices("crate::") {
            let name: String = line[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            found.insert(name);
        }
    }
    found
}

#[test]
fn no_module_imports_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut checked = 0;
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if matches!(top.as_str(), "cli" | "main" | "lib" | "error") {
            continue;
        }
        let own = layer(&top).unwrap_or_else(|| panic!("{top} is in no layer of this test"));
        for used in imports(&std::fs::read_to_string(&file).unwrap()) {
            let Some(theirs) = layer(&used) else { continue };
            assert!(
                theirs < own || used == top,
                "{} imports crate::{used}, a layer above {top}",
                relative.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} imports seen");
}
