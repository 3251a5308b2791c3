//! "Every record exactly once", checked the same way by every test that
//! claims it: what the topics hold, read back from Kafka, against what the
//! indexes hold, read back from the engine.
//!
//! [`expected_indexes`] reads the enrichment topics and routes each document
//! as the indexer must (by first genre, people to one index); [`check_exact`]
//! pages through every expected index by its id field and fails on a
//! missing or extra id (or a page repeating one), then checks that the
//! title alias and the people index hold no more than that, so no document
//! sits in an index it does not belong to. [`topic_keys`] counts a topic's messages per key, so a
//! test can tell lost (a key missing) from duplicated (a key twice).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use imdb_ingest::inspect;
use imdb_model::index::IndexNames;
use imdb_model::topics::{PEOPLE, TITLES};
use rdkafka::Message;
use serde_json::{Value, json};

/// Per index, the ids it must hold.
pub type Expected = BTreeMap<String, HashSet<String>>;

const READ_TIMEOUT: Duration = Duration::from_secs(300);

/// What the indexes must hold, read from the enrichment topics.
pub fn expected_indexes(brokers: &str) -> Expected {
    let names = IndexNames::default();
    let mut out = Expected::new();
    for topic in [TITLES.name, PEOPLE.name] {
        inspect::read_topic(brokers, topic, READ_TIMEOUT, |m| {
            let doc: Value = serde_json::from_slice(m.payload().unwrap_or_default()).expect("documents are JSON");
            let (index, id) = if topic == TITLES.name {
                let genre = doc["genres"].as_array().and_then(|g| g.first()).and_then(Value::as_str);
                (names.title_index(genre), doc["tconst"].as_str().expect("a tconst").to_owned())
            } else {
                (names.people_index(), doc["nconst"].as_str().expect("an nconst").to_owned())
            };
            out.entry(index).or_default().insert(id);
            true
        })
        .expect("the enrichment topics can be read");
    }
    out
}

/// (titles, people) the indexes must hold in all.
pub fn totals(expected: &Expected) -> (u64, u64) {
    let people = expected.get("imdb-people").map_or(0, |s| s.len() as u64);
    let titles = expected.iter().filter(|(k, _)| k.starts_with("imdb-titles-")).map(|(_, s)| s.len() as u64).sum();
    (titles, people)
}

/// Messages per key of `topic`.
pub fn topic_keys(brokers: &str, topic: &str) -> HashMap<String, usize> {
    let mut keys = HashMap::new();
    inspect::read_topic(brokers, topic, READ_TIMEOUT, |m| {
        let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
        *keys.entry(key).or_default() += 1;
        true
    })
    .expect("the topic can be read");
    keys
}

/// Asserts that every index of `expected` holds exactly its ids, each once.
pub fn check_exact(es_url: &str, expected: &Expected) {
    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().expect("a client");
    let _ = http.post(format!("{es_url}/_refresh")).send();
    for (index, ids) in expected {
        let mut found = HashSet::new();
        let mut after: Option<Value> = None;
        // Elasticsearch 8 does not sort on `_id`: the id is also a keyword field.
        let key = if index.ends_with("-people") { "nconst" } else { "tconst" };
        loop {
            let mut body = json!({"size": 5000, "_source": false, "sort": [{key: "asc"}]});
            if let Some(a) = &after {
                body["search_after"] = a.clone();
            }
            let page: Value = http
                .post(format!("{es_url}/{index}/_search"))
                .json(&body)
                .send()
                .and_then(reqwest::blocking::Response::json)
                .unwrap_or_else(|e| panic!("{index}: search failed: {e}"));
            let hits = page["hits"]["hits"].as_array().cloned().unwrap_or_default();
            if hits.is_empty() {
                break;
            }
            after = Some(hits.last().expect("not empty")["sort"].clone());
            for hit in hits {
                let id = hit["_id"].as_str().expect("hits have ids").to_owned();
                assert!(found.insert(id.clone()), "{index}: {id} twice");
            }
        }
        assert_eq!(found.len(), ids.len(), "{index}: document count");
        assert!(&found == ids, "{index}: not exactly its documents");
    }
    let (titles, people) = totals(expected);
    for (target, want) in [("imdb-titles", titles), ("imdb-people", people)] {
        let got = crate::services::index_count(es_url, target);
        assert_eq!(got, Some(want), "{target}: documents outside the expected indexes");
    }
}
