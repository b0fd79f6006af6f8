//! The JSON Schema of scenario files (docs/scenario.schema.json): generated from the spec
//! types, it accepts every bundled and valid scenario and rejects every invalid case whose
//! fault is one of structure (an unknown field, a wrong type, a missing field), which is
//! what a schema can see. Range and cross-reference rules are `regimen check`'s.

mod common;
use common::yaml_files;
use regimen::scenario::spec::{ScenarioSpec, json_schema};
use std::path::Path;

fn schema_file() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/scenario.schema.json")
}

fn validator() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(&json_schema()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

/// The YAML file as JSON, as an editor's YAML language server sees it.
fn as_json(file: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(file).unwrap();
    serde_saphyr::from_str::<serde_json::Value>(&text).ok()
}

#[test]
fn the_shipped_schema_is_the_one_the_types_give() {
    let shipped = std::fs::read_to_string(schema_file()).unwrap();
    assert!(
        shipped == json_schema(),
        "docs/scenario.schema.json is out of date: regenerate it with \
         `cargo run --release -- schema > docs/scenario.schema.json`"
    );
}

#[test]
fn every_bundled_and_valid_scenario_meets_the_schema() {
    let v = validator();
    let mut files = yaml_files("scenarios");
    files.extend(yaml_files("tests/cases/valid"));
    assert!(files.len() >= 6);
    for file in files {
        let json = as_json(&file).unwrap_or_else(|| panic!("{}: not JSON-like", file.display()));
        let errors: Vec<String> = v.iter_errors(&json).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", file.display());
    }
}

#[test]
fn every_structural_fault_is_a_schema_error() {
    let v = validator();
    let mut structural = 0;
    for file in yaml_files("tests/cases/invalid") {
        let text = std::fs::read_to_string(&file).unwrap();
        // A fault of structure is one the YAML reader itself refuses (serde: unknown field,
        // wrong type, missing field); a document that is not plain JSON-like data (a YAML
        // syntax error, a duplicate key) is beyond what a schema is given.
        let parsed = regimen::scenario::parse::parse::<ScenarioSpec>(&file, &text);
        let Some(json) = as_json(&file) else { continue };
        if parsed.is_ok() {
            continue;
        }
        structural += 1;
        assert!(
            !v.is_valid(&json),
            "{}: the reader refuses it but the schema accepts it",
            file.display()
        );
    }
    println!("{structural} structural invalid cases, all refused by the schema");
    assert!(structural >= 10, "only {structural} structural cases");
}
