//! Changing a scenario's parameters by their field paths
//! (`model.compartments.resistant.initial`), for sweeps from code: the resolved scenario is
//! edited and compiled again, so every rule a scenario file meets still applies.

use super::Scenario;
use crate::error::{Error, Result};
use serde_json::Value;

/// A problem with a parameter path, said as a scenario-file problem at that field.
fn problem(scenario: &Scenario, path: &str, message: String) -> Error {
    Error::in_field(&scenario.source, path, message)
}

/// The element of `list` that `key` names: a 0-based index, or the `name` of an element.
fn list_item<'a>(list: &'a mut [Value], key: &str) -> Option<&'a mut Value> {
    if let Ok(i) = key.parse::<usize>() {
        return list.get_mut(i);
    }
    list.iter_mut()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(key))
}

/// Sets `path` (dot-separated; list elements by index or name: `arms.adaptive-50.schedule`;
/// a key that itself holds dots, as `virtual_patients` keys do, is matched whole) in `root`
/// to `value`. The last key may be new (a field left to its default); the keys before it
/// must exist.
pub fn set(root: &mut Value, path: &str, value: Value) -> std::result::Result<(), String> {
    let keys: Vec<&str> = path.split('.').collect();
    if keys.iter().any(|k| k.is_empty()) {
        return Err(format!("`{path}` is not a field path (empty key)"));
    }
    set_in(root, &keys, 0, value)
}

/// The value at `path` in `root`, walked as [`set`] walks it.
pub fn get<'v>(root: &'v Value, path: &str) -> std::result::Result<&'v Value, String> {
    let keys: Vec<&str> = path.split('.').collect();
    if keys.iter().any(|k| k.is_empty()) {
        return Err(format!("`{path}` is not a field path (empty key)"));
    }
    let mut node = root;
    let mut at = 0;
    while at < keys.len() {
        let here = if at == 0 {
            "the scenario".to_owned()
        } else {
            format!("`{}`", keys[..at].join("."))
        };
        node = match node {
            Value::Object(map) => {
                // The longest run of keys that names a field (dotted keys first).
                let found = (at + 1..=keys.len())
                    .rev()
                    .find_map(|end| map.get(&keys[at..end].join(".")).map(|v| (v, end)));
                let (child, end) =
                    found.ok_or_else(|| format!("{here} has no field `{}`", keys[at]))?;
                at = end;
                child
            }
            Value::Array(list) => {
                let key = keys[at];
                let item = match key.parse::<usize>() {
                    Ok(i) => list.get(i),
                    Err(_) => list
                        .iter()
                        .find(|v| v.get("name").and_then(Value::as_str) == Some(key)),
                };
                at += 1;
                item.ok_or_else(|| format!("{here} has no element `{key}`"))?
            }
            _ => return Err(format!("{here} is a value, not a section")),
        };
    }
    Ok(node)
}

/// The number at `path` in the resolved scenario `spec`, or what is wrong with the path.
pub fn number_at(spec: &super::spec::ScenarioSpec, path: &str) -> std::result::Result<f64, String> {
    let root = serde_json::to_value(spec)
        .map_err(|e| format!("cannot represent the scenario for reading: {e}"))?;
    match get(&root, path)? {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| format!("`{path}` is not a finite number")),
        other => Err(format!(
            "`{path}` holds {}, not a number",
            match other {
                Value::Object(_) => "a section",
                Value::Array(_) => "a list",
                Value::String(_) => "text",
                Value::Bool(_) => "true/false",
                _ => "nothing",
            }
        )),
    }
}

/// [`set`] from `keys[at..]` down.
fn set_in(
    node: &mut Value,
    keys: &[&str],
    at: usize,
    value: Value,
) -> std::result::Result<(), String> {
    let here = if at == 0 {
        "the scenario".to_owned()
    } else {
        format!("`{}`", keys[..at].join("."))
    };
    match node {
        Value::Object(map) => {
            // The longest run of keys that names a field (dotted keys first).
            for end in (at + 1..=keys.len()).rev() {
                let key = keys[at..end].join(".");
                if end == keys.len() {
                    if map.contains_key(&key) || end == at + 1 {
                        map.insert(key, value);
                        return Ok(());
                    }
                } else if let Some(child) = map.get_mut(&key) {
                    return set_in(child, keys, end, value);
                }
            }
            Err(format!("{here} has no field `{}`", keys[at]))
        }
        Value::Array(list) => {
            let item = list_item(list, keys[at])
                .ok_or_else(|| format!("{here} has no element `{}`", keys[at]))?;
            if at + 1 == keys.len() {
                *item = value;
                Ok(())
            } else {
                set_in(item, keys, at + 1, value)
            }
        }
        _ => Err(format!("{here} is a value, not a section")),
    }
}

impl Scenario {
    /// This scenario with the fields at `params` (path, new value) changed, validated and
    /// compiled again: `with_params(&[("model.compartments.resistant.initial", 1e5.into())])`.
    pub fn with_params(&self, params: &[(&str, Value)]) -> Result<Scenario> {
        let mut root = serde_json::to_value(&self.resolved).map_err(|e| {
            problem(
                self,
                "",
                format!("cannot represent the scenario for editing: {e}"),
            )
        })?;
        for (path, value) in params {
            set(&mut root, path, value.clone()).map_err(|m| problem(self, path, m))?;
        }
        let text = serde_saphyr::to_string(&root)
            .map_err(|e| problem(self, "", format!("cannot write the edited scenario: {e}")))?;
        Scenario::from_text(&self.source, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_walk_maps_and_named_list_elements() {
        let mut v = serde_json::json!({
            "model": {"compartments": {"resistant": {"initial": 1.0}}},
            "arms": [{"name": "a", "schedule": "x"}, {"name": "b"}]
        });
        set(&mut v, "model.compartments.resistant.initial", 5.0.into()).unwrap();
        set(&mut v, "arms.b.schedule", "y".into()).unwrap();
        set(&mut v, "arms.0.schedule", "z".into()).unwrap();
        assert_eq!(get(&v, "arms.b.schedule").unwrap(), "y");
        assert_eq!(
            get(&v, "model.compartments.resistant.initial").unwrap(),
            5.0
        );
        assert!(get(&v, "model.compartments.r").is_err());
        assert_eq!(v["model"]["compartments"]["resistant"]["initial"], 5.0);
        assert_eq!(v["arms"][1]["schedule"], "y");
        assert_eq!(v["arms"][0]["schedule"], "z");
        let e = set(&mut v, "model.compartmentz.resistant.initial", 1.into()).unwrap_err();
        assert!(e.contains("`model` has no field `compartmentz`"), "{e}");
        assert!(set(&mut v, "arms.c.schedule", 1.into()).is_err());
        // Keys that hold dots (virtual_patients) are matched whole.
        let mut p = serde_json::json!({"virtual_patients": {
            "compartments.resistant.initial": {"lognormal": {"median": 1.0}}}});
        let path = "virtual_patients.compartments.resistant.initial.lognormal.median";
        set(&mut p, path, 7.0.into()).unwrap();
        assert_eq!(
            p["virtual_patients"]["compartments.resistant.initial"]["lognormal"]["median"],
            7.0
        );
    }
}
