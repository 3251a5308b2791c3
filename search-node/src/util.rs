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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_strips_quotes_only_from_strings() {
        assert_eq!(plain(&Value::from("a")), "a");
        assert_eq!(plain(&serde_json::json!([1, "a"])), "[1,\"a\"]");
        assert!(is_true(Some("")) && is_true(Some("true")) && !is_true(Some("false")) && !is_true(None));
    }
}
