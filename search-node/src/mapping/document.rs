//! From a JSON source to a tantivy document, as Elasticsearch's document
//! parser does it: values coerced to their mapped type (the string `"5"`
//! into a `long`, the number `300` into a `keyword`), `null_value`,
//! `ignore_above`, `ignore_malformed`, `copy_to`, normalizers; and the
//! dynamic mapping fragment for fields the mapping does not know yet.
//!
//! A document that cannot be indexed gets `document_parsing_exception`
//! (or `strict_dynamic_mapping_exception`) naming the field and its type;
//! nothing of it is indexed.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use tantivy::{DateTime, TantivyDocument};

use crate::error::EsError;
use crate::mapping::analysis::Analyzers;
use crate::mapping::schema::{IndexSchema, PREFIX_SUFFIX};
use crate::mapping::{Dynamic, FieldDef, FieldType, Mapping, Numeric, dynamic_field_for};

/// A typed value ready for a tantivy field.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    /// Text or keyword.
    Str(String),
    /// Whole number.
    I64(i64),
    /// Floating point.
    F64(f64),
    /// Boolean.
    Bool(bool),
    /// Date, milliseconds since the epoch.
    Date(i64),
    /// IP address (IPv4 mapped into IPv6).
    Ip(std::net::Ipv6Addr),
}

/// Reads an IPv4 or IPv6 address.
pub fn parse_ip(text: &str) -> Option<std::net::Ipv6Addr> {
    match text.trim().parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => Some(v4.to_ipv6_mapped()),
        std::net::IpAddr::V6(v6) => Some(v6),
    }
}

/// Prints an address the way it was given: IPv4 for mapped addresses.
pub fn format_ip(ip: std::net::Ipv6Addr) -> String {
    ip.to_ipv4_mapped().map_or_else(|| ip.to_string(), |v4| v4.to_string())
}

fn preview(value: &Value) -> String {
    let text = crate::util::plain(value);
    if text.chars().count() > 30 { text.chars().take(30).collect::<String>() + "..." } else { text }
}

/// The error for a value that does not fit its field.
pub fn field_error(field: &str, ty: &str, id: &str, value: &Value, why: &str) -> EsError {
    EsError::document_parsing(format!(
        "failed to parse field [{field}] of type [{ty}] in document with id '{id}'. Preview of field's value: '{}'{}",
        preview(value),
        if why.is_empty() { String::new() } else { format!(" caused by: {why}") }
    ))
}

/// Converts one JSON value (never an array) to the field's type.
pub fn convert(def: &FieldDef, value: &Value, analyzers: &Analyzers) -> Result<Option<Typed>, String> {
    let value = match value {
        Value::Null => match &def.null_value {
            Some(v) => v,
            None => return Ok(None),
        },
        Value::Object(_) => return Err("tried to parse field as a value, but found an object".into()),
        v => v,
    };
    match &def.ty {
        FieldType::Text { .. } => Ok(Some(Typed::Str(crate::util::plain(value)))),
        FieldType::Keyword { normalizer, ignore_above } => {
            let text = crate::util::plain(value);
            if ignore_above.is_some_and(|limit| text.chars().count() > limit) {
                return Ok(None);
            }
            Ok(Some(Typed::Str(analyzers.normalize(normalizer.as_deref(), &text))))
        }
        FieldType::Number { kind, name } => convert_number(*kind, name, def.coerce, value).map(Some),
        FieldType::Boolean => match value {
            Value::Bool(b) => Ok(Some(Typed::Bool(*b))),
            Value::String(s) if s == "true" => Ok(Some(Typed::Bool(true))),
            Value::String(s) if s == "false" || s.is_empty() => Ok(Some(Typed::Bool(false))),
            other => Err(format!(
                "Failed to parse value [{}] as only [true] or [false] are allowed.",
                crate::util::plain(other)
            )),
        },
        FieldType::Ip => {
            let text = crate::util::plain(value);
            parse_ip(&text)
                .map(|ip| Some(Typed::Ip(ip)))
                .ok_or_else(|| format!("'{text}' is not an IP string literal."))
        }
        FieldType::Date { format, .. } => {
            let text = crate::util::plain(value);
            format
                .parse_value(&text)
                .map(|ms| Some(Typed::Date(ms)))
                .ok_or_else(|| format!("failed to parse date field [{text}] with format [{}]", format.as_str()))
        }
    }
}

fn convert_number(kind: Numeric, name: &str, coerce: bool, value: &Value) -> Result<Typed, String> {
    let number: f64 = match value {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) if coerce => s.trim().parse().map_err(|_| format!("For input string: \"{s}\""))?,
        Value::String(_) => return Err("[coerce] is false, strings are not accepted".into()),
        Value::Bool(b) => {
            return Err(format!("Current token (VALUE_{}) not numeric", if *b { "TRUE" } else { "FALSE" }));
        }
        _ => return Err("not a number".into()),
    };
    if !number.is_finite() {
        return Err(format!("[{name}] supports only finite values, but got [{number}]"));
    }
    match kind {
        Numeric::Integer { min, max } => {
            // Exact for integers that JSON carries as integers.
            let whole = value.as_i64().unwrap_or(number.trunc() as i64);
            if !coerce && number.fract() != 0.0 {
                return Err(format!("Value [{number}] has a decimal part"));
            }
            if number < min as f64 - 1.0 || number > max as f64 + 1.0 || whole < min || whole > max {
                return Err(format!("Value [{}] is out of range for {name}", crate::util::plain(value)));
            }
            Ok(Typed::I64(whole))
        }
        Numeric::Float => Ok(Typed::F64(number)),
        Numeric::Scaled { factor } => Ok(Typed::F64((number * factor).round() / factor)),
    }
}

/// Calls `visit(path, value, false)` for every leaf value of a source
/// (array elements one by one, objects inside arrays flattened), and
/// `visit(path, object, true)` for every object met. One path buffer serves the whole
/// walk: a key is pushed before its value is visited and popped after, so
/// a document costs no allocation per field.
fn walk(
    source: &Map<String, Value>,
    visit: &mut dyn FnMut(&str, &Value, bool) -> Result<(), EsError>,
) -> Result<(), EsError> {
    walk_object(&mut String::new(), source, visit)
}

fn walk_object(
    path: &mut String,
    object: &Map<String, Value>,
    visit: &mut dyn FnMut(&str, &Value, bool) -> Result<(), EsError>,
) -> Result<(), EsError> {
    let base = path.len();
    for (key, value) in object {
        if base > 0 {
            path.push('.');
        }
        path.push_str(key);
        let walked = walk_value(path, value, visit);
        path.truncate(base);
        walked?;
    }
    Ok(())
}

fn walk_value(
    path: &mut String,
    value: &Value,
    visit: &mut dyn FnMut(&str, &Value, bool) -> Result<(), EsError>,
) -> Result<(), EsError> {
    match value {
        Value::Array(items) => items.iter().try_for_each(|item| walk_value(path, item, visit)),
        Value::Object(inner) => {
            visit(path, value, true)?;
            walk_object(path, inner, visit)
        }
        leaf => visit(path, leaf, false),
    }
}

fn parent(path: &str) -> &str {
    path.rfind('.').map_or("", |i| &path[..i])
}

/// The mapping fragment (`{"properties": ...}`) that dynamic mapping adds
/// for this source, or `None` when the mapping knows every field.
pub fn dynamic_update(source: &Map<String, Value>, mapping: &Mapping) -> Result<Option<Value>, EsError> {
    let mut update = Map::new();
    walk(source, &mut |path, value, is_object| {
        let known_leaf = mapping.fields.get(path).is_some_and(|f| !f.is_subfield);
        let known_object = mapping.objects.contains_key(path);
        if known_leaf || known_object || mapping.is_disabled(parent(path)) {
            if known_object && !is_object && !value.is_null() {
                return Err(EsError::document_parsing(format!(
                    "object mapping for [{path}] tried to parse field [{path}] as object, but found a concrete value"
                )));
            }
            return Ok(());
        }
        if mapping.fields.contains_key(path) {
            return Ok(());
        }
        match mapping.dynamic_at(parent(path)) {
            Dynamic::False => Ok(()),
            Dynamic::Strict => Err(EsError::strict_dynamic_mapping(format!(
                "mapping set to strict, dynamic introduction of [{}] within [{}] is not allowed",
                path.rsplit('.').next().unwrap_or(path),
                if parent(path).is_empty() { "_doc" } else { parent(path) }
            ))),
            Dynamic::True => {
                if let Some(def) = dynamic_field_for(value, mapping) {
                    insert_path(&mut update, path, def);
                }
                Ok(())
            }
        }
    })?;
    Ok((!update.is_empty()).then(|| json!({ "properties": update })))
}

/// Puts `def` at a dotted path of nested `properties`.
fn insert_path(properties: &mut Map<String, Value>, path: &str, def: Value) {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    match rest {
        None => {
            properties.entry(head.to_owned()).or_insert(def);
        }
        Some(rest) => {
            let object = properties.entry(head.to_owned()).or_insert_with(|| json!({"type": "object"}));
            let inner = object
                .as_object_mut()
                .expect("objects only")
                .entry("properties")
                .or_insert_with(|| Value::Object(Map::new()));
            insert_path(inner.as_object_mut().expect("objects only"), rest, def);
        }
    }
}

/// What [`build`] makes of a source.
#[derive(Debug)]
pub struct Parsed {
    /// The tantivy document, without the metadata fields.
    pub doc: TantivyDocument,
    /// Fields whose malformed values were skipped (`_ignored`).
    pub ignored: BTreeSet<String>,
}

/// Builds the indexed part of a document. The mapping must already know
/// every field the source has (see [`dynamic_update`]).
pub fn build(
    id: &str,
    source: &Map<String, Value>,
    mapping: &Mapping,
    schema: &IndexSchema,
    analyzers: &Analyzers,
) -> Result<Parsed, EsError> {
    let mut builder = Builder {
        id,
        mapping,
        schema,
        analyzers,
        doc: TantivyDocument::new(),
        names: BTreeSet::new(),
        ignored: BTreeSet::new(),
    };
    let mut copies: Vec<(String, Value)> = Vec::new();
    walk(source, &mut |path, value, is_object| {
        let Some(def) = mapping.fields.get(path) else { return Ok(()) };
        if is_object {
            // An object where the mapping has a value: refused, as
            // Elasticsearch does, unless malformed values are ignored.
            if def.ignore_malformed {
                builder.ignored.insert(def.path.clone());
                return Ok(());
            }
            return Err(field_error(
                path,
                def.ty.name(),
                id,
                value,
                "tried to parse field as a value, but found an object",
            ));
        }
        builder.add_value(def, value)?;
        copies.extend(def.copy_to.iter().map(|t| (t.clone(), value.clone())));
        Ok(())
    })?;
    for (target, value) in copies {
        let def = mapping.fields.get(&target).ok_or_else(|| {
            EsError::document_parsing(format!("copy_to target [{target}] is not mapped; map it before copying to it"))
        })?;
        builder.add_value(def, &value)?;
    }
    let Builder { mut doc, names, ignored, .. } = builder;
    for name in names {
        doc.add_text(schema.meta.field_names, name);
    }
    Ok(Parsed { doc, ignored })
}

/// One document being built: what it is built under, and what it has so far.
struct Builder<'a> {
    id: &'a str,
    mapping: &'a Mapping,
    schema: &'a IndexSchema,
    analyzers: &'a Analyzers,
    doc: TantivyDocument,
    /// Paths with a value and their parents (`_field_names`).
    names: BTreeSet<String>,
    /// Fields whose malformed values were skipped.
    ignored: BTreeSet<String>,
}

impl Builder<'_> {
    /// Adds a value of a mapped field, and of its multi-fields.
    fn add_value(&mut self, def: &FieldDef, value: &Value) -> Result<(), EsError> {
        let typed = match convert(def, value, self.analyzers) {
            Ok(Some(t)) => t,
            Ok(None) => return Ok(()),
            Err(_) if def.ignore_malformed => {
                self.ignored.insert(def.path.clone());
                return Ok(());
            }
            Err(why) => return Err(field_error(&def.path, def.ty.name(), self.id, value, &why)),
        };
        let field = self.schema.fields[&def.path];
        let doc = &mut self.doc;
        match &typed {
            Typed::Str(s) => {
                doc.add_text(field, s);
                if matches!(def.ty, FieldType::Text { index_prefixes: true, .. })
                    && let Some(prefix) = self.schema.fields.get(&format!("{}{PREFIX_SUFFIX}", def.path))
                {
                    doc.add_text(*prefix, s);
                }
            }
            Typed::I64(n) => doc.add_i64(field, *n),
            Typed::F64(n) => doc.add_f64(field, *n),
            Typed::Bool(b) => doc.add_bool(field, *b),
            Typed::Date(ms) => doc.add_date(field, DateTime::from_timestamp_millis(*ms)),
            Typed::Ip(ip) => doc.add_ip_addr(field, *ip),
        }
        // A path's parents went in with it, so the first one already
        // there ends the climb.
        let mut path = def.path.as_str();
        while !self.names.contains(path) {
            self.names.insert(path.to_owned());
            match path.rfind('.') {
                Some(i) => path = &path[..i],
                None => break,
            }
        }
        let mapping = self.mapping;
        for sub in &def.subfields {
            self.add_value(&mapping.fields[sub], value)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use tantivy::schema::document::Value as _;

    fn setup(mapping: Value) -> (Mapping, IndexSchema, Analyzers) {
        let m = Mapping::parse(&mapping).unwrap();
        let s = IndexSchema::build(&m);
        (m, s, Analyzers::from_settings(&BTreeMap::new()).unwrap())
    }

    #[test]
    fn values_are_coerced_to_their_mapped_type() {
        let (m, s, a) = setup(json!({"properties": {
            "title": {"type": "keyword", "normalizer": "lowercase"},
            "year": {"type": "integer"},
            "rating": {"type": "scaled_float", "scaling_factor": 10},
            "adult": {"type": "boolean"}
        }}));
        let source = json!({"title": 300, "year": "2006", "rating": 7.66, "adult": "false"});
        let parsed = build("1", source.as_object().unwrap(), &m, &s, &a).unwrap();
        let doc = parsed.doc;
        assert_eq!(doc.get_first(s.fields["title"]).unwrap().as_str(), Some("300"));
        assert_eq!(doc.get_first(s.fields["year"]).unwrap().as_i64(), Some(2006));
        assert_eq!(doc.get_first(s.fields["rating"]).unwrap().as_f64(), Some(7.7));
        assert_eq!(doc.get_first(s.fields["adult"]).unwrap().as_bool(), Some(false));
        let names: Vec<_> = doc.get_all(s.meta.field_names).filter_map(|v| v.as_str().map(str::to_owned)).collect();
        assert_eq!(names, ["adult", "rating", "title", "year"]);
    }

    #[test]
    fn bad_values_name_field_and_type_unless_ignored() {
        let (m, s, a) = setup(json!({"properties": {
            "year": {"type": "integer"},
            "votes": {"type": "long", "ignore_malformed": true}
        }}));
        let e = build("7", json!({"year": "abc"}).as_object().unwrap(), &m, &s, &a).unwrap_err();
        assert_eq!(e.es_type(), "document_parsing_exception");
        assert!(
            e.reason.starts_with("failed to parse field [year] of type [integer] in document with id '7'"),
            "{}",
            e.reason
        );
        let e = build("7", json!({"year": 1e12}).as_object().unwrap(), &m, &s, &a).unwrap_err();
        assert!(e.reason.contains("out of range"), "{}", e.reason);
        let e = build("7", json!({"year": {"many": true}}).as_object().unwrap(), &m, &s, &a).unwrap_err();
        assert!(e.reason.contains("found an object"), "{}", e.reason);
        let ok = build("7", json!({"votes": "many"}).as_object().unwrap(), &m, &s, &a).unwrap();
        assert!(ok.ignored.contains("votes"));
    }

    #[test]
    fn dynamic_updates_follow_the_dynamic_setting() {
        let (m, ..) =
            setup(json!({"properties": {"known": {"type": "long"}, "meta": {"dynamic": "strict", "properties": {}}}}));
        let update = dynamic_update(json!({"known": 1, "a": {"b": "x", "c": [1, 2]}}).as_object().unwrap(), &m)
            .unwrap()
            .unwrap();
        assert_eq!(update["properties"]["a"]["properties"]["b"]["type"], "text");
        assert_eq!(update["properties"]["a"]["properties"]["c"]["type"], "long");
        assert!(dynamic_update(json!({"known": 2}).as_object().unwrap(), &m).unwrap().is_none());
        let e = dynamic_update(json!({"meta": {"x": 1}}).as_object().unwrap(), &m).unwrap_err();
        assert_eq!(e.es_type(), "strict_dynamic_mapping_exception");
        let e = dynamic_update(json!({"meta": 5}).as_object().unwrap(), &m).unwrap_err();
        assert!(e.reason.contains("found a concrete value"), "{}", e.reason);
    }

    #[test]
    fn subfields_and_copy_to_get_the_value_too() {
        let (m, s, a) = setup(json!({"properties": {
            "title": {"type": "text", "copy_to": "all", "fields": {"raw": {"type": "keyword"}}},
            "all": {"type": "text"}
        }}));
        let doc = build("1", json!({"title": "Heat"}).as_object().unwrap(), &m, &s, &a).unwrap().doc;
        assert_eq!(doc.get_first(s.fields["title.raw"]).unwrap().as_str(), Some("Heat"));
        assert_eq!(doc.get_first(s.fields["all"]).unwrap().as_str(), Some("Heat"));
    }
}
