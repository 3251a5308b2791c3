//! Stashed values and paths into responses.
//!
//! Contract, as the upstream runner behaves:
//! - A string that is exactly `$name` or `${name}` stands for the stashed
//!   value itself (any JSON type); `${name}` inside a longer string is
//!   replaced by the value's text. Keys of objects are substituted the same
//!   way (as text). A reference to a name never stashed is an error, not a
//!   literal. `body` is stashed after every `do` (the last response body).
//! - A path is split at `.`; `\.` is a literal dot (`text\.postings`), and
//!   empty components are dropped, so `''` is the whole body. A component
//!   that is a stash reference is replaced by the value's text; one that
//!   embeds `${name}` likewise. Objects are entered by key; arrays by a
//!   numeric index, where a non-number or an index out of bounds is an
//!   error; `_arbitrary_key_` on an object yields one of its keys. Entering
//!   a scalar is an error; a missing key (or a null on the way) is
//!   "undefined", [`None`].

use std::collections::HashMap;

use serde_json::{Map, Value};

/// The path component that yields any key of an object.
pub const ARBITRARY_KEY: &str = "_arbitrary_key_";

/// Values saved by `set` (and `body`, by every `do`), for `$name`.
#[derive(Debug, Clone, Default)]
pub struct Stash {
    values: HashMap<String, Value>,
}

impl Stash {
    /// Saves a value as `$name`.
    pub fn set(&mut self, name: &str, value: Value) {
        self.values.insert(name.to_owned(), value);
    }

    /// The value stashed as `$name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// Forgets everything (between tests).
    pub fn clear(&mut self) {
        self.values.clear();
    }

    fn lookup(&self, name: &str) -> Result<&Value, String> {
        self.values.get(name).ok_or_else(|| format!("stashed value not found for key [{name}]"))
    }

    /// What a string stands for: `Some(value)` when it refers to the stash
    /// (wholly, or with embedded `${name}`s, then as text), `None` when it
    /// is plain text.
    pub fn resolve(&self, text: &str) -> Result<Option<Value>, String> {
        if let Some(name) = whole_reference(text) {
            return self.lookup(name).cloned().map(Some);
        }
        if !text.contains("${") {
            return Ok(None);
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let Some(len) = rest[start + 2..].find('}') else { break };
            let name = &rest[start + 2..start + 2 + len];
            out.push_str(&rest[..start]);
            out.push_str(&value_text(self.lookup(name)?));
            rest = &rest[start + 3 + len..];
        }
        out.push_str(rest);
        Ok(Some(Value::String(out)))
    }

    /// A copy of `value` with every stash reference replaced, in strings,
    /// array elements and object keys and values.
    pub fn substitute(&self, value: &Value) -> Result<Value, String> {
        Ok(match value {
            Value::String(s) => self.resolve(s)?.unwrap_or_else(|| value.clone()),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.substitute(v)).collect::<Result<_, _>>()?),
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    let key = match self.resolve(k)? {
                        Some(resolved) => value_text(&resolved),
                        None => k.clone(),
                    };
                    out.insert(key, self.substitute(v)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }
}

/// `name` when `text` is exactly `$name` or `${name}`.
pub fn whole_reference(text: &str) -> Option<&str> {
    if let Some(inner) = text.strip_prefix("${").and_then(|t| t.strip_suffix('}')) {
        return (!inner.is_empty() && !inner.contains(['{', '}'])).then_some(inner);
    }
    let name = text.strip_prefix('$')?;
    (!name.is_empty() && !name.starts_with('{')).then_some(name)
}

/// A value as text in a URL, a key or an embedded reference: strings as they
/// are, lists comma-joined (how the API takes them), others as JSON.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Splits a path at unescaped dots, dropping empty components.
pub fn split_path(path: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next) => current.push(next),
                None => current.push('\\'),
            },
            '.' => {
                if !current.is_empty() {
                    parts.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// The value at `path` in `root`: `Ok(None)` when undefined, an error when
/// the path cannot be followed (see the module docs).
pub fn lookup(root: &Value, path: &str, stash: &Stash) -> Result<Option<Value>, String> {
    let mut current = root;
    for part in split_path(path) {
        let key = match stash.resolve(&part)? {
            Some(value) => value_text(&value),
            None => part,
        };
        match current {
            Value::Object(map) if key == ARBITRARY_KEY && !map.contains_key(ARBITRARY_KEY) => {
                let first = map.keys().next().ok_or_else(|| format!("requested [{key}] but the map was empty"))?;
                return Ok(Some(Value::String(first.clone())));
            }
            Value::Object(map) => match map.get(&key) {
                Some(Value::Null) | None => return Ok(None),
                Some(next) => current = next,
            },
            Value::Array(items) => {
                let index: usize =
                    key.parse().map_err(|_| format!("element was a list, but [{key}] was not numeric"))?;
                current = items.get(index).ok_or_else(|| {
                    format!("element was a list with {} elements, but [{key}] was out of bounds", items.len())
                })?;
            }
            other => return Err(format!("no object found for [{key}] within {}", short(other))),
        }
    }
    Ok(Some(current.clone()))
}

/// A value in a message, cut to a readable length.
pub fn short(value: &Value) -> String {
    const MAX: usize = 300;
    let text = value.to_string();
    if text.chars().count() <= MAX { text } else { format!("{}...", text.chars().take(MAX).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stash() -> Stash {
        let mut stash = Stash::default();
        stash.set("id", json!("abc"));
        stash.set("count", json!(3));
        stash.set("node", json!("n1"));
        stash
    }

    #[test]
    fn paths_split_at_unescaped_dots() {
        assert_eq!(split_path("hits.hits.0._source"), ["hits", "hits", "0", "_source"]);
        assert_eq!(
            split_path(r"hits.hits.0.highlight.text\.postings.0"),
            ["hits", "hits", "0", "highlight", "text.postings", "0"]
        );
        assert_eq!(
            split_path(r"test_index.settings.index\.number_of_replicas"),
            ["test_index", "settings", "index.number_of_replicas"]
        );
        assert!(split_path("").is_empty());
        assert_eq!(split_path(".a..b."), ["a", "b"]);
    }

    #[test]
    fn lookups_follow_keys_and_indices() {
        let body = json!({"hits": {"total": {"value": 2}, "hits": [{"_id": "1"}, {"_id": "2", "f": null}]}, "a.b": 1});
        let s = Stash::default();
        assert_eq!(lookup(&body, "hits.total.value", &s).unwrap(), Some(json!(2)));
        assert_eq!(lookup(&body, "hits.hits.1._id", &s).unwrap(), Some(json!("2")));
        assert_eq!(lookup(&body, r"a\.b", &s).unwrap(), Some(json!(1)));
        assert_eq!(lookup(&body, "", &s).unwrap(), Some(body.clone()));
        assert_eq!(lookup(&body, "hits.nothing.deeper", &s).unwrap(), None);
        assert_eq!(lookup(&body, "hits.hits.1.f", &s).unwrap(), None);
        assert!(lookup(&body, "hits.hits.5", &s).unwrap_err().contains("out of bounds"));
        assert!(lookup(&body, "hits.hits.x", &s).unwrap_err().contains("not numeric"));
        assert!(lookup(&body, "hits.total.value.x", &s).unwrap_err().contains("no object found"));
    }

    #[test]
    fn stash_references_work_in_paths() {
        let body = json!({"nodes": {"n1": {"name": "one"}}});
        let s = stash();
        assert_eq!(lookup(&body, "nodes.$node.name", &s).unwrap(), Some(json!("one")));
        assert_eq!(lookup(&body, "nodes.${node}.name", &s).unwrap(), Some(json!("one")));
        assert_eq!(lookup(&body, "nodes._arbitrary_key_", &s).unwrap(), Some(json!("n1")));
        assert!(lookup(&body, "nodes.$missing", &s).unwrap_err().contains("stashed value not found"));
    }

    #[test]
    fn whole_references_keep_their_type_and_embedded_ones_become_text() {
        let s = stash();
        assert_eq!(s.resolve("$count").unwrap(), Some(json!(3)));
        assert_eq!(s.resolve("${count}").unwrap(), Some(json!(3)));
        assert_eq!(s.resolve("id-${id}-${count}").unwrap(), Some(json!("id-abc-3")));
        assert_eq!(s.resolve("plain").unwrap(), None);
        assert_eq!(s.resolve("$").unwrap(), None);
        assert_eq!(s.resolve("/^$/").unwrap(), None);
        assert!(s.resolve("$nope").is_err());
    }

    #[test]
    fn substitution_reaches_nested_values_and_keys() {
        let s = stash();
        let body = json!({"settings": {"number_of_replicas": "$count"}, "$id": ["${id}", 1], "k": "v"});
        assert_eq!(
            s.substitute(&body).unwrap(),
            json!({"settings": {"number_of_replicas": 3}, "abc": ["abc", 1], "k": "v"})
        );
    }

    #[test]
    fn values_render_as_text_the_way_urls_take_them() {
        assert_eq!(value_text(&json!("a b")), "a b");
        assert_eq!(value_text(&json!(true)), "true");
        assert_eq!(value_text(&json!(1.5)), "1.5");
        assert_eq!(value_text(&json!(["a", 1, false])), "a,1,false");
    }
}
