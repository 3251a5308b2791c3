//! The indexer as a real process between a real Kafka broker and a real
//! search node: a generated dataset ingested into Kafka ends up indexed
//! exactly (the alias holds each distinct title once, each genre index
//! exactly its titles), through indexer crashes (kill -9), an engine outage,
//! a rebalance between two indexers, a rebalance while an indexer is paused,
//! and poison documents that end in the dead-letter topic.
//!
//! Skips with a message when Kafka's jars are not installed, unless
//! `IMDB_REQUIRE_KAFKA=1` (set by scripts/test.sh). One broker: replication
//! is not what these tests are about (tests/kafka_faults.rs is).

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test, with its line")]

use std::collections::{BTreeMap, HashSet};
use std::thread;
use std::time::{Duration, Instant};

use imdb_ingest::generate::{GenerateSettings, generate};
use imdb_ingest::inspect;
use imdb_ingest::kafka::ensure_topics;
use imdb_integration_tests::engine::TestEngine;
use imdb_integration_tests::exact::{self, Expected, expected_indexes, totals};
use imdb_integration_tests::kafka_load::{load_into_kafka, test_config};
use imdb_integration_tests::services::{Indexer, index_count, wait_for_counts};
use imdb_local_kafka::{Cluster, start_for_test};
use imdb_model::RawSource;
use imdb_model::index::IndexNames;
use imdb_model::topics::{INDEXER_DEAD_LETTER, TITLES, all_topics};
use rdkafka::Message;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(240);

/// An indexer of `group` between this test's broker and node.
fn start_indexer(broker: &Cluster, node: &TestEngine, group: &str, extra: &[(&str, &str)]) -> Indexer {
    Indexer::start(&broker.bootstrap_servers(), &node.urls(), group, extra)
}

/// Generates `titles` titles and loads them into the broker's topics.
fn load_dataset(broker: &Cluster, titles: u64, seed: u64) {
    load_with_raw(broker, titles, seed, false);
}

/// The same, with the raw topics published too when `raw`.
fn load_with_raw(broker: &Cluster, titles: u64, seed: u64, raw: bool) {
    let dir = tempfile::tempdir().unwrap();
    generate(&GenerateSettings { titles, seed, out: dir.path().to_path_buf() }).unwrap();
    // Raw topics only for the raw route's test: the rest is shorter without.
    load_into_kafka(broker.bootstrap_servers(), &test_config(dir.path(), raw));
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

fn count(node: &TestEngine, target: &str) -> Option<u64> {
    index_count(&node.url(), target)
}

fn wait_for(node: &TestEngine, titles: u64, people: u64) {
    wait_for_counts(&node.url(), titles, people, WAIT);
}

fn check_exact(node: &TestEngine, expected: &Expected) {
    exact::check_exact(&node.url(), expected);
}

fn setup(titles: u64, seed: u64) -> Option<(Cluster, TestEngine, Expected)> {
    let broker = start_for_test(1)?;
    let node = TestEngine::start()?;
    load_dataset(&broker, titles, seed);
    let expected = expected_indexes(&broker.bootstrap_servers());
    Some((broker, node, expected))
}

#[test]
fn generated_titles_are_indexed_exactly_and_searchable() {
    let Some((broker, node, expected)) = setup(50_000, 11) else { return };
    let (titles, people) = totals(&expected);
    // The first URL is a node that is not there: every request goes on to
    // the next one.
    let dead = format!("http://127.0.0.1:{}", imdb_local_kafka::free_port().unwrap());
    let urls = format!("{dead},{}", node.urls());
    let indexer = Indexer::start(&broker.bootstrap_servers(), &urls, "e2e", &[]);
    wait_for(&node, titles, people);
    check_exact(&node, &expected);
    // Searching works through the alias, with the template's analyzers.
    let any = expected.iter().find(|(k, _)| k.starts_with("imdb-titles-")).unwrap().1.iter().next().unwrap().clone();
    let doc: Value =
        http().get(format!("{}/imdb-titles/_search?q=tconst:{any}", node.url())).send().unwrap().json().unwrap();
    let title = doc["hits"]["hits"][0]["_source"]["primary_title"].as_str().unwrap().to_owned();
    let found: Value = http()
        .post(format!("{}/imdb-titles/_search", node.url()))
        // The id filter: many generated titles share a name ("Episode #2.2").
        .json(&json!({"query": {"bool": {"must": {"match_phrase": {"primary_title": title}}, "filter": {"term": {"tconst": any}}}}}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(found["hits"]["hits"].as_array().unwrap().iter().any(|h| h["_id"] == any.as_str()), "{title}");
    indexer.stop();
}

#[test]
fn kill_9_and_an_engine_outage_lose_and_duplicate_nothing() {
    let Some((broker, mut node, expected)) = setup(20_000, 12) else { return };
    let (titles, people) = totals(&expected);
    // Small batches and one worker stretch the run over the crashes.
    // A restart keeps its static membership, so it takes the killed
    // process's partitions back at once (see docs/local-kafka.md).
    let slow =
        [("IMDB_INDEXER_BATCH_DOCS", "100"), ("IMDB_INDEXER_WORKERS", "1"), ("IMDB_INDEXER_INSTANCE_ID", "crash-1")];
    let indexed = |node: &TestEngine| count(node, "imdb-titles").unwrap_or(0) + count(node, "imdb-people").unwrap_or(0);
    for _ in 0..3 {
        // Killed in the middle: once it has indexed another 3,000 documents.
        let before = indexed(&node);
        let indexer = start_indexer(&broker, &node, "crash", &slow);
        let deadline = Instant::now() + WAIT;
        while indexed(&node) < before + 3_000 {
            assert!(Instant::now() < deadline, "the indexer made no progress");
            let _ = http().post(format!("{}/_refresh", node.url())).send();
            thread::sleep(Duration::from_millis(200));
        }
        indexer.kill9();
    }
    // The engine goes away for 20 s in the middle of a run.
    let indexer = start_indexer(&broker, &node, "crash", &slow);
    thread::sleep(Duration::from_secs(2));
    node.kill_all();
    thread::sleep(Duration::from_secs(20));
    node.restart_all();
    wait_for(&node, titles, people);
    check_exact(&node, &expected);
    indexer.stop();
}

#[test]
fn a_second_indexer_shares_the_work_and_the_first_can_leave() {
    let Some((broker, node, expected)) = setup(20_000, 13) else { return };
    let (titles, people) = totals(&expected);
    let slow = [("IMDB_INDEXER_BATCH_DOCS", "100"), ("IMDB_INDEXER_WORKERS", "1")];
    let first = start_indexer(&broker, &node, "rebalance", &slow);
    thread::sleep(Duration::from_secs(2));
    let second = start_indexer(&broker, &node, "rebalance", &slow);
    thread::sleep(Duration::from_secs(3));
    first.stop();
    wait_for(&node, titles, people);
    check_exact(&node, &expected);
    second.stop();
}

/// A rebalance while an indexer is paused (its queue full of documents a
/// hung engine does not take): it gives its partitions up at once, and the
/// new assignment arrives only when the slowest member has given up its
/// own (here after its 20 s drain timeout). librdkafka hands partitions
/// back still paused; the indexer must resume them, or they stay unread
/// for good while the engine is fine again.
#[test]
fn a_rebalance_while_paused_resumes_the_new_assignment() {
    let Some((broker, mut node, expected)) = setup(20_000, 15) else { return };
    let (titles, people) = totals(&expected);
    let slow = [("IMDB_INDEXER_BATCH_DOCS", "100"), ("IMDB_INDEXER_WORKERS", "1")];
    let quick = [slow[0], slow[1], ("IMDB_INDEXER_REQUEST_TIMEOUT", "1s"), ("IMDB_INDEXER_BACKOFF_MAX", "1s")];
    let first = start_indexer(&broker, &node, "paused", &quick);
    let second = start_indexer(&broker, &node, "paused", &slow);
    thread::sleep(Duration::from_secs(3));
    let pids: Vec<String> = node.pids().iter().map(u32::to_string).collect();
    let signal = |name: &str| {
        assert!(std::process::Command::new("kill").arg(name).args(&pids).status().unwrap().success());
    };
    signal("-STOP");
    thread::sleep(Duration::from_secs(3));
    let third = start_indexer(&broker, &node, "paused", &slow);
    thread::sleep(Duration::from_secs(30));
    signal("-CONT");
    wait_for(&node, titles, people);
    check_exact(&node, &expected);
    for indexer in [first, second, third] {
        indexer.stop();
    }
}

#[test]
fn the_raw_route_indexes_every_raw_row_once() {
    let Some(broker) = start_for_test(1) else { return };
    let Some(node) = TestEngine::start() else { return };
    load_with_raw(&broker, 1_000, 15, true);
    let names = IndexNames::default();
    // Expected: per raw index, the distinct row keys read from the topics.
    let mut expected: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    for source in RawSource::ALL.into_iter().filter(|s| *s != RawSource::Json) {
        inspect::read_topic(&broker.bootstrap_servers(), source.topic().name, Duration::from_secs(120), |m| {
            for line in std::str::from_utf8(m.payload().unwrap_or_default()).unwrap().lines() {
                let row: Value = serde_json::from_str(line).unwrap();
                let id: Vec<&str> = source.doc_id_columns().iter().map(|c| row[*c].as_str().unwrap()).collect();
                expected.entry(names.raw_index(source)).or_default().insert(id.join("-"));
            }
            true
        })
        .unwrap();
    }
    let indexer = start_indexer(&broker, &node, "raw", &[("IMDB_INDEXER_RAW", "true")]);
    let deadline = Instant::now() + WAIT;
    loop {
        let _ = http().post(format!("{}/_refresh", node.url())).send();
        let done = expected.iter().all(|(index, ids)| count(&node, index) == Some(ids.len() as u64));
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "raw indexes never reached their row counts");
        thread::sleep(Duration::from_millis(500));
    }
    let principal: Value =
        http().get(format!("{}/imdb-raw-title-principals/_search?size=1", node.url())).send().unwrap().json().unwrap();
    let hit = &principal["hits"]["hits"][0];
    let id = format!("{}-{}", hit["_source"]["tconst"].as_str().unwrap(), hit["_source"]["ordering"].as_str().unwrap());
    assert_eq!(hit["_id"], id.as_str(), "raw ids are the row keys, as Logstash's");
    indexer.stop();
}

#[test]
fn a_title_whose_genre_changes_moves_to_its_new_index() {
    let Some(broker) = start_for_test(1) else { return };
    let Some(node) = TestEngine::start() else { return };
    ensure_topics(&broker.bootstrap_servers(), &all_topics(), None, Duration::from_secs(30)).unwrap();
    let producer: BaseProducer =
        ClientConfig::new().set("bootstrap.servers", broker.bootstrap_servers()).create().unwrap();
    let send = |genre: &str| {
        let doc = json!({"tconst": "tt0000042", "primary_title": "Shifting", "genres": [genre]}).to_string();
        producer.send(BaseRecord::to(TITLES.name).key("tt0000042").payload(&doc)).unwrap();
        producer.flush(Duration::from_secs(30)).unwrap();
    };
    let indexer = start_indexer(&broker, &node, "moves", &[]);
    send("drama");
    let wait_in = |index: &str| {
        let deadline = Instant::now() + WAIT;
        while count(&node, index) != Some(1) {
            assert!(Instant::now() < deadline, "the title never reached {index}");
            let _ = http().post(format!("{}/_refresh", node.url())).send();
            thread::sleep(Duration::from_millis(200));
        }
    };
    wait_in("imdb-titles-drama");
    send("comedy");
    wait_in("imdb-titles-comedy");
    let _ = http().post(format!("{}/_refresh", node.url())).send();
    assert_eq!(count(&node, "imdb-titles-drama"), Some(0), "the old copy is gone");
    assert_eq!(count(&node, "imdb-titles"), Some(1), "the alias holds the title once");
    indexer.stop();
}

#[test]
fn poison_documents_go_to_the_dead_letter_topic_and_the_rest_is_indexed() {
    let Some((broker, node, expected)) = setup(2_000, 14) else { return };
    let (titles, people) = totals(&expected);
    let producer: BaseProducer =
        ClientConfig::new().set("bootstrap.servers", broker.bootstrap_servers()).create().unwrap();
    let poison = [
        (
            "tt9000001",
            r#"{"tconst":"tt9000001","primary_title":"Bad year","start_year":"nineteen-ninety","genres":["drama"]}"#,
        ),
        (
            "tt9000002",
            r#"{"tconst":"tt9000002","primary_title":"Bad votes","num_votes":{"many":true},"genres":["comedy"]}"#,
        ),
        ("tt9000003", "this is not json"),
    ];
    for (key, payload) in poison {
        producer.send(BaseRecord::to(TITLES.name).key(key).payload(payload)).unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
    let indexer = start_indexer(&broker, &node, "poison", &[]);
    wait_for(&node, titles, people);
    check_exact(&node, &expected);
    // Every poison message is in the dead-letter topic with its reason.
    let deadline = Instant::now() + Duration::from_secs(60);
    let letters = loop {
        let mut letters: Vec<Value> = Vec::new();
        let _ =
            inspect::read_topic(&broker.bootstrap_servers(), INDEXER_DEAD_LETTER.name, Duration::from_secs(10), |m| {
                letters.push(serde_json::from_slice(m.payload().unwrap_or_default()).unwrap());
                true
            });
        if letters.len() >= 3 || Instant::now() > deadline {
            break letters;
        }
        thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(letters.len(), 3, "{letters:?}");
    let reason = |needle: &str| {
        letters.iter().find(|l| l["record"].as_str().unwrap().contains(needle)).unwrap()["reason"].clone()
    };
    assert!(reason("Bad year").as_str().unwrap().contains("start_year"), "{letters:?}");
    assert!(reason("Bad votes").as_str().unwrap().contains("num_votes"), "{letters:?}");
    assert!(reason("not json").as_str().unwrap().contains("not JSON"), "{letters:?}");
    assert!(letters.iter().all(|l| l["stage"] == "indexer" && l["kafka_offset"].is_i64()));
    indexer.stop();
}
