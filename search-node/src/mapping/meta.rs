//! Index metadata: settings, mappings and aliases, as Elasticsearch accepts
//! and reports them.
//!
//! Settings arrive nested (`{"index":{"number_of_shards":2}}`), flat
//! (`{"number_of_shards":"2"}`) or dotted (`{"index.number_of_shards":2}`);
//! they are flattened to dotted keys without the `index.` prefix and
//! reported back the way Elasticsearch does: under `index`, values as
//! strings. A setting outside the supported set is refused by name, never
//! silently ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::EsError;

/// The Elasticsearch version the node reports; 8.x clients check it.
pub const VERSION: &str = "8.11.0";
/// Elasticsearch's internal id of that version (`index.version.created`).
pub const VERSION_ID: &str = "8500003";

/// Settings the node understands (without the `index.` prefix). Analysis
/// settings are accepted as a whole under `analysis.`.
const KNOWN_SETTINGS: [&str; 15] = [
    "number_of_shards",
    "number_of_replicas",
    "refresh_interval",
    "max_result_window",
    "uuid",
    "creation_date",
    "number_of_routing_shards",
    "auto_expand_replicas",
    "mapping.total_fields.limit",
    "soft_deletes.enabled",
    "hidden",
    "max_ngram_diff",
    "max_shingle_diff",
    "priority",
    "write.wait_for_active_shards",
];

/// Everything the node keeps about one index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexMeta {
    /// The index name.
    pub name: String,
    /// A unique id, new for every index created.
    pub uuid: String,
    /// Creation time, milliseconds since the epoch.
    pub creation_date: u64,
    /// Settings as dotted keys without `index.`, values as given.
    pub settings: BTreeMap<String, Value>,
    /// The mapping (`{"properties": {...}}` and mapping parameters).
    pub mappings: Value,
    /// Aliases of this index with their definitions.
    pub aliases: BTreeMap<String, Value>,
}

fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let key = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                flatten(&key, v, out);
            }
        }
        other => {
            out.insert(prefix.strip_prefix("index.").unwrap_or(prefix).to_owned(), other.clone());
        }
    }
}

/// The flat settings of a request body's `settings` object.
pub fn parse_settings(settings: Option<&Value>) -> Result<BTreeMap<String, Value>, EsError> {
    let mut flat = BTreeMap::new();
    match settings {
        None | Some(Value::Null) => {}
        Some(v @ Value::Object(_)) => flatten("", v, &mut flat),
        Some(_) => return Err(EsError::parsing("[settings] must be an object")),
    }
    for (key, value) in &flat {
        if !KNOWN_SETTINGS.contains(&key.as_str()) && !key.starts_with("analysis.") {
            return Err(EsError::illegal_argument(format!(
                "unknown setting [index.{key}] please check that any required plugins are installed, or check the breaking changes documentation for removed settings"
            )));
        }
        if matches!(key.as_str(), "number_of_shards" | "number_of_replicas" | "max_result_window") {
            let n = value.as_u64().or_else(|| value.as_str().and_then(|s| s.parse().ok()));
            let min = u64::from(key == "number_of_shards" || key == "max_result_window");
            if n.is_none_or(|n| n < min || n > 1024 && key != "max_result_window") {
                return Err(EsError::illegal_argument(format!(
                    "Failed to parse value [{}] for setting [index.{key}] must be >= {min}",
                    value.as_str().map_or(value.to_string(), str::to_owned)
                )));
            }
        }
    }
    if let Some(interval) = flat.get("refresh_interval")
        && parse_interval(interval).is_err()
    {
        return Err(EsError::illegal_argument(format!(
            "failed to parse setting [index.refresh_interval] with value [{}] as a time value: unit is missing or unrecognized",
            crate::util::plain(interval)
        )));
    }
    flat.remove("uuid");
    flat.remove("creation_date");
    Ok(flat)
}

/// Checks a mapping the way index creation does.
pub fn validate_mappings(mappings: &Value) -> Result<(), EsError> {
    crate::mapping::Mapping::parse(mappings).map(|_| ())
}

/// A request's mappings as stored: `null` is `{}`, and dotted field names
/// (`"a.b": {...}`) become objects, as Elasticsearch expands them. A
/// mapping nested under a type (`{"_doc": {...}}`) is refused, as
/// Elasticsearch 8 does.
pub fn strip_type(mappings: Value) -> Result<Value, EsError> {
    match mappings {
        Value::Object(map) if map.len() == 1 && map.contains_key("_doc") => Err(EsError::illegal_argument(
            "The mapping definition cannot be nested under a type [_doc] unless include_type_name is set to true.",
        )),
        Value::Null => Ok(json!({})),
        Value::Object(mut map) => {
            if let Some(Value::Object(properties)) = map.get_mut("properties") {
                expand_dots(properties);
            }
            Ok(Value::Object(map))
        }
        other => Ok(other),
    }
}

fn expand_dots(properties: &mut Map<String, Value>) {
    let dotted: Vec<String> =
        properties.keys().filter(|k| k.contains('.') && !k.starts_with('.') && !k.ends_with('.')).cloned().collect();
    for key in dotted {
        let def = properties.remove(&key).expect("listed");
        let (head, rest) = key.split_once('.').expect("dotted");
        let object = properties.entry(head.to_owned()).or_insert_with(|| json!({"properties": {}}));
        if let Some(inner) = object.as_object_mut() {
            let props = inner.entry("properties").or_insert_with(|| json!({}));
            if let Some(props) = props.as_object_mut() {
                props.insert(rest.to_owned(), def);
            }
        }
    }
    for value in properties.values_mut() {
        if let Some(Value::Object(inner)) = value.get_mut("properties") {
            expand_dots(inner);
        }
    }
}

/// Merges `update` into `current` the way a put-mapping does: new fields
/// are added, parameters of existing fields updated, but a field's type
/// never changes.
pub fn merge_mappings(current: &mut Value, update: &Value) -> Result<(), EsError> {
    validate_mappings(update)?;
    let (Value::Object(cur), Value::Object(upd)) = (current, update) else { unreachable!("validated") };
    for (key, value) in upd {
        if key == "properties" {
            let target = cur.entry("properties").or_insert_with(|| Value::Object(Map::new()));
            merge_properties(target, value)?;
        } else {
            cur.insert(key.clone(), value.clone());
        }
    }
    Ok(())
}

fn merge_properties(current: &mut Value, update: &Value) -> Result<(), EsError> {
    let (Value::Object(cur), Value::Object(upd)) = (current, update) else { unreachable!("validated") };
    for (name, field) in upd {
        match cur.get_mut(name) {
            None => {
                cur.insert(name.clone(), field.clone());
            }
            Some(existing) => {
                let old = existing.get("type").and_then(Value::as_str).unwrap_or("object").to_owned();
                let new = field.get("type").and_then(Value::as_str).unwrap_or("object");
                if old != new {
                    return Err(EsError::illegal_argument(format!(
                        "mapper [{name}] cannot be changed from type [{old}] to [{new}]"
                    )));
                }
                if let (Some(inner), Value::Object(_)) = (field.get("properties"), &existing) {
                    let target = existing
                        .as_object_mut()
                        .expect("checked")
                        .entry("properties")
                        .or_insert_with(|| Value::Object(Map::new()));
                    merge_properties(target, inner)?;
                }
                if let (Value::Object(e), Value::Object(f)) = (existing, field) {
                    for (k, v) in f.iter().filter(|(k, _)| *k != "properties") {
                        e.insert(k.clone(), v.clone());
                    }
                }
            }
        }
    }
    Ok(())
}

/// Reads a time value such as `refresh_interval` (`1s`, `500ms`, `2m`, a
/// number of milliseconds); `None` for `-1` (never); an error names the
/// value that is not a time.
pub fn parse_interval(value: &Value) -> Result<Option<std::time::Duration>, String> {
    let text = crate::util::plain(value);
    let text = text.trim();
    if text == "-1" {
        return Ok(None);
    }
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().map_err(|_| text.to_owned())?;
    let millis = match unit {
        "" | "ms" => n,
        "s" => n * 1e3,
        "m" => n * 60e3,
        "h" => n * 3600e3,
        "d" => n * 86_400e3,
        "nanos" => n / 1e6,
        "micros" => n / 1e3,
        _ => return Err(text.to_owned()),
    };
    Ok(Some(std::time::Duration::from_micros((millis * 1000.0) as u64)))
}

impl IndexMeta {
    /// A setting as a number, or its default.
    pub fn setting_u64(&self, key: &str, default: u64) -> u64 {
        self.settings
            .get(key)
            .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
            .unwrap_or(default)
    }

    /// Primary shards.
    pub fn shards(&self) -> u64 {
        self.setting_u64("number_of_shards", 1)
    }

    /// Replicas per primary (never assigned on a single node).
    pub fn replicas(&self) -> u64 {
        self.setting_u64("number_of_replicas", 1)
    }

    /// The settings as Elasticsearch reports them: nested under `index`,
    /// values as strings.
    pub fn settings_json(&self) -> Value {
        let mut index = Map::new();
        let mut put = |path: &str, value: Value| {
            let mut node = &mut index;
            let parts: Vec<&str> = path.split('.').collect();
            for part in &parts[..parts.len() - 1] {
                node = node
                    .entry(*part)
                    .or_insert_with(|| Value::Object(Map::new()))
                    .as_object_mut()
                    .expect("settings nest objects only");
            }
            node.insert(parts[parts.len() - 1].to_owned(), value);
        };
        for (key, value) in &self.settings {
            let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
            put(key, json!(text));
        }
        put("number_of_shards", json!(self.shards().to_string()));
        put("number_of_replicas", json!(self.replicas().to_string()));
        put("uuid", json!(self.uuid));
        put("creation_date", json!(self.creation_date.to_string()));
        put("provided_name", json!(self.name));
        put("version.created", json!(VERSION_ID));
        json!({ "index": index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_in_every_shape_flatten_alike() {
        for body in [
            json!({"index": {"number_of_shards": 2, "number_of_replicas": 0}}),
            json!({"number_of_shards": "2", "number_of_replicas": "0"}),
            json!({"index.number_of_shards": 2, "index.number_of_replicas": 0}),
        ] {
            let flat = parse_settings(Some(&body)).unwrap();
            assert_eq!(flat.len(), 2);
        }
        assert_eq!(
            parse_settings(Some(&json!({"number_of_shards": 0}))).unwrap_err().es_type(),
            "illegal_argument_exception"
        );
        assert!(
            parse_settings(Some(&json!({"index": {"frobnicate": 1}}))).unwrap_err().reason.contains("index.frobnicate")
        );
        assert!(parse_settings(Some(&json!({"analysis": {"analyzer": {"a": {"type": "standard"}}}}))).is_ok());
    }

    #[test]
    fn mappings_grow_but_types_never_change() {
        let mut m = json!({"properties": {"title": {"type": "text"}}});
        merge_mappings(&mut m, &json!({"properties": {"year": {"type": "integer"}}})).unwrap();
        assert_eq!(m["properties"]["year"]["type"], "integer");
        let e = merge_mappings(&mut m, &json!({"properties": {"title": {"type": "keyword"}}})).unwrap_err();
        assert_eq!(e.reason, "mapper [title] cannot be changed from type [text] to [keyword]");
        let e = validate_mappings(&json!({"properties": {"x": {"type": "geo_shape"}}})).unwrap_err();
        assert_eq!(e.es_type(), "mapper_parsing_exception");
        assert_eq!(
            strip_type(json!({"_doc": {"properties": {}}})).unwrap_err().es_type(),
            "illegal_argument_exception"
        );
        assert_eq!(
            strip_type(json!({"properties": {"a.b": {"type": "long"}}})).unwrap(),
            json!({"properties": {"a": {"properties": {"b": {"type": "long"}}}}})
        );
    }

    #[test]
    fn settings_are_reported_nested_and_as_strings() {
        let meta = IndexMeta {
            name: "m".into(),
            uuid: "u".into(),
            creation_date: 1,
            settings: parse_settings(Some(&json!({"number_of_shards": 3, "refresh_interval": "5s"}))).unwrap(),
            mappings: json!({}),
            aliases: BTreeMap::new(),
        };
        let s = meta.settings_json();
        assert_eq!(s["index"]["number_of_shards"], "3");
        assert_eq!(s["index"]["number_of_replicas"], "1");
        assert_eq!(s["index"]["refresh_interval"], "5s");
        assert_eq!(s["index"]["version"]["created"], VERSION_ID);
    }
}
