//! Embeds the schedule library (`schedules/*.yaml`) in the binary, so a scenario can name
//! `continuous-mtd` wherever it lives.

use std::fmt::Write;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=schedules");
    // The manifest's folder when the script runs, not when it was compiled: one compiled
    // script can serve two checkouts sharing a target folder (a worktree), and the one it was
    // compiled in may be gone.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest).join("schedules");
    let mut entries: Vec<(String, String)> = Vec::new();
    let read = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the schedule library {}: {e}", dir.display()));
    for entry in read.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) == Some("yaml")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            println!("cargo:rerun-if-changed={}", path.display());
            entries.push((stem.to_owned(), path.display().to_string()));
        }
    }
    entries.sort();
    let mut code = String::from(
        "/// The schedules of `schedules/`, by name.\npub const BUILTIN: &[(&str, &str)] = &[\n",
    );
    for (name, path) in &entries {
        writeln!(code, "    ({name:?}, include_str!({path:?})),").unwrap();
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("schedule_library.rs");
    std::fs::write(out, code).unwrap();
}
