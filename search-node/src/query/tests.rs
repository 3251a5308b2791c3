//! Query DSL and search tests against real indexes in a temporary folder:
//! each query type's semantics, sorting and paging, aggregations,
//! highlighting, and durability of unrefreshed writes.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::node::Node;
use crate::ops::{Action, OpType};
use crate::search::{SearchRequest, search};
use crate::storage::index::IndexHandle;

fn movies() -> Vec<Value> {
    vec![
        json!({"id": "1", "title": "The Godfather", "year": 1972, "votes": 2_000_000, "genres": ["Crime", "Drama"], "released": "1972-03-24"}),
        json!({"id": "2", "title": "The Godfather: Part II", "year": 1974, "votes": 1_300_000, "genres": ["Crime", "Drama"], "released": "1974-12-20"}),
        json!({"id": "3", "title": "The Godfather: Part III", "year": 1990, "votes": 450_000, "genres": ["Crime", "Drama"]}),
        json!({"id": "4", "title": "The Matrix", "year": 1999, "votes": 2_100_000, "genres": ["Action", "Sci-Fi"], "released": "1999-03-31"}),
        json!({"id": "5", "title": "Léon: The Professional", "year": 1994, "votes": 1_200_000, "genres": ["Action", "Crime", "Drama"]}),
        json!({"id": "6", "title": "The Shawshank Redemption", "year": 1994, "votes": 2_900_000, "genres": ["Drama"]}),
        json!({"id": "7", "title": "Heat", "year": 1995, "votes": 700_000, "genres": ["Action", "Crime", "Drama"]}),
        json!({"id": "8", "title": "The Lord of the Rings: The Fellowship of the Ring", "year": 2001, "votes": 2_000_001, "genres": ["Adventure"]}),
        json!({"id": "9", "title": "Matrix Reloaded", "year": 2003, "votes": 600_000}),
    ]
}

fn mapping() -> Value {
    json!({
        "settings": {"number_of_shards": 2, "analysis": {"analyzer": {"folding": {"tokenizer": "standard", "filter": ["lowercase", "asciifolding"]}}}},
        "mappings": {"properties": {
            "title": {"type": "text", "analyzer": "folding", "fields": {"keyword": {"type": "keyword", "normalizer": "lowercase"}, "english": {"type": "text", "analyzer": "english"}}},
            "suggest": {"type": "search_as_you_type"},
            "year": {"type": "integer"},
            "votes": {"type": "long"},
            "genres": {"type": "keyword"},
            "released": {"type": "date"}
        }}
    })
}

struct Fixture {
    _dir: tempfile::TempDir,
    node: Arc<Node>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let node = Arc::new(Node::open(dir.path()).unwrap());
        node.create("movies", &mapping()).unwrap();
        let actions = movies()
            .into_iter()
            .map(|mut m| {
                let id = m["id"].as_str().unwrap().to_owned();
                m.as_object_mut().unwrap().remove("id");
                m["suggest"] = m["title"].clone();
                Action {
                    op: OpType::Index,
                    index: "movies".into(),
                    id: Some(id),
                    routing: None,
                    body: Ok(m.as_object().unwrap().clone()),
                    conditions: Default::default(),
                    retry_on_conflict: 0,
                    require_alias: false,
                }
            })
            .collect();
        assert!(crate::ops::execute(&node, actions).iter().all(|i| i.status == 201));
        node.handle("movies").unwrap().refresh().unwrap();
        Fixture { _dir: dir, node }
    }

    fn handles(&self) -> Vec<Arc<IndexHandle>> {
        vec![self.node.handle("movies").unwrap()]
    }

    fn search(&self, body: Value) -> Value {
        let req = SearchRequest::parse(&body, &HashMap::new()).unwrap();
        search(&self.handles(), &req).unwrap()
    }

    fn ids(&self, body: Value) -> Vec<String> {
        self.search(body)["hits"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["_id"].as_str().unwrap().to_owned())
            .collect()
    }

    fn error(&self, body: Value) -> crate::EsError {
        match SearchRequest::parse(&body, &HashMap::new()) {
            Err(e) => e,
            Ok(req) => search(&self.handles(), &req).unwrap_err(),
        }
    }
}

#[test]
fn match_and_operators_and_fuzziness() {
    let f = Fixture::new();
    assert_eq!(f.ids(json!({"query": {"match": {"title": "godfather"}}}))[0], "1", "shortest title first");
    assert_eq!(f.ids(json!({"query": {"match": {"title": {"query": "godfather part", "operator": "and"}}}})).len(), 2);
    assert_eq!(f.ids(json!({"query": {"match": {"title": "shawshenk"}}})).len(), 0);
    assert_eq!(f.ids(json!({"query": {"match": {"title": {"query": "shawshenk redemption", "fuzziness": "AUTO", "operator": "and"}}}})), ["6"]);
    assert_eq!(f.ids(json!({"query": {"match": {"title": "leon"}}})), ["5"], "accents folded at index time");
    assert_eq!(f.ids(json!({"query": {"match": {"title": "Léon"}}})), ["5"], "and at query time");
    assert_eq!(f.ids(json!({"query": {"match": {"title.english": "professionals"}}})), ["5"], "stemmed subfield");
    let three = f.ids(
        json!({"query": {"match": {"title": {"query": "the godfather part matrix", "minimum_should_match": "75%"}}}}),
    );
    assert_eq!(three.len(), 2);
}

#[test]
fn phrases_and_as_you_type() {
    let f = Fixture::new();
    assert_eq!(f.ids(json!({"query": {"match_phrase": {"title": "part ii"}}})), ["2"]);
    assert!(f.ids(json!({"query": {"match_phrase": {"title": "ii part"}}})).is_empty());
    assert_eq!(f.ids(json!({"query": {"match_phrase": {"title": {"query": "godfather ii", "slop": 1}}}})), ["2"]);
    assert_eq!(f.ids(json!({"query": {"match_phrase_prefix": {"title": "lord of the ri"}}})), ["8"]);
    let mut typed =
        f.ids(json!({"query": {"multi_match": {"query": "matr", "type": "bool_prefix", "fields": ["suggest"]}}}));
    typed.sort();
    assert_eq!(typed, ["4", "9"]);
    assert_eq!(f.ids(json!({"query": {"prefix": {"suggest": "hea"}}})), ["7"], "prefix through index_prefixes");
}

#[test]
fn term_level_queries() {
    let f = Fixture::new();
    assert_eq!(f.ids(json!({"query": {"term": {"title.keyword": "HEAT"}}})), ["7"], "normalizer on the query too");
    assert!(f.ids(json!({"query": {"term": {"genres": "crime"}}})).is_empty(), "keywords are exact");
    let mut crime = f.ids(json!({"query": {"terms": {"genres": ["Sci-Fi", "Adventure"]}}}));
    crime.sort();
    assert_eq!(crime, ["4", "8"]);
    assert_eq!(f.ids(json!({"query": {"range": {"year": {"gt": 1998.5, "lt": 2003}}}})).len(), 2);
    assert_eq!(f.ids(json!({"query": {"range": {"released": {"gte": "1999-01-01||/y", "lte": "now"}}}})), ["4"]);
    assert_eq!(f.ids(json!({"query": {"wildcard": {"genres": "Sci*"}}})), ["4"]);
    assert_eq!(f.ids(json!({"query": {"exists": {"field": "released"}}})).len(), 3);
    assert_eq!(f.ids(json!({"query": {"bool": {"must_not": {"exists": {"field": "genres"}}}}})), ["9"]);
    let mut ids = f.ids(json!({"query": {"ids": {"values": ["3", "9", "404"]}}}));
    ids.sort();
    assert_eq!(ids, ["3", "9"]);
    assert!(f.ids(json!({"query": {"term": {"nope": "x"}}})).is_empty(), "an unmapped field matches nothing");
}

#[test]
fn a_filter_that_only_excludes_keeps_the_bool_semantics() {
    let f = Fixture::new();
    let sorted = |body: Value| {
        let mut ids = f.ids(body);
        ids.sort();
        ids
    };
    let not_drama = json!({"bool": {"must_not": {"term": {"genres": "Drama"}}}});
    let matrix = json!({"match": {"title": "matrix"}});
    // With a must: the must's matches, less the excluded, scored alike.
    let with = f.search(json!({"query": {"bool": {"must": matrix, "filter": not_drama}}}));
    let without = f.search(json!({"query": {"bool": {"must": matrix}}}));
    assert_eq!(with["hits"]["hits"], without["hits"]["hits"], "no drama among the matrix films");
    assert_eq!(
        sorted(json!({"query": {"bool": {"must": {"match": {"title": "the"}}, "filter": not_drama}}})),
        ["4", "8"]
    );
    // A filter makes `should` optional: everything not excluded matches,
    // the should clauses only score; minimum_should_match brings them back.
    let everything = ["4", "8", "9"];
    assert_eq!(sorted(json!({"query": {"bool": {"should": matrix, "filter": not_drama}}})), everything);
    assert_eq!(f.ids(json!({"query": {"bool": {"should": matrix, "filter": not_drama}}}))[2], "8", "unscored last");
    let needed = json!({"query": {"bool": {"should": matrix, "filter": not_drama, "minimum_should_match": 1}}});
    assert_eq!(sorted(needed), ["4", "9"]);
    assert_eq!(sorted(json!({"query": {"bool": {"filter": [not_drama]}}})), everything);
    // A filter adds nothing to the score, lifted or not.
    let score = |body: Value| f.search(body)["hits"]["hits"][0]["_score"].as_f64().unwrap();
    assert_eq!(score(json!({"query": {"bool": {"filter": [not_drama]}}})), 0.0);
    let selecting = json!({"exists": {"field": "year"}});
    assert_eq!(
        score(json!({"query": {"bool": {"should": matrix, "filter": not_drama}}})),
        score(json!({"query": {"bool": {"should": matrix, "filter": selecting}}})),
    );
    let unmatched =
        json!({"query": {"bool": {"should": matrix, "filter": not_drama}}, "sort": ["_score", {"year": "asc"}]});
    assert_eq!(f.search(unmatched)["hits"]["hits"][2]["_score"].as_f64(), Some(0.0));
    // Beside a filter that selects, and with its parent's own must_not.
    let both = json!({"query": {"bool": {"filter": [not_drama, {"range": {"year": {"gte": 2000}}}],
                                         "must_not": {"term": {"genres": "Adventure"}}}}});
    assert_eq!(sorted(both), ["9"]);
}

#[test]
fn compound_queries_and_popularity() {
    let f = Fixture::new();
    let q = json!({"query": {"bool": {
        "must": {"match": {"title": "the heat"}},
        "filter": [{"term": {"genres": "Crime"}}],
        "must_not": {"range": {"year": {"lt": 1980}}},
        "should": {"match": {"title": "heat"}}
    }}});
    assert_eq!(f.ids(q)[0], "7");
    let popular = json!({"query": {"function_score": {
        "query": {"match": {"title": "godfather"}},
        "field_value_factor": {"field": "votes", "modifier": "log1p"},
        "boost_mode": "multiply"
    }}});
    assert_eq!(f.ids(popular), ["1", "2", "3"]);
    let best = f.ids(json!({"query": {"multi_match": {"query": "matrix", "fields": ["title^3", "genres"]}}}));
    assert_eq!(best[0], "4");
    assert_eq!(
        f.ids(json!({"query": {"constant_score": {"filter": {"term": {"genres": "Adventure"}}, "boost": 2}}})),
        ["8"]
    );
    let scores =
        f.search(json!({"query": {"constant_score": {"filter": {"term": {"genres": "Adventure"}}, "boost": 2}}}));
    assert_eq!(scores["hits"]["hits"][0]["_score"], 2.0);
    assert_eq!(
        f.ids(json!({"query": {"dis_max": {"queries": [{"term": {"year": 1995}}, {"term": {"year": 2003}}]}}})).len(),
        2
    );
}

#[test]
fn query_string_syntax() {
    let f = Fixture::new();
    let qs = |q: &str| f.ids(json!({"query": {"query_string": {"query": q}}}));
    assert_eq!(qs("title:\"part ii\""), ["2"]);
    assert_eq!(qs("godfather AND -title:part"), ["1"]);
    assert_eq!(qs("year:[1994 TO 1995] AND genres:Action").len(), 2);
    assert_eq!(qs("year:>2000").len(), 2);
    let mut or = qs("heat OR reloaded");
    or.sort();
    assert_eq!(or, ["7", "9"]);
    assert!(f.error(json!({"query": {"query_string": {"query": "(unbalanced"}}})).reason.contains("Failed to parse"));
    assert_eq!(f.ids(json!({"query": {"simple_query_string": {"query": "(unbalanced heat"}}})), ["7"]);
}

#[test]
fn sorting_paging_and_search_after() {
    let f = Fixture::new();
    let by_year = f.search(json!({"sort": [{"year": "desc"}, {"title.keyword": "asc"}], "size": 3}));
    let hits = by_year["hits"]["hits"].as_array().unwrap();
    assert_eq!(hits[0]["_id"], "9");
    assert_eq!(hits[0]["sort"], json!([2003, "matrix reloaded"]));
    assert_eq!(hits[0]["_score"], Value::Null);
    assert_eq!(by_year["hits"]["total"]["value"], 9);
    let missing_first =
        f.ids(json!({"sort": [{"released": {"order": "asc", "missing": "_first"}}, {"year": "asc"}], "size": 1}));
    assert_eq!(missing_first, ["3"]);
    // search_after walks every document once.
    let mut seen = Vec::new();
    let mut after: Option<Value> = None;
    loop {
        let mut body = json!({"sort": [{"votes": "desc"}, {"title.keyword": "asc"}], "size": 2});
        if let Some(a) = &after {
            body["search_after"] = a.clone();
        }
        let page = f.search(body);
        let hits = page["hits"]["hits"].as_array().unwrap().clone();
        if hits.is_empty() {
            break;
        }
        after = Some(hits.last().unwrap()["sort"].clone());
        seen.extend(hits.iter().map(|h| h["_id"].as_str().unwrap().to_owned()));
    }
    assert_eq!(seen, ["6", "4", "8", "1", "2", "5", "7", "9", "3"]);
    let paged = f.ids(json!({"sort": [{"votes": "desc"}], "from": 2, "size": 2}));
    assert_eq!(paged, ["8", "1"]);
    assert!(f.error(json!({"sort": [{"title": "asc"}]})).reason.contains("Text fields are not optimised"));
    assert_eq!(f.error(json!({"from": 9995, "size": 10})).es_type(), "illegal_argument_exception");
}

#[test]
fn aggregations_and_post_filter() {
    let f = Fixture::new();
    let r = f.search(json!({
        "size": 0,
        "post_filter": {"term": {"genres": "Action"}},
        "aggs": {
            "genres": {"terms": {"field": "genres", "size": 2}, "aggs": {"votes": {"sum": {"field": "votes"}}}},
            "decades": {"histogram": {"field": "year", "interval": 10, "min_doc_count": 1}},
            "ratings": {"range": {"field": "votes", "ranges": [{"to": 1_000_000}, {"from": 1_000_000}]}},
            "split": {"filters": {"filters": {"old": {"range": {"year": {"lt": 1990}}}, "new": {"range": {"year": {"gte": 1990}}}}}},
            "no_genre": {"missing": {"field": "genres"}},
            "by_release": {"date_histogram": {"field": "released", "calendar_interval": "day", "min_doc_count": 1}},
            "stats": {"stats": {"field": "year"}},
            "distinct": {"cardinality": {"field": "genres"}}
        }
    }));
    assert_eq!(r["hits"]["total"]["value"], 3, "post_filter limits hits");
    let aggs = &r["aggregations"];
    assert_eq!(aggs["genres"]["buckets"][0]["key"], "Drama", "aggregations ignore post_filter");
    assert_eq!(aggs["genres"]["buckets"][0]["doc_count"], 6);
    assert_eq!(aggs["genres"]["buckets"].as_array().unwrap().len(), 2);
    assert_eq!(aggs["genres"]["buckets"][1]["votes"]["value"], 5_650_000.0);
    assert_eq!(aggs["decades"]["buckets"].as_array().unwrap().len(), 3);
    assert_eq!(aggs["ratings"]["buckets"][0]["doc_count"], 3);
    assert_eq!(aggs["split"]["buckets"]["old"]["doc_count"], 2);
    assert_eq!(aggs["split"]["buckets"]["new"]["doc_count"], 7);
    assert_eq!(aggs["no_genre"]["doc_count"], 1);
    assert_eq!(aggs["by_release"]["buckets"][0]["key_as_string"], "1972-03-24T00:00:00.000Z");
    assert_eq!(aggs["stats"]["min"], 1972.0);
    assert_eq!(aggs["distinct"]["value"], 5.0);
    let typed = SearchRequest::parse(
        &json!({"size": 0, "aggs": {"g": {"terms": {"field": "genres"}}}}),
        &HashMap::from([("typed_keys".into(), String::new())]),
    )
    .unwrap();
    assert!(search(&f.handles(), &typed).unwrap()["aggregations"]["sterms#g"].is_object());
    assert!(
        f.error(json!({"aggs": {"t": {"terms": {"field": "title"}}}})).reason.contains("Text fields are not optimised")
    );
}

#[test]
fn highlight_and_source_filtering() {
    let f = Fixture::new();
    let r = f.search(json!({
        "query": {"match": {"title": "godfather part ii"}},
        "_source": ["year"],
        "highlight": {"fields": {"title": {"number_of_fragments": 0}}}
    }));
    let hit = &r["hits"]["hits"][0];
    assert_eq!(hit["_source"], json!({"year": 1974}));
    assert_eq!(hit["highlight"]["title"][0], "The <em>Godfather</em>: <em>Part</em> <em>II</em>");
}

#[test]
fn bad_queries_name_what_is_wrong() {
    let f = Fixture::new();
    let e = f.error(json!({"query": {"matchh": {"title": "x"}}}));
    assert_eq!((e.es_type(), e.reason.as_str()), ("parsing_exception", "unknown query [matchh]"));
    let e = f.error(json!({"query": {"match": {"title": {"query": "x", "operater": "and"}}}}));
    assert_eq!(e.reason, "[match] query does not support [operater]");
    let e = f.error(json!({"query": {"term": {"year": "nineteen"}}}));
    assert_eq!(e.status().as_u16(), 400);
    let e = f.error(json!({"query": {"bool": {"must": {"match_all": {}}, "should": "x"}}}));
    assert_eq!(e.es_type(), "parsing_exception");
    let mut deep = json!({"match_all": {}});
    for _ in 0..100 {
        deep = json!({"bool": {"must": deep}});
    }
    assert!(f.error(json!({ "query": deep })).reason.contains("nested deeper"));
    let mut fine = json!({"term": {"genres": "Drama"}});
    for _ in 0..20 {
        fine = json!({"bool": {"filter": fine}});
    }
    assert_eq!(f.ids(json!({ "query": fine })).len(), 6);
    // A budget already spent: partial (here empty) results, flagged.
    let timed = f.search(json!({"timeout": "0ms", "sort": [{"year": "asc"}], "query": {"match_all": {}}}));
    assert_eq!(timed["timed_out"], true);
    assert!(timed["hits"]["hits"].as_array().unwrap().len() < 9);
    let untimed = f.search(json!({"timeout": "10s", "sort": [{"year": "asc"}], "query": {"match_all": {}}}));
    assert_eq!(untimed["timed_out"], false);
    assert_eq!(untimed["hits"]["hits"].as_array().unwrap().len(), 9);
}

#[test]
fn unrefreshed_writes_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let node = Node::open(dir.path()).unwrap();
        node.create("m", &json!({"settings": {"refresh_interval": "-1"}})).unwrap();
        let action = |id: &str, op| Action {
            op,
            index: "m".into(),
            id: Some(id.into()),
            routing: None,
            body: Ok(json!({"title": format!("doc {id}"), "n": 1}).as_object().unwrap().clone()),
            conditions: Default::default(),
            retry_on_conflict: 0,
            require_alias: false,
        };
        let items = crate::ops::execute(
            &node,
            vec![
                action("a", OpType::Index),
                action("b", OpType::Index),
                action("a", OpType::Delete),
                action("c", OpType::Create),
            ],
        );
        assert_eq!(items.iter().map(|i| i.status.as_u16()).collect::<Vec<_>>(), [201, 201, 200, 201]);
        assert_eq!(node.handle("m").unwrap().doc_count(), 0, "not refreshed");
        // Dropped without a refresh: only the translog has the writes.
    }
    let node = Node::open(dir.path()).unwrap();
    let handle = node.handle("m").unwrap();
    assert_eq!(handle.doc_count(), 2);
    assert!(handle.get("a", None).unwrap().is_none());
    let b = handle.get("b", None).unwrap().unwrap();
    assert_eq!((b.version, b.seq_no), (1, 1));
    assert_eq!(handle.meta().mappings["properties"]["n"]["type"], "long", "dynamic mapping persisted");
}

#[test]
fn a_source_clashing_with_the_mapping_it_grows_is_refused_alone() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::open(dir.path()).unwrap();
    node.create(
        "m",
        &json!({"mappings": {"dynamic": "strict", "properties": {"open": {"type": "object", "dynamic": true}}}}),
    )
    .unwrap();
    let action = |id: &str, source: Value| Action {
        op: OpType::Index,
        index: "m".into(),
        id: Some(id.into()),
        routing: None,
        body: Ok(source.as_object().unwrap().clone()),
        conditions: Default::default(),
        retry_on_conflict: 0,
        require_alias: false,
    };
    let items = crate::ops::execute(
        &node,
        vec![
            action("1", json!({"open": {"a": 1}})),
            action("2", json!({"open": {"a": {"b": 1}}})),
            action("3", json!({"closed": 1})),
            action("4", json!({"open": {"c": "x"}})),
        ],
    );
    let statuses: Vec<u16> = items.iter().map(|i| i.status.as_u16()).collect();
    assert_eq!(statuses, [201, 400, 400, 201]);
    assert!(items[1].body["error"]["reason"].as_str().unwrap().contains("[a]"), "{}", items[1].body);
    assert_eq!(items[2].body["error"]["type"], "strict_dynamic_mapping_exception");
    let mapping = node.handle("m").unwrap().meta().mappings.clone();
    assert_eq!(mapping["properties"]["open"]["properties"]["a"]["type"], "long");
    assert_eq!(mapping["properties"]["open"]["properties"]["c"]["type"], "text");
}
