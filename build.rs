//! Embeds the schedule library (`schedules/*.yaml`) in the binary, so a scenario can name
//! `continuous-mtd` wherever it lives.

use std::fmt::Write;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=schedules");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schedules");
    let mut entries: Vec<(String, String)> = Vec::new();
    if let Ok(read) = std::fs::read_dir(&dir) {
        for entry in read.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) == Some("yaml")
                && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
            {
                println!("cargo:rerun-if-changed={}", path.display());
                entries.push((stem.to_owned(), path.display().to_string()));
            }
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
