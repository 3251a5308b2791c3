//! Scroll and point-in-time tests against real indexes in a temporary
//! folder: every hit served once across pages (ties, several shards and
//! segments), the snapshot kept while documents are written and deleted,
//! and the errors of closed, expired and deleted contexts.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::{SearchRequest, pit, scroll};
use crate::node::Node;
use crate::ops::{Action, OpType};

struct Fixture {
    _dir: tempfile::TempDir,
    node: Arc<Node>,
}

const MINUTE: &str = "1m";

impl Fixture {
    /// `count` documents in `docs` (3 shards), written in batches with a
    /// refresh after each, so shards have several segments.
    fn new(count: usize) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let node = Arc::new(Node::open(dir.path()).unwrap());
        let settings = json!({"settings": {"number_of_shards": 3}, "mappings": {"properties": {
            "n": {"type": "integer"}, "group": {"type": "keyword"}}}});
        node.create("docs", &settings).unwrap();
        let f = Fixture { _dir: dir, node };
        for batch in (0..count).collect::<Vec<_>>().chunks(40) {
            f.write(batch.iter().map(|&n| (n, OpType::Index)));
        }
        f
    }

    fn write(&self, docs: impl Iterator<Item = (usize, OpType)>) {
        let actions: Vec<Action> = docs
            .map(|(n, op)| Action {
                op,
                index: "docs".into(),
                id: Some(format!("d{n}")),
                routing: None,
                body: Ok(json!({"n": n, "group": format!("g{}", n % 3)}).as_object().unwrap().clone()),
                conditions: Default::default(),
                retry_on_conflict: 0,
                require_alias: false,
            })
            .collect();
        assert!(crate::ops::execute(&self.node, actions).iter().all(|i| i.status.is_success()));
        self.node.handle("docs").unwrap().refresh().unwrap();
    }

    fn request(body: Value, params: &[(&str, &str)]) -> SearchRequest {
        let params: HashMap<String, String> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        SearchRequest::parse(&body, &params).unwrap()
    }

    fn scroll_start(&self, body: Value) -> Value {
        let req = Self::request(body, &[("scroll", MINUTE)]);
        scroll::start(&self.node.contexts, &[self.node.handle("docs").unwrap()], req).unwrap()
    }

    fn pit_search(&self, body: Value) -> Value {
        pit::search(&self.node.contexts, &Self::request(body, &[])).unwrap()
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["hits"]["hits"].as_array().unwrap().iter().map(|h| h["_id"].as_str().unwrap().to_owned()).collect()
}

fn expected(range: std::ops::Range<usize>) -> BTreeSet<String> {
    range.map(|n| format!("d{n}")).collect()
}

/// Scrolls to the end, writing and deleting documents after the first
/// page; returns every id served, asserting none twice.
fn scroll_all(f: &Fixture, body: Value) -> BTreeSet<String> {
    let mut page = f.scroll_start(body);
    let id = page["_scroll_id"].as_str().unwrap().to_owned();
    f.write((1000..1050).map(|n| (n, OpType::Index)).chain((0..20).map(|n| (n, OpType::Delete))));
    let mut seen = BTreeSet::new();
    while !ids(&page).is_empty() {
        assert_eq!(page["hits"]["total"], json!({"value": 250, "relation": "eq"}));
        for hit in ids(&page) {
            assert!(seen.insert(hit.clone()), "{hit} served twice");
        }
        page = scroll::next(&f.node.contexts, &id, None, false).unwrap();
        assert_eq!(page["_scroll_id"], json!(id));
    }
    // Past the end: empty pages until cleared.
    assert!(ids(&scroll::next(&f.node.contexts, &id, None, false).unwrap()).is_empty());
    assert_eq!(
        scroll::clear(&f.node.contexts, std::slice::from_ref(&id)).unwrap(),
        (json!({"succeeded": true, "num_freed": 1}), actix_web::http::StatusCode::OK)
    );
    assert_eq!(scroll::clear(&f.node.contexts, std::slice::from_ref(&id)).unwrap().1, 404);
    let e = scroll::next(&f.node.contexts, &id, None, false).unwrap_err();
    assert_eq!((e.es_type(), e.status().as_u16()), ("search_context_missing_exception", 404));
    seen
}

#[test]
fn a_scroll_serves_its_snapshot_once_whatever_the_sort() {
    let f = Fixture::new(250);
    // Equal scores everywhere, the `_doc` order, and a keyword with ties.
    for body in [
        json!({"size": 7}),
        json!({"size": 13, "sort": ["_doc"]}),
        json!({"size": 9, "sort": [{"group": "desc"}], "query": {"range": {"n": {"gte": 0}}}}),
    ] {
        assert_eq!(scroll_all(&f, body.clone()), expected(0..250), "{body}");
        // The writes of the previous scroll are visible to the next one.
        f.write((1000..1050).map(|n| (n, OpType::Delete)).chain((0..20).map(|n| (n, OpType::Index))));
    }
}

#[test]
fn a_scroll_refuses_what_elasticsearch_refuses() {
    let f = Fixture::new(10);
    let handles = [f.node.handle("docs").unwrap()];
    for (body, reason) in [
        (json!({"from": 5}), "using [from] is not allowed in a scroll context"),
        (json!({"size": 0}), "[size] cannot be [0] in a scroll context"),
        (json!({"sort": ["_doc"], "search_after": [1]}), "[search_after] cannot be used in a scroll context"),
        (json!({"track_total_hits": false}), "disabling [track_total_hits] is not allowed in a scroll context"),
    ] {
        let e = scroll::start(&f.node.contexts, &handles, Fixture::request(body, &[("scroll", MINUTE)])).unwrap_err();
        assert_eq!(
            (e.es_type(), e.reason),
            ("action_request_validation_exception", format!("Validation Failed: 1: {reason};"))
        );
    }
    let e = scroll::start(&f.node.contexts, &handles, Fixture::request(json!({}), &[("scroll", "2d")])).unwrap_err();
    assert_eq!(e.status().as_u16(), 400);
    assert_eq!(f.node.contexts.count(super::contexts::Kind::Scroll), 0);
    // Aggregations come with the first page only; the total is exact.
    let first = f.scroll_start(json!({"size": 4, "track_total_hits": 2, "aggs": {"g": {"terms": {"field": "group"}}}}));
    assert_eq!(first["hits"]["total"]["value"], 10);
    assert_eq!(first["aggregations"]["g"]["buckets"].as_array().unwrap().len(), 3);
    let id = first["_scroll_id"].as_str().unwrap();
    let second = scroll::next(&f.node.contexts, id, Some(Duration::from_secs(30)), true).unwrap();
    assert!(second.get("aggregations").is_none());
    assert_eq!(second["hits"]["total"], 10, "rest_total_hits_as_int on a later page");
    assert_eq!(scroll::clear(&f.node.contexts, &["_all".into()]).unwrap().0["num_freed"], 1);
}

/// Pages through a point in time with `search_after`; returns every id.
fn pit_all(f: &Fixture, id: &str, body: Value) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut body = body;
    loop {
        body["pit"] = json!({"id": id, "keep_alive": MINUTE});
        let page = f.pit_search(body.clone());
        assert_eq!(page["pit_id"], json!(id));
        let hits = page["hits"]["hits"].as_array().unwrap();
        let Some(last) = hits.last() else { return seen };
        for hit in ids(&page) {
            assert!(seen.insert(hit.clone()), "{hit} served twice");
        }
        body["search_after"] = last["sort"].clone();
    }
}

#[test]
fn a_point_in_time_pages_exactly_with_search_after_on_its_snapshot() {
    let f = Fixture::new(250);
    let handles = [f.node.handle("docs").unwrap()];
    let opened = pit::open(&f.node.contexts, &handles, Duration::from_secs(60)).unwrap();
    assert_eq!(opened["_shards"]["total"], 3);
    let id = opened["id"].as_str().unwrap().to_owned();
    f.write((1000..1050).map(|n| (n, OpType::Index)).chain((0..20).map(|n| (n, OpType::Delete))));
    // The implicit `_shard_doc` tiebreaker shows in every hit's sort values.
    let page = f.pit_search(json!({"pit": {"id": id}, "size": 3, "sort": [{"group": "asc"}]}));
    let sort = page["hits"]["hits"][0]["sort"].as_array().unwrap().clone();
    assert_eq!((sort.len(), sort[0].clone()), (2, json!("g0")));
    assert!(sort[1].is_i64());
    for body in [
        json!({"size": 11, "sort": [{"group": "asc"}]}),
        json!({"size": 17}),
        json!({"size": 10, "sort": [{"_shard_doc": "desc"}]}),
        json!({"size": 10, "sort": [{"n": "desc"}], "query": {"range": {"n": {"lt": 2000}}}}),
    ] {
        assert_eq!(pit_all(&f, &id, body.clone()), expected(0..250), "{body}");
    }
    // A plain search sees the writes.
    let now = super::search(&handles, &Fixture::request(json!({"size": 0}), &[])).unwrap();
    assert_eq!(now["hits"]["total"]["value"], 280);
    assert_eq!(
        pit::close(&f.node.contexts, std::slice::from_ref(&id)).unwrap(),
        (json!({"succeeded": true, "num_freed": 1}), actix_web::http::StatusCode::OK)
    );
    assert_eq!(pit::close(&f.node.contexts, std::slice::from_ref(&id)).unwrap().1, 404);
    let e = pit::search(&f.node.contexts, &Fixture::request(json!({"pit": {"id": id}}), &[])).unwrap_err();
    assert_eq!((e.es_type(), e.status().as_u16()), ("search_context_missing_exception", 404));
}

#[test]
fn contexts_end_with_their_index() {
    let f = Fixture::new(30);
    let handles = [f.node.handle("docs").unwrap()];
    let pit_id =
        pit::open(&f.node.contexts, &handles, Duration::from_secs(60)).unwrap()["id"].as_str().unwrap().to_owned();
    let scroll_id = f.scroll_start(json!({"size": 5}))["_scroll_id"].as_str().unwrap().to_owned();
    f.node.delete("docs", false).unwrap();
    let e = pit::search(&f.node.contexts, &Fixture::request(json!({"pit": {"id": pit_id}}), &[])).unwrap_err();
    assert_eq!(e.status().as_u16(), 404);
    assert_eq!(scroll::next(&f.node.contexts, &scroll_id, None, false).unwrap_err().status().as_u16(), 404);
    assert_eq!(f.node.contexts.reap(), 0, "the failed uses dropped them already");
}

#[test]
fn expired_contexts_are_missing() {
    let f = Fixture::new(30);
    let first = f.scroll_start(json!({"size": 5}));
    let id = first["_scroll_id"].as_str().unwrap();
    scroll::next(&f.node.contexts, id, Some(Duration::from_millis(20)), false).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(f.node.contexts.reap(), 1);
    assert_eq!(
        scroll::next(&f.node.contexts, id, None, false).unwrap_err().es_type(),
        "search_context_missing_exception"
    );
}
