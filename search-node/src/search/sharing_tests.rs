//! What a search over many indexes shares, checked against real indexes:
//! a query compiled once per shape still answers per index (`_index`), and
//! keyword sort keys left as segment ordinals until the order needs them
//! sort exactly as keywords do, across indexes, shards and segments.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::{SearchRequest, test_indexes};
use crate::node::Node;
use crate::storage::index::IndexHandle;

fn node_with(indexes: &[&str], count: usize) -> (tempfile::TempDir, Arc<Node>) {
    let (dir, node) = test_indexes::node();
    let settings = json!({"settings": {"number_of_shards": 2}, "mappings": {"properties": {
        "group": {"type": "keyword"}, "name": {"type": "keyword"}, "n": {"type": "integer"}}}});
    for (i, index) in indexes.iter().enumerate() {
        let docs = (0..count)
            .map(|n| {
                let source =
                    json!({"group": format!("g{}", n % 3), "name": format!("{}{:03}", i, (n * 37) % 101), "n": n});
                (format!("{index}-{n}"), source)
            })
            .collect();
        test_indexes::index_in_batches(&node, index, &settings, docs, 7);
    }
    (dir, node)
}

fn search(node: &Node, indexes: &[&str], body: Value) -> Value {
    let handles: Vec<Arc<IndexHandle>> = indexes.iter().map(|i| node.handle(i).unwrap()).collect();
    super::search(&handles, &SearchRequest::parse(&body, &HashMap::new()).unwrap()).unwrap()
}

#[test]
fn a_query_on_index_names_is_compiled_for_each_index() {
    let (_dir, node) = node_with(&["a", "b", "c"], 10);
    let all = ["a", "b", "c"];
    let body =
        json!({"size": 100, "query": {"bool": {"must": [{"term": {"_index": "b"}}, {"term": {"group": "g1"}}]}}});
    let page = search(&node, &all, body);
    let hits = page["hits"]["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 3, "{page}");
    assert!(hits.iter().all(|h| h["_index"] == "b"));
    // The same shape without `_index`: every index answers.
    let page = search(&node, &all, json!({"size": 100, "query": {"term": {"group": "g1"}}}));
    assert_eq!(page["hits"]["total"]["value"], 9);
}

#[test]
fn keyword_sorts_order_exactly_across_indexes_shards_and_segments() {
    let (_dir, node) = node_with(&["a", "b"], 40);
    let all = ["a", "b"];
    // Many ties on `group` within and across segments, broken by `name`
    // (unique; its ordinals of two segments do not compare).
    let sort = json!([{"group": "desc"}, {"name": "asc"}, {"n": "desc"}]);
    let page = search(&node, &all, json!({"size": 80, "sort": sort, "query": {"match_all": {}}}));
    let shown: Vec<(String, String, i64)> = page["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let s = &h["sort"];
            (s[0].as_str().unwrap().to_owned(), s[1].as_str().unwrap().to_owned(), s[2].as_i64().unwrap())
        })
        .collect();
    let mut expected: Vec<(String, String, i64)> = ["a", "b"]
        .iter()
        .enumerate()
        .flat_map(|(i, _)| (0..40).map(move |n| (format!("g{}", n % 3), format!("{}{:03}", i, (n * 37) % 101), n)))
        .collect();
    expected.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)).then(y.2.cmp(&x.2)));
    assert_eq!(shown, expected);
    // A page in the middle shows keywords too, and the same order.
    let page = search(&node, &all, json!({"from": 30, "size": 5, "sort": sort}));
    let names: Vec<&str> =
        page["hits"]["hits"].as_array().unwrap().iter().map(|h| h["sort"][1].as_str().unwrap()).collect();
    let want: Vec<&str> = expected[30..35].iter().map(|e| e.1.as_str()).collect();
    assert_eq!(names, want);
}
