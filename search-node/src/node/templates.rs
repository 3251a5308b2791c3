//! Composable index templates (`_index_template`): settings, mappings and
//! aliases applied to indexes whose name matches `index_patterns` when they
//! are created, explicitly or by a first write.
//!
//! As in Elasticsearch, only the matching template of highest `priority`
//! applies, and the create request's own body wins over it. Templates are
//! kept in `templates.json` in the data folder, written atomically.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde_json::{Map, Value, json};

use crate::error::EsError;
use crate::util::glob_match;

const FILE: &str = "templates.json";
const KEYS: [&str; 8] =
    ["index_patterns", "template", "priority", "version", "_meta", "composed_of", "data_stream", "allow_auto_create"];

/// The node's index templates.
#[derive(Debug)]
pub struct Templates {
    dir: PathBuf,
    by_name: RwLock<BTreeMap<String, Value>>,
}

fn patterns(template: &Value) -> Vec<String> {
    match &template["index_patterns"] {
        Value::String(s) => s.split(',').map(|p| p.trim().to_owned()).collect(),
        Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

impl Templates {
    /// Loads the templates of a data folder.
    pub fn open(dir: &Path) -> Result<Templates, EsError> {
        let path = dir.join(FILE);
        let by_name = if path.exists() {
            serde_json::from_slice(&fs::read(&path)?)
                .map_err(|e| EsError::internal(format!("{}: {e}", path.display())).caused_by(e))?
        } else {
            BTreeMap::new()
        };
        Ok(Templates { dir: dir.to_path_buf(), by_name: RwLock::new(by_name) })
    }

    fn save(&self, by_name: &BTreeMap<String, Value>) -> Result<(), EsError> {
        let bytes = serde_json::to_vec_pretty(by_name).map_err(|e| EsError::internal(e.to_string()).caused_by(e))?;
        Ok(crate::util::write_atomically(&self.dir, FILE, &bytes)?)
    }

    /// Adds or replaces a template after checking it.
    pub fn put(&self, name: &str, body: Value, create_only: bool) -> Result<(), EsError> {
        let Value::Object(map) = &body else { return Err(EsError::parsing("index template must be an object")) };
        if let Some(unknown) = map.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(EsError::parsing(format!("[index_template] unknown field [{unknown}]")));
        }
        if patterns(&body).is_empty() {
            return Err(EsError::validation("index patterns are missing"));
        }
        if map.get("composed_of").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
            return Err(EsError::illegal_argument(
                "imdb-search-node does not support component templates ([composed_of])",
            ));
        }
        if map.contains_key("data_stream") {
            return Err(EsError::illegal_argument("imdb-search-node does not support data streams"));
        }
        let template = body.get("template").cloned().unwrap_or_else(|| json!({}));
        crate::mapping::meta::parse_settings(template.get("settings"))?;
        let mappings = crate::mapping::meta::strip_type(template.get("mappings").cloned().unwrap_or(Value::Null))?;
        crate::mapping::meta::validate_mappings(&mappings)?;
        let priority = body.get("priority").and_then(Value::as_i64).unwrap_or(0);
        let mut by_name = self.by_name.write().expect("not poisoned");
        if create_only && by_name.contains_key(name) {
            return Err(EsError::illegal_argument(format!("index template [{name}] already exists")));
        }
        let ours = patterns(&body);
        if let Some((other, _)) = by_name.iter().find(|(n, t)| {
            *n != name
                && t.get("priority").and_then(Value::as_i64).unwrap_or(0) == priority
                && patterns(t).iter().any(|p| ours.iter().any(|q| glob_match(p, q) || glob_match(q, p)))
        }) {
            return Err(EsError::illegal_argument(format!(
                "index template [{name}] has index patterns {ours:?} matching patterns from existing templates [{other}] with the same priority [{priority}], use a different priority"
            )));
        }
        let mut updated = by_name.clone();
        updated.insert(name.to_owned(), body);
        self.save(&updated)?;
        *by_name = updated;
        Ok(())
    }

    /// Templates whose name matches a pattern (`*` for all).
    pub fn get(&self, pattern: &str) -> Vec<(String, Value)> {
        let by_name = self.by_name.read().expect("not poisoned");
        by_name
            .iter()
            .filter(|(n, _)| pattern.split(',').any(|p| glob_match(p, n)))
            .map(|(n, t)| (n.clone(), t.clone()))
            .collect()
    }

    /// Deletes the templates a pattern names; a concrete name that matches
    /// nothing is an error.
    pub fn delete(&self, pattern: &str) -> Result<(), EsError> {
        let mut by_name = self.by_name.write().expect("not poisoned");
        let doomed: Vec<String> =
            by_name.keys().filter(|n| pattern.split(',').any(|p| glob_match(p, n))).cloned().collect();
        if doomed.is_empty() && !pattern.contains('*') {
            return Err(EsError::resource_not_found(format!("index_template matching [{pattern}] not found")));
        }
        let mut updated = by_name.clone();
        for name in doomed {
            updated.remove(&name);
        }
        self.save(&updated)?;
        *by_name = updated;
        Ok(())
    }

    /// A create-index body with the winning template applied under the
    /// request's own `body`.
    pub fn apply(&self, index: &str, body: &Value) -> Result<Value, EsError> {
        let by_name = self.by_name.read().expect("not poisoned");
        let winner = by_name
            .values()
            .filter(|t| patterns(t).iter().any(|p| glob_match(p, index)))
            .max_by_key(|t| t.get("priority").and_then(Value::as_i64).unwrap_or(0));
        let Some(template) = winner.and_then(|t| t.get("template")) else { return Ok(body.clone()) };
        let mut merged = Map::new();
        let mut settings = crate::mapping::meta::parse_settings(template.get("settings"))?;
        settings.extend(crate::mapping::meta::parse_settings(body.get("settings"))?);
        let settings: Map<String, Value> = settings.into_iter().collect();
        merged.insert("settings".into(), Value::Object(settings));
        let mut mappings = crate::mapping::meta::strip_type(template.get("mappings").cloned().unwrap_or(Value::Null))?;
        if let Some(own) = body.get("mappings") {
            crate::mapping::meta::merge_mappings(&mut mappings, &crate::mapping::meta::strip_type(own.clone())?)?;
        }
        merged.insert("mappings".into(), mappings);
        let mut aliases = template.get("aliases").cloned().unwrap_or_else(|| json!({}));
        if let (Some(a), Some(Value::Object(own))) = (aliases.as_object_mut(), body.get("aliases")) {
            a.extend(own.clone());
        }
        merged.insert("aliases".into(), aliases);
        Ok(Value::Object(merged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_priority_template_applies_under_the_request() {
        let dir = tempfile::tempdir().unwrap();
        let t = Templates::open(dir.path()).unwrap();
        t.put(
            "low",
            json!({"index_patterns": ["imdb-*"], "priority": 1, "template": {"settings": {"number_of_shards": 2}}}),
            false,
        )
        .unwrap();
        t.put(
            "titles",
            json!({"index_patterns": "imdb-titles-*", "priority": 5, "template": {
                "settings": {"number_of_shards": 3, "number_of_replicas": 0},
                "mappings": {"properties": {"title": {"type": "text"}}},
                "aliases": {"imdb-titles": {}}
            }}),
            false,
        )
        .unwrap();
        let body = t.apply("imdb-titles-drama", &json!({"settings": {"number_of_replicas": 1}})).unwrap();
        assert_eq!(body["settings"]["number_of_shards"], 3);
        assert_eq!(body["settings"]["number_of_replicas"], 1);
        assert_eq!(body["mappings"]["properties"]["title"]["type"], "text");
        assert!(body["aliases"]["imdb-titles"].is_object());
        assert_eq!(t.apply("other", &json!({})).unwrap(), json!({}));
        let again = Templates::open(dir.path()).unwrap();
        assert_eq!(again.get("*").len(), 2);
        again.delete("low").unwrap();
        assert_eq!(again.delete("low").unwrap_err().status().as_u16(), 404);
        let clash = again.put("same", json!({"index_patterns": ["imdb-titles-*"], "priority": 5}), false).unwrap_err();
        assert!(clash.reason.contains("same priority"), "{}", clash.reason);
    }
}
