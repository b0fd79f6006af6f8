//! One tiny scenario file per validation rule. Each file in `tests/cases/invalid/` starts
//! with `# expect: <fragment>`; loading it must fail with a message holding that fragment
//! and a line number. Every file in `tests/cases/valid/` must load.

mod common;
use common::yaml_files;
use regimen::{Error, Scenario};
use std::path::Path;
use std::process::Command;

fn expected_fragment(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .next()
        .and_then(|l| l.strip_prefix("# expect: "))
        .unwrap_or_else(|| panic!("{} lacks a `# expect:` first line", file.display()))
        .to_owned()
}

#[test]
fn every_invalid_case_fails_with_its_message_and_a_line() {
    let files = yaml_files("tests/cases/invalid");
    assert!(files.len() >= 20, "only {} invalid cases", files.len());
    for file in files {
        let fragment = expected_fragment(&file);
        match Scenario::load(&file) {
            Ok(_) => panic!("{} loaded but should fail", file.display()),
            Err(Error::Invalid(diags)) => {
                let all: Vec<String> = diags.iter().map(ToString::to_string).collect();
                let hit = diags.iter().find(|d| d.message.contains(&fragment));
                let Some(hit) = hit else {
                    panic!(
                        "{}: expected a message containing {fragment:?}, got:\n{}",
                        file.display(),
                        all.join("\n")
                    );
                };
                assert!(
                    hit.line.is_some(),
                    "{}: no line number in {hit}",
                    file.display()
                );
                // A `# in: NAME` line says the error belongs to another file beside the case
                // (a CSV of dosing records, say).
                let text = std::fs::read_to_string(&file).unwrap();
                let expected_file = text
                    .lines()
                    .find_map(|l| l.strip_prefix("# in: "))
                    .map_or(file.clone(), |name| file.with_file_name(name.trim()));
                assert_eq!(
                    hit.file,
                    expected_file,
                    "{}: wrong file in {hit}",
                    file.display()
                );
            }
            Err(other) => panic!("{}: unexpected error kind: {other}", file.display()),
        }
    }
}

#[test]
fn every_valid_case_loads() {
    let files = yaml_files("tests/cases/valid");
    assert!(!files.is_empty());
    for file in files {
        if let Err(e) = Scenario::load(&file) {
            panic!("{} should load:\n{e}", file.display());
        }
    }
}

#[test]
fn the_binary_reports_invalid_cases_without_panicking() {
    for file in yaml_files("tests/cases/invalid") {
        let out = Command::new(env!("CARGO_BIN_EXE_regimen"))
            .arg("check")
            .arg(&file)
            .output()
            .expect("run regimen");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: exit {:?}, stderr:\n{stderr}",
            file.display(),
            out.status.code()
        );
        assert!(!stderr.contains("panicked"), "{}: {stderr}", file.display());
        assert!(
            stderr.contains(&expected_fragment(&file)),
            "{}: {stderr}",
            file.display()
        );
    }
}

#[test]
fn an_error_names_the_field_path_and_what_is_allowed() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases/invalid/intermittent-negative-off.yaml");
    let Err(e) = Scenario::load(&file) else {
        panic!("should fail")
    };
    let text = e.to_string();
    assert!(
        text.contains("intermittent-negative-off.yaml:18:")
            && text.contains("arms[0].schedule.intermittent.off"),
        "{text}"
    );
}

/// A 100 MB file is refused after reading at most the size limit, with a clear message.
#[test]
fn a_huge_file_is_refused_without_reading_it_all() {
    let path = std::env::temp_dir().join(format!("regimen-huge-{}.yaml", std::process::id()));
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let line = "# padding padding padding padding padding padding padding padding\n";
        for _ in 0..(100 * 1024 * 1024 / line.len()) {
            f.write_all(line.as_bytes()).unwrap();
        }
    }
    let err = Scenario::load(&path).expect_err("a 100 MB file must be refused");
    let text = err.to_string();
    std::fs::remove_file(&path).unwrap();
    assert!(text.contains("file is larger than 4 MiB"), "{text}");
}
