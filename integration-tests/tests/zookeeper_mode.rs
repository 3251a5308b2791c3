//! The legacy path: ingest and the indexer through Kafka 3.9 in ZooKeeper
//! mode (a ZooKeeper 3.9 node and a broker on it, `imdb-local-kafka start
//! --zookeeper`), exactly as through KRaft: every record once in the topics,
//! every document once in the indexes.
//!
//! Skips with a message when the jars are not installed, unless
//! `IMDB_REQUIRE_KAFKA=1` (set by scripts/test.sh).

use std::time::Duration;

use imdb_ingest::generate::{GenerateSettings, generate};
use imdb_ingest::{LoadSettings, inspect};
use imdb_integration_tests::exact::{check_exact, expected_indexes, topic_keys, totals};
use imdb_integration_tests::kafka_load::{load_into_kafka, test_config};
use imdb_integration_tests::search_node::SearchNode;
use imdb_integration_tests::services::{Indexer, wait_for_counts};
use imdb_local_kafka::{ClusterSettings, Mode, start_config_for_test};
use imdb_model::topics::{PEOPLE, TITLES};

#[test]
fn ingest_and_the_indexer_run_exactly_on_zookeeper_mode() {
    let Some(mut cluster) = start_config_for_test(ClusterSettings::zookeeper(1)) else { return };
    assert_eq!(cluster.mode(), Mode::ZooKeeper);
    assert!(cluster.zookeeper_pid().is_some(), "a ZooKeeper node runs");
    let brokers = cluster.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    generate(&GenerateSettings { titles: 5_000, seed: 31, out: dir.path().to_path_buf() }).unwrap();
    let config = LoadSettings { chunk_bytes: 64 * 1024, ..test_config(dir.path(), true) };
    let summary = load_into_kafka(brokers.clone(), &config);
    assert_eq!(summary.records_rejected, 0);
    assert_eq!(summary.titles_published, 5_000);

    for (topic, published) in [(TITLES.name, summary.titles_published), (PEOPLE.name, summary.people_published)] {
        let keys = topic_keys(&brokers, topic);
        assert_eq!(keys.len() as u64, published, "{topic}: distinct keys");
        assert!(keys.values().all(|n| *n == 1), "{topic}: a key twice");
    }
    let raw: i64 = inspect::topics(&brokers, None, Duration::from_secs(10))
        .unwrap()
        .iter()
        .filter(|t| t.name.starts_with("imdb.raw."))
        .map(inspect::TopicInfo::messages)
        .sum();
    assert!(raw > 0, "raw batches are there");

    let node = SearchNode::start().unwrap();
    let indexer = Indexer::start(&brokers, &node.url(), "zookeeper-mode", &[]);
    let expected = expected_indexes(&brokers);
    let (titles, people) = totals(&expected);
    wait_for_counts(&node.url(), titles, people, Duration::from_secs(300));
    check_exact(&node.url(), &expected);
    indexer.stop();
}
