//! A `_search` request: body and URL parameters read into one typed
//! request, refusing unknown keys and parts outside the subset by name.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::error::EsError;
use crate::query::{Query, QueryStringQuery};
use crate::search::source_filter::SourceFilter;

/// Elasticsearch's default `size`.
pub const DEFAULT_SIZE: usize = 10;
/// Elasticsearch's default `track_total_hits` bound.
pub const DEFAULT_TRACK_TOTAL: usize = 10_000;

/// How far to count matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackTotal {
    /// Count them all.
    All,
    /// Count up to this many, then report `gte`.
    UpTo(usize),
    /// No total in the response.
    Off,
}

/// Where documents without a value sort.
#[derive(Debug, Clone, PartialEq)]
pub enum Missing {
    /// `_last` (default).
    Last,
    /// `_first`.
    First,
    /// As if they had this value.
    Value(Value),
}

/// One sort criterion.
#[derive(Debug, Clone, PartialEq)]
pub struct SortSpec {
    /// Field path, `_score` or `_doc`.
    pub field: String,
    /// Descending order.
    pub desc: bool,
    /// Placement of documents without a value.
    pub missing: Missing,
    /// For multi-valued fields: `min`, `max`, `sum`, `avg`, `median`.
    pub mode: Option<String>,
    /// Type to assume when the field is not mapped in some index.
    pub unmapped_type: Option<String>,
    /// Date format of sort values (dates only).
    pub format: Option<String>,
}

/// `pit` of a search body: which point in time, and for how much longer.
#[derive(Debug, Clone, PartialEq)]
pub struct PitRef {
    /// The id `_pit` gave.
    pub id: String,
    /// A new keep-alive (none: keep the last one).
    pub keep_alive: Option<std::time::Duration>,
}

/// A search request.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// The query (`match_all` by default).
    pub query: Query,
    /// A filter on hits only, after aggregations.
    pub post_filter: Option<Query>,
    /// Offset of the first hit.
    pub from: usize,
    /// Number of hits.
    pub size: usize,
    /// Sort criteria (relevance when empty).
    pub sort: Vec<SortSpec>,
    /// Sort values of the last hit of the previous page.
    pub search_after: Option<Vec<Value>>,
    /// `_source` filtering.
    pub source: SourceFilter,
    /// How far to count.
    pub track_total_hits: TrackTotal,
    /// Aggregations, as given.
    pub aggs: Option<Map<String, Value>>,
    /// Highlighting, as given.
    pub highlight: Option<Value>,
    /// Hits scoring less are dropped.
    pub min_score: Option<f32>,
    /// Include `_version` in hits.
    pub version: bool,
    /// Include `_seq_no` and `_primary_term` in hits.
    pub seq_no_primary_term: bool,
    /// Compute scores even when sorting by fields.
    pub track_scores: bool,
    /// Time budget.
    pub timeout: Option<std::time::Duration>,
    /// Stop counting after this many matches per shard.
    pub terminate_after: Option<usize>,
    /// Prefix aggregation names with their type (`sterms#genres`).
    pub typed_keys: bool,
    /// `rest_total_hits_as_int`: the total as a plain number.
    pub total_as_int: bool,
    /// Fields to return from `_source` in `fields`.
    pub fields: Vec<String>,
    /// `search_type=dfs_query_then_fetch`: score with term statistics of
    /// every shard searched, not each shard's own.
    pub dfs: bool,
    /// `pit`: search this point in time.
    pub pit: Option<PitRef>,
    /// `scroll=1m` in the URL: open a scroll kept this long.
    pub scroll: Option<std::time::Duration>,
}

impl Default for SearchRequest {
    fn default() -> SearchRequest {
        SearchRequest {
            query: Query::MatchAll { boost: 1.0 },
            post_filter: None,
            from: 0,
            size: DEFAULT_SIZE,
            sort: Vec::new(),
            search_after: None,
            source: SourceFilter::default(),
            track_total_hits: TrackTotal::UpTo(DEFAULT_TRACK_TOTAL),
            aggs: None,
            highlight: None,
            min_score: None,
            version: false,
            seq_no_primary_term: false,
            track_scores: false,
            timeout: None,
            terminate_after: None,
            typed_keys: false,
            total_as_int: false,
            fields: Vec::new(),
            dfs: false,
            pit: None,
            scroll: None,
        }
    }
}

const BODY_KEYS: [&str; 27] = [
    "query",
    "post_filter",
    "from",
    "size",
    "sort",
    "search_after",
    "_source",
    "track_total_hits",
    "aggs",
    "aggregations",
    "highlight",
    "min_score",
    "version",
    "seq_no_primary_term",
    "track_scores",
    "timeout",
    "terminate_after",
    "explain",
    "stored_fields",
    "docvalue_fields",
    "fields",
    "profile",
    "runtime_mappings",
    "indices_boost",
    "ext",
    "stats",
    "pit",
];
const REFUSED: [&str; 8] =
    ["collapse", "rescore", "script_fields", "suggest", "knn", "slice", "point_in_time", "retriever"];

fn number(value: &Value, key: &str) -> Result<usize, EsError> {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .filter(|n| *n >= 0)
        .map(|n| n as usize)
        .ok_or_else(|| {
            EsError::parsing(format!("[{key}] must be a non-negative number, got [{}]", crate::util::plain(value)))
        })
}

/// Reads `sort`: `"field"`, `{"field": "desc"}`, `{"field": {"order": ...}}`, or a list of them.
pub fn parse_sort(value: &Value) -> Result<Vec<SortSpec>, EsError> {
    let items = match value {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    let spec = |field: &str| SortSpec {
        field: field.to_owned(),
        desc: field == "_score",
        missing: Missing::Last,
        mode: None,
        unmapped_type: None,
        format: None,
    };
    let mut out = Vec::new();
    for item in items {
        match item {
            Value::String(s) => out.push(spec(&s)),
            Value::Object(map) => {
                for (field, how) in map {
                    let mut s = spec(&field);
                    match how {
                        Value::String(order) => s.desc = parse_order(&order)?,
                        Value::Object(options) => {
                            for (k, v) in options {
                                match k.as_str() {
                                    "order" => s.desc = parse_order(&crate::util::plain(&v))?,
                                    "missing" => {
                                        s.missing = match v.as_str() {
                                            Some("_last") => Missing::Last,
                                            Some("_first") => Missing::First,
                                            _ => Missing::Value(v.clone()),
                                        }
                                    }
                                    "mode" => s.mode = Some(crate::util::plain(&v)),
                                    "unmapped_type" => s.unmapped_type = Some(crate::util::plain(&v)),
                                    "format" => s.format = Some(crate::util::plain(&v)),
                                    "numeric_type" => {}
                                    other => {
                                        return Err(EsError::parsing(format!("[field_sort] unknown field [{other}]")));
                                    }
                                }
                            }
                        }
                        _ => return Err(EsError::parsing(format!("[sort] malformed options for [{field}]"))),
                    }
                    if s.field.starts_with("_geo_distance") || s.field == "_script" {
                        return Err(EsError::parsing(format!(
                            "[sort] [{}] is not supported by imdb-search-node",
                            s.field
                        )));
                    }
                    out.push(s);
                }
            }
            other => return Err(EsError::parsing(format!("[sort] malformed: {other}"))),
        }
    }
    Ok(out)
}

fn parse_order(order: &str) -> Result<bool, EsError> {
    match order.to_lowercase().as_str() {
        "asc" => Ok(false),
        "desc" => Ok(true),
        other => Err(EsError::illegal_argument(format!("Unknown SortOrder [{other}]"))),
    }
}

/// `sort=title.keyword:asc,_score` as the URL gives it.
fn url_sort(text: &str) -> Result<Vec<SortSpec>, EsError> {
    let items: Vec<Value> = text
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| match s.rsplit_once(':') {
            Some((field, order)) => serde_json::json!({ field: order }),
            None => Value::String(s.to_owned()),
        })
        .collect();
    parse_sort(&Value::Array(items))
}

fn track_total(value: &Value) -> Result<TrackTotal, EsError> {
    match value {
        Value::Bool(true) => Ok(TrackTotal::All),
        Value::Bool(false) => Ok(TrackTotal::Off),
        Value::String(s) if s == "true" => Ok(TrackTotal::All),
        Value::String(s) if s == "false" => Ok(TrackTotal::Off),
        other => match other.as_i64().or_else(|| other.as_str().and_then(|s| s.parse().ok())) {
            Some(-1) => Ok(TrackTotal::All),
            Some(n) if n >= 0 => Ok(TrackTotal::UpTo(n as usize)),
            _ => Err(EsError::illegal_argument(format!(
                "[track_total_hits] parameter must be positive or equals to -1, got {}",
                crate::util::plain(other)
            ))),
        },
    }
}

impl SearchRequest {
    /// Reads a request from its JSON body and URL parameters (which win).
    pub fn parse(body: &Value, params: &HashMap<String, String>) -> Result<SearchRequest, EsError> {
        let mut req = SearchRequest::default();
        let empty = Map::new();
        let body = match body {
            Value::Object(m) => m,
            Value::Null => &empty,
            _ => return Err(EsError::parsing("request body must be an object")),
        };
        for (key, value) in body {
            let key = key.as_str();
            if REFUSED.contains(&key) {
                return Err(EsError::parsing(format!("[{key}] is not supported by imdb-search-node")));
            }
            if !BODY_KEYS.contains(&key) {
                return Err(EsError::parsing(format!("Unknown key for a {} in [{key}].", token_name(value))));
            }
            match key {
                "query" => req.query = Query::parse(value)?,
                "post_filter" => req.post_filter = Some(Query::parse(value)?),
                "from" => req.from = number(value, key)?,
                "size" => req.size = number(value, key)?,
                "sort" => req.sort = parse_sort(value)?,
                "search_after" => {
                    req.search_after = Some(
                        value.as_array().cloned().ok_or_else(|| EsError::parsing("[search_after] must be an array"))?,
                    );
                }
                "_source" => req.source = SourceFilter::from_body(value)?,
                "track_total_hits" => req.track_total_hits = track_total(value)?,
                "aggs" | "aggregations" => {
                    req.aggs =
                        Some(value.as_object().cloned().ok_or_else(|| EsError::parsing("[aggs] must be an object"))?);
                }
                "highlight" => req.highlight = Some(value.clone()),
                "min_score" => req.min_score = value.as_f64().map(|f| f as f32),
                "version" => req.version = value.as_bool().unwrap_or(false),
                "seq_no_primary_term" => req.seq_no_primary_term = value.as_bool().unwrap_or(false),
                "track_scores" => req.track_scores = value.as_bool().unwrap_or(false),
                "timeout" => req.timeout = crate::mapping::meta::parse_interval(value).ok().flatten(),
                "terminate_after" => req.terminate_after = Some(number(value, key)?).filter(|n| *n > 0),
                "fields" | "docvalue_fields" => {
                    for f in value.as_array().into_iter().flatten() {
                        let name = f.get("field").unwrap_or(f);
                        req.fields.push(crate::util::plain(name));
                    }
                }
                "explain" | "profile" | "stats" | "ext" => {}
                "pit" => req.pit = Some(pit_ref(value)?),
                "stored_fields" => {
                    // Stored fields other than `_source` do not exist here:
                    // naming some without `_source` returns no source.
                    let names: Vec<String> = match value {
                        Value::Array(a) => a.iter().map(crate::util::plain).collect(),
                        other => crate::util::plain(other).split(',').map(str::to_owned).collect(),
                    };
                    if !names.iter().any(|n| n == "_source") {
                        req.source.disabled = true;
                    }
                }
                "runtime_mappings" | "indices_boost" => {
                    if !value.as_object().is_some_and(Map::is_empty) && !value.as_array().is_some_and(Vec::is_empty) {
                        return Err(EsError::parsing(format!("[{key}] is not supported by imdb-search-node")));
                    }
                }
                _ => unreachable!("listed in BODY_KEYS"),
            }
        }
        req.apply_params(params)?;
        Ok(req)
    }

    fn apply_params(&mut self, params: &HashMap<String, String>) -> Result<(), EsError> {
        let get = |k: &str| params.get(k).map(String::as_str);
        if let Some(q) = get("q") {
            let and = get("default_operator").is_some_and(|o| o.eq_ignore_ascii_case("and"));
            self.query = Query::QueryString(QueryStringQuery::from_url(q, get("df"), and, get("analyzer")));
        }
        if let Some(v) = get("from") {
            self.from = number(&Value::String(v.to_owned()), "from")?;
        }
        if let Some(v) = get("size") {
            self.size = number(&Value::String(v.to_owned()), "size")?;
        }
        if let Some(v) = get("sort") {
            self.sort = url_sort(v)?;
        }
        if let Some(v) = get("track_total_hits") {
            self.track_total_hits = track_total(&Value::String(v.to_owned()))?;
        }
        if get("_source").is_some() || get("_source_includes").is_some() || get("_source_excludes").is_some() {
            self.source = SourceFilter::from_params(get("_source"), get("_source_includes"), get("_source_excludes"));
        }
        if let Some(v) = get("docvalue_fields").or_else(|| get("stored_fields").filter(|_| false)) {
            self.fields.extend(v.split(',').map(str::to_owned));
        }
        if let Some(v) = get("version") {
            self.version = crate::util::is_true(Some(v));
        }
        if let Some(v) = get("seq_no_primary_term") {
            self.seq_no_primary_term = crate::util::is_true(Some(v));
        }
        if let Some(v) = get("track_scores") {
            self.track_scores = crate::util::is_true(Some(v));
        }
        if let Some(v) = get("terminate_after") {
            self.terminate_after = Some(number(&Value::String(v.to_owned()), "terminate_after")?).filter(|n| *n > 0);
        }
        self.dfs = match get("search_type") {
            None | Some("query_then_fetch") => false,
            Some("dfs_query_then_fetch") => true,
            Some(other) => {
                return Err(EsError::illegal_argument(format!("No search type for [{other}]")));
            }
        };
        self.typed_keys = crate::util::is_true(get("typed_keys"));
        self.total_as_int = crate::util::is_true(get("rest_total_hits_as_int"));
        if self.total_as_int {
            match self.track_total_hits {
                TrackTotal::UpTo(DEFAULT_TRACK_TOTAL) | TrackTotal::All | TrackTotal::Off => {
                    if self.track_total_hits != TrackTotal::Off {
                        self.track_total_hits = TrackTotal::All;
                    }
                }
                TrackTotal::UpTo(n) => {
                    return Err(EsError::illegal_argument(format!(
                        "[rest_total_hits_as_int] cannot be used if the tracking of total hits is not accurate, got {n}"
                    )));
                }
            }
        }
        if let Some(v) = get("scroll") {
            self.scroll = Some(keep_alive(&Value::String(v.to_owned()), "scroll")?);
        }
        if let Some(t) = get("timeout") {
            self.timeout = crate::mapping::meta::parse_interval(&Value::String(t.to_owned())).ok().flatten();
        }
        Ok(())
    }
}

/// A keep-alive (`1m`, `30s`) of `what` (`keep_alive`, `scroll`).
pub fn keep_alive(value: &Value, what: &str) -> Result<std::time::Duration, EsError> {
    match crate::mapping::meta::parse_interval(value) {
        Ok(Some(d)) => Ok(d),
        _ => Err(EsError::parse(format!(
            "failed to parse setting [{what}] with value [{}] as a time value: unit is missing or unrecognized",
            crate::util::plain(value)
        ))),
    }
}

fn pit_ref(value: &Value) -> Result<PitRef, EsError> {
    let map = value.as_object().ok_or_else(|| EsError::parsing("[pit] must be an object"))?;
    let mut pit = PitRef { id: String::new(), keep_alive: None };
    for (key, v) in map {
        match key.as_str() {
            "id" => {
                pit.id =
                    v.as_str().map(str::to_owned).ok_or_else(|| EsError::parsing("[pit] [id] must be a string"))?;
            }
            "keep_alive" => pit.keep_alive = Some(keep_alive(v, "keep_alive")?),
            other => return Err(EsError::parsing(format!("[pit] unknown field [{other}]"))),
        }
    }
    if pit.id.is_empty() {
        return Err(EsError::parsing("[pit] requires [id]"));
    }
    Ok(pit)
}

fn token_name(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "START_OBJECT",
        Value::Array(_) => "START_ARRAY",
        Value::String(_) => "VALUE_STRING",
        Value::Number(_) => "VALUE_NUMBER",
        Value::Bool(_) => "VALUE_BOOLEAN",
        Value::Null => "VALUE_NULL",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_and_url_parameters() {
        let params: HashMap<String, String> = [("size".to_owned(), "3".to_owned())].into();
        let req = SearchRequest::parse(
            &json!({"query": {"match": {"title": "heat"}}, "from": 5, "size": 20, "sort": ["_score", {"votes": "desc"}, {"year": {"order": "asc", "missing": "_first"}}]}),
            &params,
        )
        .unwrap();
        assert_eq!((req.from, req.size), (5, 3));
        assert_eq!(req.sort.len(), 3);
        assert!(req.sort[0].desc && req.sort[1].desc && !req.sort[2].desc);
        assert_eq!(req.sort[2].missing, Missing::First);
        let e = SearchRequest::parse(&json!({"quer": {}}), &HashMap::new()).unwrap_err();
        assert_eq!(e.reason, "Unknown key for a START_OBJECT in [quer].");
        let e = SearchRequest::parse(&json!({"collapse": {"field": "x"}}), &HashMap::new()).unwrap_err();
        assert!(e.reason.contains("[collapse]"), "{}", e.reason);
        let req = SearchRequest::parse(&json!({"pit": {"id": "abc", "keep_alive": "2m"}}), &HashMap::new()).unwrap();
        assert_eq!(req.pit, Some(PitRef { id: "abc".into(), keep_alive: Some(std::time::Duration::from_secs(120)) }));
        let params: HashMap<String, String> = [("scroll".to_owned(), "30s".to_owned())].into();
        assert_eq!(SearchRequest::parse(&json!({}), &params).unwrap().scroll, Some(std::time::Duration::from_secs(30)));
        let params: HashMap<String, String> = [("scroll".to_owned(), "soon".to_owned())].into();
        assert_eq!(SearchRequest::parse(&json!({}), &params).unwrap_err().es_type(), "parse_exception");
        assert!(SearchRequest::parse(&json!({"pit": {"keep_alive": "1m"}}), &HashMap::new()).is_err());
        assert!(url_sort("year:desc,_score").unwrap()[0].desc);
    }
}
