//! Virtual patients drawn as rows of a table (`virtual_patient_table`, e.g. a fit's
//! per-subject estimates): every rollout's model holds one row's values jointly, the rows
//! are drawn uniformly, the draw is keyed on (seed, rollout), and a table that names no
//! parameter or clashes with `virtual_patients` is refused with the field.

use regimen::Scenario;
use std::path::Path;

const SCENARIO: &str = "format_version: 1
name: patient table
time_units: days
horizon: 100
model:
  growth: exponential
  compartments:
    tumour: { birth: 0.02, initial: 1.0e9 }
drugs:
  drug:
    standard_dose: 1
    effects:
      tumour: { kill: { linear: { slope: 0.05 } } }
observation: { every: 28 }
progression: { rule: rise_over_nadir }
virtual_patient_table: patients.csv
arms:
  - { name: continuous, schedule: continuous-mtd }
";

/// Four patients (id and a standard error as a fit writes them, which are ignored); birth
/// and kill vary together, so a draw that mixed rows would show.
const TABLE: &str = "id,model.compartments.tumour.birth,model.compartments.tumour.birth.se,\
drugs.drug.effects.tumour.kill.linear.slope
a,0.01,0.001,0.1
b,0.02,0.002,0.2
c,0.03,0.003,0.3
d,0.04,0.004,0.4
";

fn scenario(dir: &Path, yaml: &str, table: &str) -> regimen::error::Result<Scenario> {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("patients.csv"), table).unwrap();
    let file = dir.join("scenario.yaml");
    std::fs::write(&file, yaml).unwrap();
    Scenario::load(&file)
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("regimen-table-{name}-{}", std::process::id()))
}

#[test]
fn each_rollout_draws_one_row_of_the_table() {
    let dir = temp("draws");
    let s = scenario(&dir, SCENARIO, TABLE).unwrap();
    use regimen::model::patients::{EffectKind, Target};
    let kill = |m: &regimen::model::Model| {
        Target::Effect {
            drug: 0,
            compartment: 0,
            kind: EffectKind::Kill,
        }
        .get(m)
    };
    let mut counts = [0usize; 4];
    let n = 400;
    for index in 0..n {
        let p = regimen::sim::rollouts::patient(&s, 7, index);
        let birth = p.model.compartments[0].birth;
        let row = ((birth * 100.0).round() as usize) - 1;
        assert!(row < 4, "birth {birth} is no row's");
        // The row's kill came with its birth.
        assert!((kill(&p.model) - 0.1 * (row + 1) as f64).abs() < 1e-12);
        counts[row] += 1;
        // Keyed on (seed, rollout): the same patient again.
        let again = regimen::sim::rollouts::patient(&s, 7, index);
        assert_eq!(again.model.compartments[0].birth, birth);
    }
    // Uniform over 4 rows: χ² with 3 degrees of freedom, below 16.27 with probability
    // 0.999 (fixed seed; fails only if the draw is biased).
    let expected = n as f64 / 4.0;
    let chi2: f64 = counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum();
    assert!(chi2 < 16.27, "counts {counts:?}, χ² {chi2}");
    // Another seed draws other patients.
    let other: Vec<f64> = (0..20)
        .map(|i| regimen::sim::rollouts::patient(&s, 8, i).model.compartments[0].birth)
        .collect();
    let mine: Vec<f64> = (0..20)
        .map(|i| regimen::sim::rollouts::patient(&s, 7, i).model.compartments[0].birth)
        .collect();
    assert_ne!(other, mine);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_table_that_names_no_parameter_or_clashes_is_refused() {
    let dir = temp("refused");
    let e = scenario(&dir, SCENARIO, "id,birth\na,0.1\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("virtual_patient_table") && e.contains("no column is named"),
        "{e}"
    );
    let e = scenario(
        &dir,
        SCENARIO,
        "model.compartments.tumour.birth\n0.1\n-0.2\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("line 3") && e.contains("≥ 0"), "{e}");
    let clash = SCENARIO.replace(
        "virtual_patient_table: patients.csv",
        "virtual_patient_table: patients.csv\nvirtual_patients:\n  compartments.tumour.birth: \
         { lognormal: { cv: 0.2 } }",
    );
    let e = scenario(&dir, &clash, TABLE).unwrap_err().to_string();
    assert!(e.contains("also drawn by virtual_patients"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
