//! The reference's `accumulate_metadata`: per key, the set of Python `str()` of every value the
//! key had over the learn's observations.

use std::collections::BTreeSet;

use kato_core::python_str;
use serde_json::{Map, Value};

/// Distinct (key, `str(value)`) pairs over `observations`, sorted by key then value.
pub fn accumulate_metadata(observations: &[Map<String, Value>]) -> Vec<(String, String)> {
    let pairs: BTreeSet<(String, String)> = observations
        .iter()
        .flat_map(|map| {
            map.iter()
                .map(|(key, value)| (key.clone(), python_str(value)))
        })
        .collect();
    pairs.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_python_strings_and_repeat_once() {
        let observations: Vec<Map<String, Value>> = serde_json::from_str(
            r#"[{"flag": true, "price": 45.67, "none": null, "tags": [1, "a"]},
                {"flag": true, "price": 12, "nested": {"k": "v"}}]"#,
        )
        .unwrap();
        let pairs = accumulate_metadata(&observations);
        let expected: Vec<(String, String)> = [
            ("flag", "True"),
            ("nested", "{'k': 'v'}"),
            ("none", "None"),
            ("price", "12"),
            ("price", "45.67"),
            ("tags", "[1, 'a']"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(pairs, expected);
    }
}
