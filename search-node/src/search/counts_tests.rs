//! Counted aggregations against tantivy's: the same requests on the same
//! indexes (several indexes, shards and segments; multi-valued keywords
//! and numbers, missing values, a document whose values repeat), run both
//! ways, must give the same response (but for tantivy's buckets for the
//! gaps between ranges, which Elasticsearch does not give); and requests
//! the counting does not take still run (through tantivy).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::{SearchRequest, test_indexes};
use crate::node::Node;
use crate::storage::index::IndexHandle;

const GENRES: [&str; 7] = ["Drama", "Comedy", "Action", "Crime", "Horror", "Short", "Documentary"];

fn doc(n: usize) -> Value {
    let mut d = json!({"title": format!("title {n} {}", if n.is_multiple_of(4) { "love" } else { "war" })});
    if !n.is_multiple_of(11) {
        // One to three genres, sometimes the same one twice.
        let genres: Vec<&str> = (0..1 + n % 3).map(|i| GENRES[(n * 7 + i * (n % 5)) % GENRES.len()]).collect();
        d["genres"] = json!(genres);
    }
    if !n.is_multiple_of(13) {
        d["year"] = json!(1890 + (n * 37) % 140);
    }
    if n.is_multiple_of(9) {
        d["years"] = json!([1990 + n % 7, 1991 + n % 7, 2005]);
    } else {
        d["years"] = json!(1950 + n % 60);
    }
    if !n.is_multiple_of(6) {
        d["rating"] = json!(((n * 17) % 100) as f64 / 10.0);
    }
    d["type"] = json!(["movie", "short", "tvEpisode", "tvSeries"][n % 4]);
    d
}

fn node_with(indexes: &[&str], count: usize) -> (tempfile::TempDir, Arc<Node>) {
    let (dir, node) = test_indexes::node();
    let settings = json!({"settings": {"number_of_shards": 2}, "mappings": {"properties": {
        "title": {"type": "text"}, "genres": {"type": "keyword"}, "type": {"type": "keyword"},
        "year": {"type": "integer"}, "years": {"type": "short"}, "rating": {"type": "float"}}}});
    for (i, index) in indexes.iter().enumerate() {
        let docs = (0..count).map(|n| (format!("{index}-{n}"), doc(n * (i + 1)))).collect();
        test_indexes::index_in_batches(&node, index, &settings, docs, 23);
    }
    (dir, node)
}

fn search(node: &Node, indexes: &[&str], body: &Value, tantivy: bool) -> Value {
    let handles: Vec<Arc<IndexHandle>> = indexes.iter().map(|i| node.handle(i).unwrap()).collect();
    let mut body = body.clone();
    let mut params = HashMap::new();
    if let Some(typed) = body.as_object_mut().unwrap().remove("typed_keys") {
        params.insert("typed_keys".to_owned(), typed.to_string());
    }
    super::TANTIVY_AGGS.with(|t| t.set(tantivy));
    let mut page = super::search(&handles, &SearchRequest::parse(&body, &params).unwrap()).unwrap();
    super::TANTIVY_AGGS.with(|t| t.set(false));
    page.as_object_mut().unwrap().remove("took");
    page
}

/// The API's facets, and variations of each form the counting takes.
fn requests() -> Vec<Value> {
    let facets = json!({
        "genres": {"terms": {"field": "genres", "size": 40}},
        "types": {"terms": {"field": "type", "size": 20}},
        "decades": {"histogram": {"field": "year", "interval": 10, "min_doc_count": 1}},
        "ratings": {"range": {"field": "rating", "ranges": [
            {"key": "0-5", "to": 5.0}, {"key": "5-6", "from": 5.0, "to": 6.0}, {"key": "6-7", "from": 6.0, "to": 7.0},
            {"key": "7-8", "from": 7.0, "to": 8.0}, {"key": "8-10", "from": 8.0}]}}
    });
    let others = json!({
        "few genres": {"terms": {"field": "genres", "size": 3}},
        "default size": {"terms": {"field": "genres"}},
        "multi years": {"histogram": {"field": "years", "interval": 5, "min_doc_count": 1}},
        "fine ratings": {"histogram": {"field": "rating", "interval": 0.7, "min_doc_count": 2}},
        "year bands": {"range": {"field": "year", "ranges": [
            {"key": "late", "from": 2000}, {"key": "early", "to": 1950}, {"key": "between", "from": 1960, "to": 1970}]}},
        "multi bands": {"range": {"field": "years", "ranges": [{"key": "90s", "from": 1990, "to": 2000}]}}
    });
    vec![
        json!({"size": 3, "query": {"match": {"title": "love"}}, "aggs": facets}),
        json!({"size": 0, "aggs": facets}),
        json!({"size": 5, "sort": [{"year": "desc"}], "aggs": others}),
        json!({"size": 0, "query": {"match": {"title": "war"}}, "aggs": others, "typed_keys": true}),
        json!({"size": 0, "query": {"match": {"title": "nothing"}}, "aggs": facets}),
        json!({"size": 2, "post_filter": {"term": {"type": "movie"}}, "aggs": facets}),
    ]
}

/// tantivy answers a `range` aggregation whose ranges leave gaps with a
/// bucket for each gap too (`*-1990`); Elasticsearch, and the counting,
/// only with the ranges asked for.
fn drop_gap_buckets(page: &mut Value, body: &Value) {
    let typed = body["typed_keys"] == true;
    for (name, def) in body["aggs"].as_object().unwrap() {
        let Some(ranges) = def["range"]["ranges"].as_array() else { continue };
        let keys: Vec<&Value> = ranges.iter().map(|r| &r["key"]).collect();
        let name = if typed { format!("range#{name}") } else { name.clone() };
        let buckets = page["aggregations"][&name]["buckets"].as_array_mut().unwrap();
        buckets.retain(|b| keys.contains(&&b["key"]));
    }
}

#[test]
fn counted_aggregations_answer_as_tantivy_does() {
    let (_dir, node) = node_with(&["a", "b", "c"], 150);
    let mapping = &node.handle("a").unwrap().context().mapping;
    for indexes in [&["a"][..], &["a", "b", "c"][..]] {
        for body in requests() {
            let aggs = body["aggs"].as_object().unwrap();
            assert!(super::counts::CountPlan::of(aggs, mapping).is_some(), "counted: {body}");
            let counted = search(&node, indexes, &body, false);
            let mut tantivy = search(&node, indexes, &body, true);
            drop_gap_buckets(&mut tantivy, &body);
            assert_eq!(counted, tantivy, "{indexes:?} {body}");
            assert!(counted["aggregations"].as_object().is_some_and(|a| !a.is_empty()), "{counted}");
        }
    }
}

#[test]
fn what_is_not_counted_runs_through_tantivy() {
    let (_dir, node) = node_with(&["a"], 60);
    let body = json!({"size": 0, "aggs": {
        "genres": {"terms": {"field": "genres"}, "aggs": {"avg year": {"avg": {"field": "year"}}}},
        "types": {"terms": {"field": "type", "order": {"_key": "asc"}}},
        "decades": {"histogram": {"field": "year", "interval": 10}},
        "ratings": {"range": {"field": "rating", "ranges": [{"to": 5.0}, {"from": 5.0}]}}
    }});
    let page = search(&node, &["a"], &body, false);
    let genres = page["aggregations"]["genres"]["buckets"].as_array().unwrap();
    assert!(genres.iter().all(|b| b["avg year"]["value"].is_number()), "{page}");
    let types: Vec<&str> = page["aggregations"]["types"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["key"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["movie", "short", "tvEpisode", "tvSeries"]);
    assert_eq!(page, search(&node, &["a"], &body, true));
}

#[test]
fn overlapping_ranges_count_a_document_in_each() {
    // tantivy refuses overlapping ranges; Elasticsearch counts a document
    // in every range it falls in, and so does the counting.
    let (_dir, node) = node_with(&["a"], 100);
    let body = json!({"size": 0, "aggs": {"bands": {"range": {"field": "years", "ranges": [
        {"key": "all", "from": 1900}, {"key": "90s", "from": 1990, "to": 2000}, {"key": "2005", "from": 2005, "to": 2006}]}}}});
    let page = search(&node, &["a"], &body, false);
    let counts: Vec<(&str, u64)> = page["aggregations"]["bands"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["key"].as_str().unwrap(), b["doc_count"].as_u64().unwrap()))
        .collect();
    let docs: Vec<Value> = (0..100).map(doc).collect();
    let years = |d: &Value| -> Vec<i64> {
        match &d["years"] {
            Value::Array(a) => a.iter().map(|v| v.as_i64().unwrap()).collect(),
            v => vec![v.as_i64().unwrap()],
        }
    };
    let with = |f: &dyn Fn(i64) -> bool| docs.iter().filter(|d| years(d).into_iter().any(f)).count() as u64;
    assert_eq!(
        counts,
        [("all", with(&|y| y >= 1900)), ("90s", with(&|y| (1990..2000).contains(&y))), ("2005", with(&|y| y == 2005))]
    );
}

#[test]
fn overlapping_ranges_that_tantivy_would_run_are_a_bad_request() {
    let (_dir, node) = node_with(&["a"], 20);
    let handles = vec![node.handle("a").unwrap()];
    // A sub-aggregation: not counted, so tantivy's, which cannot overlap.
    let body = json!({"size": 0, "aggs": {"bands": {"range": {"field": "year", "ranges": [
        {"key": "all", "from": 1900}, {"key": "90s", "from": 1990, "to": 2000}]},
        "aggs": {"top": {"max": {"field": "rating"}}}}}});
    let err = super::search(&handles, &SearchRequest::parse(&body, &HashMap::new()).unwrap()).unwrap_err();
    assert_eq!(err.status(), actix_web::http::StatusCode::BAD_REQUEST, "{err:?}");
}
