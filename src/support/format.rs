//! How numbers and hashes are written: in CSV files, messages and manifests alike.

/// A number as CSV files carry it: the shortest text that reads back to the same f64, in
/// scientific notation when it is tiny or huge (never 200 zeros), and 0 for −0.
#[derive(Debug, Clone, Copy)]
pub struct Num(pub f64);

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let x = self.0;
        if x == 0.0 {
            f.write_str("0")
        } else if x.is_finite() && (x.abs() < 1e-5 || x.abs() >= 1e16) {
            write!(f, "{x:e}")
        } else {
            write!(f, "{x}")
        }
    }
}

/// SHA-256 of `text`, in hex (the scenario hash of manifests).
pub fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A name (an arm's, a subject's ID) as part of a file name: one-to-one, so `a.b` and `a-b` stay two files. Letters,
/// digits, `-`, `_` and `.` are kept (all an arm name may hold); anything else becomes `~`
/// and its code point in hex.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
            out.push(c);
        } else {
            out.push_str(&format!("~{:x}", c as u32));
        }
    }
    out
}

/// A short name for a parameter path: its words that say which parameter, not where it
/// sits in the file (`drugs.d.effects.sensitive.kill.linear.slope` → `d.sensitive.kill`).
pub fn short_parameter(path: &str) -> String {
    const PLACES: [&str; 9] = [
        "model",
        "compartments",
        "drugs",
        "effects",
        "linear",
        "slope",
        "hill",
        "emax",
        "transitions",
    ];
    let kept: Vec<&str> = path.split('.').filter(|w| !PLACES.contains(w)).collect();
    if kept.is_empty() {
        path.to_owned()
    } else {
        kept.join(".")
    }
}

/// A parameter's name in a few words: a drug effect as drug, compartment and effect
/// (`osimertinib.sensitive.kill`: two drugs may act on one compartment), anything else as
/// the last two words of its short name (`resistant.birth`); the full path is in the CSV
/// files.
pub fn brief_parameter(path: &str) -> String {
    let name = short_parameter(path);
    let words: Vec<&str> = name.split('.').collect();
    let keep = if path.starts_with("drugs.") { 3 } else { 2 };
    words[words.len().saturating_sub(keep)..].join(".")
}
