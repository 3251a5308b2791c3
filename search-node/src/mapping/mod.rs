//! The mapping layer: from an index's settings and `mappings` JSON to its
//! analyzers and tantivy schema ([`context::IndexContext`]), and from JSON
//! sources to tantivy documents ([`document`]). It uses only `error` and
//! `util`; everything above builds on an `IndexContext`.
//!
//! This module itself: mappings, the typed view of an index's `mappings` JSON, and dynamic
//! mapping of fields a document brings that the mapping does not know.
//!
//! The JSON kept in the index metadata stays the source of truth (it is what
//! `GET /_mapping` returns); [`Mapping::parse`] turns it into leaf fields
//! keyed by their full dotted path, multi-fields included
//! (`title.keyword`). Parsing refuses unknown types and unknown parameters
//! by name, as Elasticsearch does, so a mapping is never half-understood.

pub mod analysis;
pub mod context;
pub mod date;
pub mod document;
pub mod meta;
pub mod schema;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::error::EsError;
use crate::mapping::date::DateFormat;

/// What to do with a field the mapping does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dynamic {
    /// Add it to the mapping (Elasticsearch's default).
    True,
    /// Keep it in `_source` only: not searchable.
    False,
    /// Refuse the document.
    Strict,
}

impl Dynamic {
    fn parse(value: &Value) -> Result<Dynamic, EsError> {
        match value {
            Value::Bool(true) => Ok(Dynamic::True),
            Value::Bool(false) => Ok(Dynamic::False),
            Value::String(s) if s == "true" || s == "runtime" => Ok(Dynamic::True),
            Value::String(s) if s == "false" => Ok(Dynamic::False),
            Value::String(s) if s == "strict" || s == "strict_allow_templates" => Ok(Dynamic::Strict),
            other => Err(EsError::mapper_parsing(format!(
                "Could not convert [dynamic] to boolean or [strict]: [{}]",
                crate::util::plain(other)
            ))),
        }
    }
}

/// Numeric field types, as Elasticsearch names them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Numeric {
    /// `long`, `integer`, `short`, `byte`: whole numbers within the bounds.
    Integer { min: i64, max: i64 },
    /// `double`, `float`, `half_float`.
    Float,
    /// `scaled_float`: kept as the value rounded to `1/factor`.
    Scaled { factor: f64 },
}

/// The type of a leaf field and its type-specific parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldType {
    /// Analysed full text.
    Text { analyzer: String, search_analyzer: String, index_prefixes: bool },
    /// Exact values; `normalizer` applies to indexed and searched values.
    Keyword { normalizer: Option<String>, ignore_above: Option<usize> },
    /// Numbers (`long` ... `scaled_float`).
    Number { name: &'static str, kind: Numeric },
    /// `boolean`.
    Boolean,
    /// `date` (or `date_nanos`, kept to the millisecond), milliseconds
    /// since the epoch.
    Date { format: DateFormat, nanos: bool },
    /// `ip`: IPv4 and IPv6 addresses.
    Ip,
}

impl FieldType {
    /// The name Elasticsearch reports (`text`, `long`, ...).
    pub fn name(&self) -> &str {
        match self {
            FieldType::Text { .. } => "text",
            FieldType::Keyword { .. } => "keyword",
            FieldType::Number { name, .. } => name,
            FieldType::Boolean => "boolean",
            FieldType::Date { nanos: false, .. } => "date",
            FieldType::Date { nanos: true, .. } => "date_nanos",
            FieldType::Ip => "ip",
        }
    }

    /// Whether values are exact (aggregatable, sortable) rather than text.
    pub fn is_exact(&self) -> bool {
        !matches!(self, FieldType::Text { .. })
    }
}

/// A leaf field of the mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDef {
    /// Full dotted path (`title.keyword`).
    pub path: String,
    /// Its type.
    pub ty: FieldType,
    /// Searchable (`index`, default true).
    pub index: bool,
    /// Columnar values for sorting and aggregations (`doc_values`).
    pub doc_values: bool,
    /// Value indexed in place of an explicit `null`.
    pub null_value: Option<Value>,
    /// Malformed values are skipped instead of failing the document.
    pub ignore_malformed: bool,
    /// Strings are accepted for numbers and booleans (`coerce`, default true).
    pub coerce: bool,
    /// Multi-fields of this field (full paths).
    pub subfields: Vec<String>,
    /// Whether this is a multi-field of another field.
    pub is_subfield: bool,
    /// Fields this field's values are also copied to.
    pub copy_to: Vec<String>,
}

/// A parsed mapping: every leaf field by path, and the object settings.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    /// Leaf fields by full path, multi-fields included.
    pub fields: BTreeMap<String, FieldDef>,
    /// Object paths with their own `dynamic` or `enabled: false`.
    pub objects: BTreeMap<String, ObjectDef>,
    /// The root's `dynamic` setting.
    pub dynamic: Option<Dynamic>,
    /// Whether strings that look like dates are mapped as dates.
    pub date_detection: bool,
    /// Whether strings that look like numbers are mapped as numbers.
    pub numeric_detection: bool,
}

/// An `object` field's own settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectDef {
    /// Its `dynamic` setting, inherited by children when absent.
    pub dynamic: Option<Dynamic>,
    /// `enabled: false`: the object is kept in `_source` only.
    pub enabled: bool,
}

const ROOT_PARAMS: [&str; 10] = [
    "properties",
    "dynamic",
    "_source",
    "_meta",
    "date_detection",
    "numeric_detection",
    "dynamic_templates",
    "_routing",
    "dynamic_date_formats",
    "enabled",
];

const COMMON_PARAMS: [&str; 8] = ["type", "index", "doc_values", "store", "null_value", "copy_to", "meta", "fields"];

fn allowed_params(ty: &str) -> &'static [&'static str] {
    match ty {
        "text" => &[
            "analyzer",
            "search_analyzer",
            "search_quote_analyzer",
            "index_options",
            "norms",
            "fielddata",
            "position_increment_gap",
            "similarity",
            "term_vector",
            "index_prefixes",
            "index_phrases",
            "boost",
            "eager_global_ordinals",
        ],
        "search_as_you_type" => &[
            "analyzer",
            "search_analyzer",
            "search_quote_analyzer",
            "max_shingle_size",
            "index_options",
            "norms",
            "similarity",
            "term_vector",
        ],
        "keyword" => &[
            "normalizer",
            "ignore_above",
            "eager_global_ordinals",
            "index_options",
            "norms",
            "similarity",
            "split_queries_on_whitespace",
            "boost",
        ],
        "boolean" => &["boost"],
        "date" | "date_nanos" => &["format", "locale", "ignore_malformed", "boost"],
        "ip" => &["ignore_malformed", "boost"],
        "scaled_float" => &["scaling_factor", "coerce", "ignore_malformed", "boost"],
        _ => &["coerce", "ignore_malformed", "boost"],
    }
}

fn number_kind(ty: &str) -> Option<(&'static str, Numeric)> {
    let int = |name, min, max| Some((name, Numeric::Integer { min, max }));
    match ty {
        "long" => int("long", i64::MIN, i64::MAX),
        "integer" => int("integer", i32::MIN.into(), i32::MAX.into()),
        "short" => int("short", i16::MIN.into(), i16::MAX.into()),
        "byte" => int("byte", i8::MIN.into(), i8::MAX.into()),
        "double" => Some(("double", Numeric::Float)),
        "float" => Some(("float", Numeric::Float)),
        "half_float" => Some(("half_float", Numeric::Float)),
        _ => None,
    }
}

fn bool_param(def: &Map<String, Value>, key: &str, default: bool, field: &str) -> Result<bool, EsError> {
    match def.get(key) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
        Some(other) => Err(EsError::mapper_parsing(format!(
            "Failed to parse mapping: Cannot parse value [{}] as only [true] or [false] are allowed for [{key}] of field [{field}]",
            crate::util::plain(other)
        ))),
    }
}

impl Mapping {
    /// Parses and checks a `mappings` object.
    pub fn parse(mappings: &Value) -> Result<Mapping, EsError> {
        let Value::Object(root) = mappings else {
            return Err(EsError::mapper_parsing("Root mapping definition must be an object"));
        };
        if let Some(unknown) = root.keys().find(|k| !ROOT_PARAMS.contains(&k.as_str())) {
            return Err(EsError::mapper_parsing(format!(
                "Root mapping definition has unsupported parameters:  [{unknown} : {}]",
                crate::util::plain(&root[unknown])
            )));
        }
        let mut mapping = Mapping {
            dynamic: root.get("dynamic").map(Dynamic::parse).transpose()?,
            date_detection: bool_param(root, "date_detection", true, "_doc")?,
            numeric_detection: bool_param(root, "numeric_detection", false, "_doc")?,
            ..Mapping::default()
        };
        if let Some(properties) = root.get("properties") {
            mapping.add_properties("", properties)?;
        }
        Ok(mapping)
    }

    fn add_properties(&mut self, prefix: &str, properties: &Value) -> Result<(), EsError> {
        let Value::Object(fields) = properties else {
            return Err(EsError::mapper_parsing(format!("[properties] of [{prefix}] must be an object")));
        };
        for (name, def) in fields {
            if name.is_empty() || name.trim().is_empty() {
                return Err(EsError::illegal_argument("field name cannot be an empty string"));
            }
            let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
            self.add_field(&path, def, false)?;
        }
        Ok(())
    }

    /// An `object` (or refused `nested`) field: its settings, then its
    /// properties.
    fn add_object(&mut self, path: &str, def: &Map<String, Value>, nested: bool) -> Result<(), EsError> {
        if nested {
            return Err(EsError::mapper_parsing(format!(
                "field [{path}]: type [nested] is not supported by imdb-search-node"
            )));
        }
        let object = ObjectDef {
            dynamic: def.get("dynamic").map(Dynamic::parse).transpose()?,
            enabled: bool_param(def, "enabled", true, path)?,
        };
        if let Some(unknown) = def.keys().find(|k| !matches!(k.as_str(), "type" | "properties" | "dynamic" | "enabled"))
        {
            return Err(EsError::mapper_parsing(format!(
                "Mapping definition for [{path}] has unsupported parameters:  [{unknown} : {}]",
                crate::util::plain(&def[unknown])
            )));
        }
        self.objects.insert(path.to_owned(), object);
        if let Some(properties) = def.get("properties") {
            self.add_properties(path, properties)?;
        }
        Ok(())
    }

    fn add_field(&mut self, path: &str, def: &Value, is_subfield: bool) -> Result<(), EsError> {
        let Value::Object(def) = def else {
            return Err(EsError::mapper_parsing(format!("Expected map for property [fields] on field [{path}]")));
        };
        let ty = match def.get("type") {
            None => "object",
            Some(Value::String(t)) => t.as_str(),
            Some(other) => {
                return Err(EsError::mapper_parsing(format!(
                    "No type specified for field [{path}]: [{}]",
                    crate::util::plain(other)
                )));
            }
        };
        if ty == "object" || ty == "nested" {
            return self.add_object(path, def, ty == "nested");
        }
        let allowed = allowed_params(ty);
        if let Some(unknown) =
            def.keys().find(|k| !COMMON_PARAMS.contains(&k.as_str()) && !allowed.contains(&k.as_str()))
        {
            return Err(EsError::mapper_parsing(format!(
                "unknown parameter [{unknown}] on mapper [{}] of type [{ty}]",
                path.rsplit('.').next().unwrap_or(path)
            )));
        }
        let field_type = field_type(ty, def, path)?;
        let mut field = FieldDef {
            path: path.to_owned(),
            index: bool_param(def, "index", true, path)?,
            doc_values: bool_param(def, "doc_values", field_type.is_exact(), path)?,
            null_value: def.get("null_value").filter(|v| !v.is_null()).cloned(),
            ignore_malformed: bool_param(def, "ignore_malformed", false, path)?,
            coerce: bool_param(def, "coerce", true, path)?,
            subfields: Vec::new(),
            is_subfield,
            copy_to: copy_to(def, path)?,
            ty: field_type,
        };
        if let Some(fields) = def.get("fields") {
            let Value::Object(multi) = fields else {
                return Err(EsError::mapper_parsing(format!("[fields] of [{path}] must be an object")));
            };
            for (name, sub) in multi {
                let sub_path = format!("{path}.{name}");
                self.add_field(&sub_path, sub, true)?;
                field.subfields.push(sub_path);
            }
        }
        self.fields.insert(path.to_owned(), field);
        Ok(())
    }

    /// The `dynamic` setting in force at an object path (`""` is the root).
    pub fn dynamic_at(&self, object_path: &str) -> Dynamic {
        let mut path = object_path;
        loop {
            if let Some(d) = self.objects.get(path).and_then(|o| o.dynamic) {
                return d;
            }
            match path.rfind('.') {
                Some(i) => path = &path[..i],
                None if !path.is_empty() => path = "",
                None => return self.dynamic.unwrap_or(Dynamic::True),
            }
        }
    }

    /// Whether an object path is disabled (`enabled: false`) or inside one.
    pub fn is_disabled(&self, object_path: &str) -> bool {
        self.objects.iter().any(|(p, o)| {
            !o.enabled
                && (object_path == p || object_path.starts_with(p.as_str()) && object_path[p.len()..].starts_with('.'))
        })
    }

    /// Paths the mapping knows as objects or leaves, for `exists` over an
    /// object: the leaves under `path`.
    pub fn leaves_under<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a FieldDef> + 'a {
        self.fields.values().filter(move |f| {
            !f.is_subfield && (f.path == path || f.path.starts_with(path) && f.path[path.len()..].starts_with('.'))
        })
    }
}

/// The mapping Elasticsearch adds for a new field seen in a document, as a
/// `properties` fragment, or `None` when the value maps to nothing (null,
/// empty array).
pub fn dynamic_field_for(value: &Value, mapping: &Mapping) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Bool(_) => Some(json!({"type": "boolean"})),
        Value::Number(n) if n.is_f64() => Some(json!({"type": "float"})),
        Value::Number(_) => Some(json!({"type": "long"})),
        Value::String(s) => {
            if mapping.numeric_detection {
                if s.parse::<i64>().is_ok() {
                    return Some(json!({"type": "long"}));
                }
                if s.parse::<f64>().is_ok_and(f64::is_finite) {
                    return Some(json!({"type": "float"}));
                }
            }
            if mapping.date_detection && crate::mapping::date::looks_like_date(s) {
                return Some(json!({"type": "date"}));
            }
            Some(json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}))
        }
        Value::Array(items) => items.iter().find_map(|v| dynamic_field_for(v, mapping)),
        Value::Object(_) => Some(json!({"type": "object"})),
    }
}

/// The type of a leaf field from its definition (`ty` is its `type`).
fn field_type(ty: &str, def: &Map<String, Value>, path: &str) -> Result<FieldType, EsError> {
    let string = |key: &str| def.get(key).and_then(Value::as_str).map(str::to_owned);
    Ok(match ty {
        "text" | "search_as_you_type" | "match_only_text" => {
            let analyzer = string("analyzer").unwrap_or_else(|| "standard".to_owned());
            FieldType::Text {
                search_analyzer: string("search_analyzer").unwrap_or_else(|| analyzer.clone()),
                analyzer,
                index_prefixes: ty == "search_as_you_type" || def.contains_key("index_prefixes"),
            }
        }
        "keyword" => FieldType::Keyword {
            normalizer: string("normalizer"),
            ignore_above: def.get("ignore_above").and_then(Value::as_u64).map(|n| n as usize),
        },
        "boolean" => FieldType::Boolean,
        "date" | "date_nanos" => FieldType::Date {
            format: DateFormat::parse(def.get("format").and_then(Value::as_str))?,
            nanos: ty == "date_nanos",
        },
        "ip" => FieldType::Ip,
        "scaled_float" => {
            let factor = def.get("scaling_factor").and_then(Value::as_f64).ok_or_else(|| {
                EsError::mapper_parsing(format!("Field [scaling_factor] is required for field [{path}]"))
            })?;
            FieldType::Number { name: "scaled_float", kind: Numeric::Scaled { factor } }
        }
        other => match number_kind(other) {
            Some((name, kind)) => FieldType::Number { name, kind },
            None => {
                return Err(EsError::mapper_parsing(format!(
                    "No handler for type [{other}] declared on field [{}]",
                    path.rsplit('.').next().unwrap_or(path)
                )));
            }
        },
    })
}

/// The `copy_to` targets of a field: one name or a list.
fn copy_to(def: &Map<String, Value>, path: &str) -> Result<Vec<String>, EsError> {
    match def.get("copy_to") {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(a)) => Ok(a.iter().filter_map(Value::as_str).map(str::to_owned).collect()),
        Some(_) => Err(EsError::mapper_parsing(format!("[copy_to] of [{path}] must be a string or list"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_and_multi_fields_are_keyed_by_full_path() {
        let m = Mapping::parse(&json!({"properties": {
            "title": {"type": "text", "analyzer": "english", "fields": {"keyword": {"type": "keyword"}}},
            "rating": {"properties": {"average": {"type": "scaled_float", "scaling_factor": 10}}},
            "year": {"type": "short"}
        }}))
        .unwrap();
        assert_eq!(m.fields.len(), 4);
        assert!(matches!(&m.fields["title"].ty, FieldType::Text { analyzer, .. } if analyzer == "english"));
        assert_eq!(m.fields["title"].subfields, ["title.keyword"]);
        assert!(m.fields["title.keyword"].is_subfield);
        assert!(m.fields["title.keyword"].doc_values);
        assert!(!m.fields["title"].doc_values);
        assert_eq!(m.fields["rating.average"].ty.name(), "scaled_float");
        assert!(m.objects.contains_key("rating"));
    }

    #[test]
    fn unknown_types_and_parameters_are_refused_by_name() {
        let e = Mapping::parse(&json!({"properties": {"x": {"type": "geo_shape"}}})).unwrap_err();
        assert_eq!(e.reason, "No handler for type [geo_shape] declared on field [x]");
        let e = Mapping::parse(&json!({"properties": {"x": {"type": "long", "analyzer": "english"}}})).unwrap_err();
        assert_eq!(e.reason, "unknown parameter [analyzer] on mapper [x] of type [long]");
        let e = Mapping::parse(&json!({"frob": 1})).unwrap_err();
        assert!(e.reason.contains("[frob : 1]"), "{}", e.reason);
    }

    #[test]
    fn dynamic_is_inherited_from_the_nearest_object() {
        let m = Mapping::parse(&json!({"dynamic": "strict", "properties": {
            "a": {"properties": {"b": {"type": "object", "dynamic": true}}}
        }}))
        .unwrap();
        assert_eq!(m.dynamic_at(""), Dynamic::Strict);
        assert_eq!(m.dynamic_at("a"), Dynamic::Strict);
        assert_eq!(m.dynamic_at("a.b"), Dynamic::True);
        assert_eq!(m.dynamic_at("a.b.c"), Dynamic::True);
    }

    #[test]
    fn dynamic_mapping_follows_elasticsearch() {
        let m = Mapping::parse(&json!({})).unwrap();
        assert_eq!(dynamic_field_for(&json!(3), &m).unwrap()["type"], "long");
        assert_eq!(dynamic_field_for(&json!(3.5), &m).unwrap()["type"], "float");
        assert_eq!(dynamic_field_for(&json!("2020-01-01"), &m).unwrap()["type"], "date");
        assert_eq!(dynamic_field_for(&json!("hello"), &m).unwrap()["fields"]["keyword"]["ignore_above"], 256);
        assert_eq!(dynamic_field_for(&json!([null, true]), &m).unwrap()["type"], "boolean");
        assert!(dynamic_field_for(&json!([]), &m).is_none());
    }
}
