//! Aggregations: Elasticsearch's request format, run by tantivy's
//! aggregation module (which speaks that format), across shards and
//! indexes through its intermediate results.
//!
//! What is added here: `filter` (any query of the DSL), `filters` and
//! `missing` (rewritten into filters and reassembled), refusal of
//! aggregations on text fields with Elasticsearch's message,
//! `key_as_string` for dates and booleans, and `typed_keys`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tantivy::aggregation::agg_req::{Aggregation, AggregationVariants, Aggregations};
use tantivy::aggregation::bucket::{FilterAggregation, QueryBuilder};
use tantivy::query::Query as TantivyQuery;
use tantivy::schema::Schema;
use tantivy::tokenizer::TokenizerManager;

use crate::error::EsError;
use crate::mapping::{FieldType, Mapping};
use crate::query::{Compiled, Cx, Query};

/// Separates a `filters` aggregation's name from its bucket key in the
/// names of the filter aggregations it is rewritten into.
const FILTERS_SEP: char = '\u{1}';

const KINDS: [&str; 18] = [
    "terms",
    "range",
    "histogram",
    "date_histogram",
    "min",
    "max",
    "avg",
    "sum",
    "stats",
    "extended_stats",
    "value_count",
    "cardinality",
    "percentiles",
    "top_hits",
    "filter",
    "filters",
    "missing",
    "composite",
];

/// A compiled query handed to tantivy's filter aggregation.
#[derive(Debug, Serialize, Deserialize)]
struct Prebuilt {
    #[serde(skip)]
    query: Option<Compiled>,
}

#[typetag::serde]
impl QueryBuilder for Prebuilt {
    fn build_query(&self, _: &Schema, _: &TokenizerManager) -> tantivy::Result<Box<dyn TantivyQuery>> {
        self.query
            .as_ref()
            .map(|q| q.box_clone())
            .ok_or_else(|| tantivy::TantivyError::InvalidArgument("filter query missing".into()))
    }

    fn box_clone(&self) -> Box<dyn QueryBuilder> {
        Box::new(Prebuilt { query: self.query.as_ref().map(|q| q.box_clone()) })
    }
}

/// The type and body of an aggregation definition, and its sub-aggregations.
/// An aggregation's type, its body, and its sub-aggregations.
type Parts = (String, Value, Option<Map<String, Value>>);

fn split(name: &str, def: &Value) -> Result<Parts, EsError> {
    let Value::Object(map) = def else {
        return Err(EsError::parsing(format!("Expected [START_OBJECT] under [{name}], but got a different token")));
    };
    let mut kind = None;
    let mut subs = None;
    for (key, value) in map {
        match key.as_str() {
            "aggs" | "aggregations" => {
                subs = Some(value.as_object().cloned().ok_or_else(|| EsError::parsing("[aggs] must be an object"))?);
            }
            "meta" => {}
            k if KINDS.contains(&k) => {
                if kind.is_some() {
                    return Err(EsError::parsing(format!("Found two aggregation type definitions in [{name}]")));
                }
                kind = Some((k.to_owned(), value.clone()));
            }
            other => return Err(EsError::parsing(format!("Unknown aggregation type [{other}] did you mean [terms]?"))),
        }
    }
    let (kind, body) = kind.ok_or_else(|| EsError::parsing(format!("Missing definition for aggregation [{name}]")))?;
    Ok((kind, body, subs))
}

fn check_field(body: &Value, mapping: &Mapping) -> Result<(), EsError> {
    let Some(field) = body.get("field").and_then(Value::as_str) else { return Ok(()) };
    if let Some(def) = mapping.fields.get(field)
        && !def.doc_values
    {
        return Err(EsError::illegal_argument(format!(
            "{} Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [{field}] in order to load field data by uninverting the inverted index. Note that this can use significant memory.",
            if matches!(def.ty, FieldType::Text { .. }) {
                "Fielddata is disabled on [".to_owned() + field + "] in [index]."
            } else {
                String::new()
            }
        )));
    }
    Ok(())
}

fn filter_agg(query: &Value, cx: Cx) -> Result<AggregationVariants, EsError> {
    let compiled = Query::parse(query)?.compile(cx)?;
    Ok(AggregationVariants::Filter(FilterAggregation::new_with_builder(Box::new(Prebuilt { query: Some(compiled) }))))
}

/// Translates a request's `aggs` for one index.
pub fn translate(aggs: &Map<String, Value>, cx: Cx) -> Result<Aggregations, EsError> {
    let mut out = Aggregations::default();
    for (name, def) in aggs {
        let (kind, body, subs) = split(name, def)?;
        let sub_aggregation = match &subs {
            Some(s) => translate(s, cx)?,
            None => Aggregations::default(),
        };
        check_field(&body, &cx.index.mapping)?;
        match kind.as_str() {
            "filter" => {
                out.insert(name.clone(), Aggregation { agg: filter_agg(&body, cx)?, sub_aggregation });
            }
            "missing" => {
                let field = body.get("field").cloned().unwrap_or(Value::Null);
                let query = json!({"bool": {"must_not": {"exists": {"field": field}}}});
                out.insert(name.clone(), Aggregation { agg: filter_agg(&query, cx)?, sub_aggregation });
            }
            "filters" => {
                let filters = body.get("filters").ok_or_else(|| EsError::parsing("[filters] requires [filters]"))?;
                let named: Vec<(String, Value)> = match filters {
                    Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    Value::Array(a) => a.iter().enumerate().map(|(i, v)| (i.to_string(), v.clone())).collect(),
                    _ => return Err(EsError::parsing("[filters] must be an object or an array")),
                };
                let mut all_keys = Vec::new();
                for (key, query) in &named {
                    all_keys.push(query.clone());
                    out.insert(
                        format!("{name}{FILTERS_SEP}{key}"),
                        Aggregation { agg: filter_agg(query, cx)?, sub_aggregation: sub_aggregation.clone() },
                    );
                }
                if body.get("other_bucket").and_then(Value::as_bool).unwrap_or(false)
                    || body.get("other_bucket_key").is_some()
                {
                    let key = body.get("other_bucket_key").and_then(Value::as_str).unwrap_or("_other_");
                    let query = json!({"bool": {"must_not": all_keys}});
                    out.insert(
                        format!("{name}{FILTERS_SEP}{key}"),
                        Aggregation { agg: filter_agg(&query, cx)?, sub_aggregation },
                    );
                }
            }
            _ => {
                let body = adapt(&kind, body, &cx.index.mapping)?;
                let agg: AggregationVariants = serde_json::from_value(json!({ kind.as_str(): body })).map_err(|e| {
                    EsError::parsing(format!("[{name}] failed to parse [{kind}] aggregation: {e}")).caused_by(e)
                })?;
                out.insert(name.clone(), Aggregation { agg, sub_aggregation });
            }
        }
    }
    Ok(out)
}

/// Parameter differences between Elasticsearch and tantivy's reader.
fn adapt(kind: &str, mut body: Value, mapping: &Mapping) -> Result<Value, EsError> {
    let Some(map) = body.as_object_mut() else { return Ok(body) };
    if kind == "date_histogram" {
        if let Some(interval) = map.remove("calendar_interval").or_else(|| map.remove("interval")) {
            let text = crate::util::plain(&interval);
            let fixed = match text.as_str() {
                "minute" | "1m" => "1m".to_owned(),
                "hour" | "1h" => "1h".to_owned(),
                "day" | "1d" => "1d".to_owned(),
                // The legacy `interval` also took fixed lengths such as `30m` or `2d`.
                t if t.len() > 1 && t.ends_with(['s', 'm', 'h', 'd']) && t[..t.len() - 1].parse::<u32>().is_ok() => {
                    t.to_owned()
                }
                other => {
                    return Err(EsError::illegal_argument(format!(
                        "imdb-search-node supports fixed date_histogram intervals and calendar intervals up to a day, not [{other}]"
                    )));
                }
            };
            map.insert("fixed_interval".into(), json!(fixed));
        }
        map.remove("time_zone").filter(|tz| !matches!(tz.as_str(), Some("UTC" | "Z" | "+00:00"))).map_or(
            Ok(()),
            |tz| {
                Err(EsError::illegal_argument(format!(
                    "imdb-search-node supports only UTC for [time_zone], got [{tz}]"
                )))
            },
        )?;
        // tantivy formats keys itself; the field's format is applied after.
        map.remove("format");
    }
    if matches!(kind, "terms" | "histogram" | "date_histogram")
        && let Some(order) = map.get_mut("order").and_then(Value::as_object_mut)
    {
        // `_term` and `_time` are the old names of `_key`.
        for old in ["_term", "_time"] {
            if let Some(v) = order.remove(old) {
                order.insert("_key".into(), v);
            }
        }
    }
    // Every kind but the filter-based ones reads a field.
    let needs_field = !matches!(kind, "filter" | "filters" | "missing" | "top_hits" | "composite");
    if needs_field && !map.contains_key("field") {
        return Err(EsError::illegal_argument("Required one of fields [field, script], but none were specified."));
    }
    if kind == "terms" {
        map.remove("execution_hint");
        map.remove("collect_mode");
        if let Some(field) = map.get("field").and_then(Value::as_str)
            && let Some(def) = mapping.fields.get(field)
            && matches!(def.ty, FieldType::Boolean)
            && let Some(missing) = map.get("missing").and_then(Value::as_bool)
        {
            map.insert("missing".into(), json!(u8::from(missing)));
        }
    }
    if kind == "top_hits" {
        if let Some(sort) = map.remove("sort") {
            map.insert("sort".into(), top_hits_sort(sort));
        }
        // Elasticsearch's default; tantivy has none.
        map.entry("size").or_insert(json!(3));
    }
    if matches!(
        kind,
        "min" | "max" | "avg" | "sum" | "stats" | "value_count" | "cardinality" | "extended_stats" | "percentiles"
    ) {
        map.remove("format");
    }
    Ok(body)
}

/// Refuses, for tantivy's aggregation module, `range` aggregations (at any
/// depth) whose ranges overlap: tantivy fails on them with an internal
/// error, where Elasticsearch counts a document in each. The counting
/// (`search/counts.rs`) takes them when every range has a key and nothing
/// is nested; otherwise this is a 400 that says so, not a 500.
pub fn refuse_overlapping_ranges(aggs: &Map<String, Value>) -> Result<(), EsError> {
    for (name, def) in aggs {
        let (kind, body, subs) = split(name, def)?;
        if kind == "range"
            && let Some(body) = body.as_object()
        {
            refuse_overlaps(body)?;
        }
        if let Some(subs) = subs {
            refuse_overlapping_ranges(&subs)?;
        }
    }
    Ok(())
}

fn refuse_overlaps(body: &Map<String, Value>) -> Result<(), EsError> {
    let Some(ranges) = body.get("ranges").and_then(Value::as_array) else { return Ok(()) };
    let bound = |r: &Value, name: &str, open: f64| r.get(name).and_then(Value::as_f64).unwrap_or(open);
    let mut spans: Vec<(f64, f64)> =
        ranges.iter().map(|r| (bound(r, "from", f64::NEG_INFINITY), bound(r, "to", f64::INFINITY))).collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    match spans.windows(2).find(|w| w[0].1 > w[1].0) {
        Some(w) => Err(EsError::illegal_argument(format!(
            "imdb-search-node counts overlapping ranges only when every range has a [key] and the aggregation has no sub-aggregations; [{}, {}) and [{}, {}) overlap",
            w[0].0, w[0].1, w[1].0, w[1].1
        ))),
        None => Ok(()),
    }
}

/// Renames results back: reassembles `filters`, adds `key_as_string`,
/// prefixes names with their type under `typed_keys`.
pub fn finish(results: Value, request: &Map<String, Value>, mapping: &Mapping, typed_keys: bool) -> Value {
    let Value::Object(mut results) = results else { return results };
    let mut out = Map::new();
    for (name, def) in request {
        let Ok((kind, body, subs)) = split(name, def) else { continue };
        let subs = subs.unwrap_or_default();
        let value = if kind == "filters" {
            let keyed = body.get("filters").is_some_and(Value::is_object);
            let prefix = format!("{name}{FILTERS_SEP}");
            let mut buckets: Vec<(String, Value)> = Vec::new();
            let keys: Vec<String> = results.keys().filter(|k| k.starts_with(&prefix)).cloned().collect();
            for key in keys {
                let bucket = results.remove(&key).unwrap_or(Value::Null);
                buckets.push((key[prefix.len()..].to_owned(), finish_bucket(bucket, &subs, mapping, typed_keys)));
            }
            if keyed {
                json!({"buckets": Map::from_iter(buckets)})
            } else {
                buckets.sort_by_key(|(k, _)| k.parse::<usize>().unwrap_or(usize::MAX));
                json!({"buckets": buckets.into_iter().map(|(_, b)| b).collect::<Vec<_>>()})
            }
        } else {
            let Some(value) = results.remove(name) else { continue };
            finish_one(&kind, &body, value, &subs, mapping, typed_keys)
        };
        out.insert(
            if typed_keys { format!("{}#{name}", type_name(&kind, &body, mapping)) } else { name.clone() },
            value,
        );
    }
    Value::Object(out)
}

fn finish_bucket(bucket: Value, subs: &Map<String, Value>, mapping: &Mapping, typed_keys: bool) -> Value {
    let Value::Object(mut bucket) = bucket else { return bucket };
    let owned: Vec<String> = subs
        .keys()
        .flat_map(|name| {
            let prefix = format!("{name}{FILTERS_SEP}");
            bucket.keys().filter(|k| *k == name || k.starts_with(&prefix)).cloned().collect::<Vec<_>>()
        })
        .collect();
    let sub_results: Map<String, Value> = owned.into_iter().filter_map(|k| bucket.remove(&k).map(|v| (k, v))).collect();
    let finished = finish(Value::Object(sub_results), subs, mapping, typed_keys);
    if let Value::Object(f) = finished {
        bucket.extend(f);
    }
    Value::Object(bucket)
}

fn finish_one(
    kind: &str,
    body: &Value,
    value: Value,
    subs: &Map<String, Value>,
    mapping: &Mapping,
    typed_keys: bool,
) -> Value {
    let field_type =
        body.get("field").and_then(Value::as_str).and_then(|f| mapping.fields.get(f)).map(|d| d.ty.clone());
    let Value::Object(mut value) = value else { return value };
    if matches!(kind, "filter" | "missing") {
        return finish_bucket(Value::Object(value), subs, mapping, typed_keys);
    }
    if let Some(Value::Array(buckets)) = value.get_mut("buckets") {
        for bucket in buckets.iter_mut() {
            if let Some(b) = bucket.as_object_mut() {
                match &field_type {
                    Some(FieldType::Date { format, .. }) if kind != "range" => {
                        // Terms on dates come back as RFC 3339 text, histograms as numbers.
                        let ms = match b.get("key") {
                            Some(Value::String(s)) => crate::mapping::date::DateFormat::default().parse_value(s),
                            Some(v) => v.as_f64().map(|f| f as i64),
                            None => None,
                        };
                        if let Some(ms) = ms {
                            b.insert("key".into(), json!(ms));
                            b.insert("key_as_string".into(), json!(format.format(ms)));
                        }
                    }
                    Some(FieldType::Boolean) => {
                        let key = b
                            .get("key")
                            .and_then(|k| k.as_f64().or_else(|| k.as_bool().map(|b| f64::from(u8::from(b)))));
                        if let Some(k) = key {
                            b.insert("key".into(), json!(k as i64));
                            b.insert("key_as_string".into(), json!(if k != 0.0 { "true" } else { "false" }));
                        }
                    }
                    Some(FieldType::Number { kind: crate::mapping::Numeric::Integer { .. }, .. })
                        if kind == "terms" =>
                    {
                        if let Some(k) = b.get("key").and_then(Value::as_f64).filter(|k| k.fract() == 0.0) {
                            b.insert("key".into(), json!(k as i64));
                        }
                    }
                    _ => {}
                }
            }
            *bucket = finish_bucket(std::mem::take(bucket), subs, mapping, typed_keys);
        }
    }
    Value::Object(value)
}

/// The type prefix of `typed_keys` (`sterms`, `lterms`, `date_histogram`, ...).
fn type_name(kind: &str, body: &Value, mapping: &Mapping) -> String {
    let ty = body.get("field").and_then(Value::as_str).and_then(|f| mapping.fields.get(f)).map(|d| &d.ty);
    match kind {
        "terms" => match ty {
            Some(
                FieldType::Number { kind: crate::mapping::Numeric::Integer { .. }, .. }
                | FieldType::Date { .. }
                | FieldType::Boolean,
            ) => "lterms",
            Some(FieldType::Number { .. }) => "dterms",
            _ => "sterms",
        }
        .to_owned(),
        "percentiles" => "tdigest_percentiles".to_owned(),
        "cardinality" | "value_count" | "min" | "max" | "avg" | "sum" | "stats" | "extended_stats" | "range"
        | "histogram" | "date_histogram" | "filter" | "filters" | "missing" | "top_hits" | "composite" => {
            kind.to_owned()
        }
        other => other.to_owned(),
    }
}

/// `top_hits` sort in Elasticsearch's forms (`"field"`, `{"field": "desc"}`,
/// `{"field": {"order": "desc"}}`, or a list of these) as the list of
/// `{"field": "order"}` tantivy reads; a bare field name sorts ascending, as
/// in Elasticsearch.
fn top_hits_sort(sort: Value) -> Value {
    let one = |v: Value| -> Value {
        match v {
            Value::String(field) => json!({ field: "asc" }),
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(field, order)| match order.get("order") {
                        Some(o) => (field, o.clone()),
                        None => (field, order),
                    })
                    .collect(),
            ),
            other => other,
        }
    };
    match sort {
        Value::Array(items) => Value::Array(items.into_iter().map(one).collect()),
        other => Value::Array(vec![one(other)]),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{refuse_overlaps, top_hits_sort};

    #[test]
    fn top_hits_sort_takes_every_elasticsearch_form() {
        assert_eq!(top_hits_sort(json!("num")), json!([{"num": "asc"}]));
        assert_eq!(top_hits_sort(json!({"num": "desc"})), json!([{"num": "desc"}]));
        assert_eq!(top_hits_sort(json!({"num": {"order": "desc"}})), json!([{"num": "desc"}]));
        assert_eq!(top_hits_sort(json!(["a", {"b": "desc"}])), json!([{"a": "asc"}, {"b": "desc"}]));
    }

    #[test]
    fn overlapping_ranges_are_refused_with_a_reason_not_an_internal_error() {
        let body = |ranges: serde_json::Value| json!({"field": "n", "ranges": ranges}).as_object().unwrap().clone();
        assert!(refuse_overlaps(&body(json!([{"to": 5}, {"from": 5, "to": 6}, {"from": 6}]))).is_ok());
        assert!(refuse_overlaps(&body(json!([{"from": 10}, {"to": 2}, {"from": 2, "to": 3}]))).is_ok());
        let err = refuse_overlaps(&body(json!([{"from": 1990}, {"from": 1980, "to": 2000}]))).unwrap_err();
        assert_eq!(err.status(), actix_web::http::StatusCode::BAD_REQUEST, "{err:?}");
        assert!(err.to_string().contains("[1980, 2000) and [1990, inf) overlap"), "{err}");
    }
}
