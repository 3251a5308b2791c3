//! Small helpers shared by the modules of the node.

use serde_json::Value;

/// A JSON value as Elasticsearch quotes it in messages: strings without
/// their quotes, everything else as JSON.
pub fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A request flag: present without a value, or `true`.
pub fn is_true(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.is_empty() || v == "true")
}

/// The known name closest to a misspelled one, as Elasticsearch suggests
/// it (`did you mean [doc]?`): within two edits.
pub fn did_you_mean<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let cur = row[j + 1];
                row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
                prev = cur;
            }
        }
        row[b.len()]
    }
    known.iter().map(|k| (distance(name, k), *k)).filter(|(d, _)| *d <= 2).min_by_key(|(d, _)| *d).map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_strips_quotes_only_from_strings() {
        assert_eq!(plain(&Value::from("a")), "a");
        assert_eq!(plain(&serde_json::json!([1, "a"])), "[1,\"a\"]");
        assert!(is_true(Some("")) && is_true(Some("true")) && !is_true(Some("false")) && !is_true(None));
        assert_eq!(did_you_mean("dac", &["doc", "upsert"]), Some("doc"));
        assert_eq!(did_you_mean("zzzzzz", &["doc"]), None);
    }
}
