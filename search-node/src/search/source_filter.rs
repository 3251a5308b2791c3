//! `_source` filtering: `_source: false`, a list of fields, or
//! `{"includes": [...], "excludes": [...]}`, with `*` wildcards over dotted
//! paths, the way Elasticsearch applies it to get and search responses.

use serde_json::{Map, Value};

use crate::error::EsError;
use crate::util::glob_match;

/// What part of `_source` to return.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceFilter {
    /// `false`: no `_source` at all.
    pub disabled: bool,
    /// Paths (with wildcards) to keep; empty keeps everything.
    pub includes: Vec<String>,
    /// Paths (with wildcards) to drop.
    pub excludes: Vec<String>,
}

fn list(value: &Value) -> Result<Vec<String>, EsError> {
    match value {
        Value::String(s) => Ok(s.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect()),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| EsError::parsing("[_source] entries must be strings")))
            .collect(),
        Value::Null => Ok(Vec::new()),
        _ => Err(EsError::parsing("[_source] must be a boolean, a string, an array or an object")),
    }
}

impl SourceFilter {
    /// From a request body's `_source` value.
    pub fn from_body(value: &Value) -> Result<SourceFilter, EsError> {
        match value {
            Value::Bool(b) => Ok(SourceFilter { disabled: !b, ..SourceFilter::default() }),
            Value::Object(map) => {
                let mut filter = SourceFilter::default();
                for (key, v) in map {
                    match key.as_str() {
                        "includes" | "include" => filter.includes = list(v)?,
                        "excludes" | "exclude" => filter.excludes = list(v)?,
                        other => {
                            return Err(EsError::parsing(format!(
                                "Unknown key for a START_ARRAY in [_source]: [{other}]."
                            )));
                        }
                    }
                }
                Ok(filter)
            }
            other => Ok(SourceFilter { includes: list(other)?, ..SourceFilter::default() }),
        }
    }

    /// From query parameters `_source`, `_source_includes`, `_source_excludes`.
    pub fn from_params(source: Option<&str>, includes: Option<&str>, excludes: Option<&str>) -> SourceFilter {
        let split = |s: &str| s.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect::<Vec<_>>();
        let mut filter = SourceFilter::default();
        match source {
            Some("false") => filter.disabled = true,
            Some("true" | "") | None => {}
            Some(fields) => filter.includes = split(fields),
        }
        if let Some(i) = includes {
            filter.includes = split(i);
        }
        if let Some(e) = excludes {
            filter.excludes = split(e);
        }
        filter
    }

    /// Whether this filter returns the source unchanged.
    pub fn is_identity(&self) -> bool {
        !self.disabled && self.includes.is_empty() && self.excludes.is_empty()
    }

    /// The filtered source, or `None` when disabled.
    pub fn apply(&self, source: &Value) -> Option<Value> {
        if self.disabled {
            return None;
        }
        if self.is_identity() {
            return Some(source.clone());
        }
        let Value::Object(map) = source else { return Some(source.clone()) };
        Some(Value::Object(self.filter_object("", map)))
    }

    fn included(&self, path: &str) -> bool {
        self.includes.is_empty() || self.includes.iter().any(|p| glob_match(p, path))
    }

    fn may_include_below(&self, path: &str) -> bool {
        self.includes.is_empty()
            || self.includes.iter().any(|p| {
                let prefix = p.split('*').next().unwrap_or("");
                p.starts_with(&format!("{path}."))
                    || (p.contains('*') && (prefix.starts_with(path) || path.starts_with(prefix)))
            })
    }

    fn excluded(&self, path: &str) -> bool {
        self.excludes.iter().any(|p| glob_match(p, path))
    }

    fn filter_object(&self, prefix: &str, map: &Map<String, Value>) -> Map<String, Value> {
        let mut out = Map::new();
        for (key, value) in map {
            let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
            if self.excluded(&path) {
                continue;
            }
            if let Some(kept) = self.filter_value(&path, value, self.included(&path)) {
                out.insert(key.clone(), kept);
            }
        }
        out
    }

    fn filter_value(&self, path: &str, value: &Value, included: bool) -> Option<Value> {
        match value {
            Value::Object(inner) => {
                if included && self.excludes.is_empty() {
                    return Some(value.clone());
                }
                if !included && !self.may_include_below(path) {
                    return None;
                }
                let sub = if included {
                    SourceFilter { includes: Vec::new(), ..self.clone() }.filter_object(path, inner)
                } else {
                    self.filter_object(path, inner)
                };
                (!sub.is_empty() || included).then_some(Value::Object(sub))
            }
            Value::Array(items) => {
                let kept: Vec<Value> = items.iter().filter_map(|v| self.filter_value(path, v, included)).collect();
                (included || !kept.is_empty()).then_some(Value::Array(kept))
            }
            leaf => included.then(|| leaf.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn includes_excludes_and_wildcards() {
        let source = json!({"title": "Heat", "rating": {"average": 8.3, "votes": 700}, "cast": [{"name": "Pacino", "role": "Hanna"}]});
        let f = SourceFilter::from_body(&json!(["title", "rating.votes"])).unwrap();
        assert_eq!(f.apply(&source).unwrap(), json!({"title": "Heat", "rating": {"votes": 700}}));
        let f = SourceFilter::from_body(&json!({"includes": ["*"], "excludes": ["rating.*", "cast.role"]})).unwrap();
        assert_eq!(f.apply(&source).unwrap(), json!({"title": "Heat", "rating": {}, "cast": [{"name": "Pacino"}]}));
        let f = SourceFilter::from_body(&json!("cast")).unwrap();
        assert_eq!(f.apply(&source).unwrap(), json!({"cast": [{"name": "Pacino", "role": "Hanna"}]}));
        let f = SourceFilter::from_body(&json!("rat*")).unwrap();
        assert_eq!(f.apply(&source).unwrap(), json!({"rating": {"average": 8.3, "votes": 700}}));
        assert_eq!(SourceFilter::from_body(&json!(false)).unwrap().apply(&source), None);
        let f = SourceFilter::from_params(Some("title"), None, Some("title"));
        assert_eq!(f.apply(&source).unwrap(), json!({}));
    }
}
