//! Faults on a 3-broker Kafka cluster (KRaft, three replicas, two in sync),
//! each ending with every record counted: per topic the total and the
//! distinct keys (lost: a key missing; duplicated: a key twice), and the
//! documents in the search node, id by id.
//!
//! - A broker killed with SIGKILL in the middle of a 100k-title ingest,
//!   while the indexer consumes, and kept down until its leadership has
//!   moved and ingest went on without it: ingest exits 0, the topics hold
//!   every record once, the indexes every document once, and the broker
//!   restarts from its data and rejoins the in-sync replicas.
//! - An indexer killed with SIGKILL, without static membership, while a
//!   second one runs and work is left in its partitions: after the session
//!   timeout the survivor owns them, indexes what the dead one had not, and
//!   the indexes are exact.
//!
//! The two tests take turns (a lock): each runs three broker JVMs, a search
//! node and indexers, and on two cores they would slow each other into the
//! timeouts. Skips with a message when Kafka's jars are not installed,
//! unless `IMDB_REQUIRE_KAFKA=1` (set by scripts/test.sh).

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test, with its line")]

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use flate2::read::MultiGzDecoder;
use imdb_ingest::generate::{GenerateSettings, generate};
use imdb_ingest::inspect;
use imdb_integration_tests::bins::workspace_bin;
use imdb_integration_tests::exact::{check_exact, expected_indexes, topic_keys, totals};
use imdb_integration_tests::search_node::SearchNode;
use imdb_integration_tests::services::{Indexer, wait_for_counts};
use imdb_local_kafka::start_for_test;
use imdb_model::RawSource;
use imdb_model::topics::{PEOPLE, TITLES, all_topics};
use rdkafka::Message;

const WAIT: Duration = Duration::from_secs(600);

/// One test at a time: see the module docs.
static TURNS: Mutex<()> = Mutex::new(());

/// The data rows of an IMDb file as the generator wrote it.
fn file_rows(dir: &Path, source: RawSource) -> Vec<String> {
    let path = dir.join(format!("{}.tsv.gz", source.file_stem()));
    let mut text = String::new();
    MultiGzDecoder::new(std::fs::File::open(path).unwrap()).read_to_string(&mut text).unwrap();
    text.lines().skip(1).map(str::to_owned).collect()
}

/// Raw rows of a raw topic, by row id (the columns that identify a row).
fn raw_row_ids(brokers: &str, source: RawSource) -> HashMap<String, usize> {
    let mut ids = HashMap::new();
    inspect::read_topic(brokers, source.topic().name, WAIT, |m| {
        for line in std::str::from_utf8(m.payload().unwrap_or_default()).unwrap().lines() {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            let id: Vec<&str> = source.doc_id_columns().iter().map(|c| row[*c].as_str().unwrap()).collect();
            *ids.entry(id.join("-")).or_default() += 1;
        }
        true
    })
    .unwrap();
    ids
}

/// Waits until every partition of every data topic has all three copies in sync.
fn wait_all_in_sync(brokers: &str) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let topics = inspect::topics(brokers, None, Duration::from_secs(10)).unwrap_or_default();
        let lagging: Vec<String> = topics
            .iter()
            .filter(|t| all_topics().iter().any(|m| m.name == t.name))
            .flat_map(|t| {
                t.partitions.iter().filter(|p| p.isr.len() < 3).map(move |p| format!("{}/{}", t.name, p.partition))
            })
            .collect();
        if !topics.is_empty() && lagging.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "partitions never back to 3 in-sync copies: {lagging:?}");
        thread::sleep(Duration::from_millis(500));
    }
}

fn messages(brokers: &str, topic: &str) -> i64 {
    inspect::topics(brokers, Some(topic), Duration::from_secs(10))
        .ok()
        .and_then(|t| t.into_iter().next())
        .map_or(0, |t| t.messages())
}

#[test]
fn a_broker_killed_mid_ingest_loses_and_duplicates_nothing() {
    let _turn = TURNS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(mut cluster) = start_for_test(3) else { return };
    let brokers = cluster.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    generate(&GenerateSettings { titles: 100_000, seed: 21, out: dir.path().to_path_buf() }).unwrap();
    let node = SearchNode::start().unwrap();
    let indexer = Indexer::start(&brokers, &node.url(), "faults", &[]);

    // Ingest as the user runs it, a process whose exit status counts.
    let mut ingest = Command::new(workspace_bin("imdb-ingest"))
        .args(["load", "--quiet", "--input"])
        .arg(dir.path())
        .args(["--brokers", &brokers])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Kill broker 2 once title documents flow (pass B of the join).
    let deadline = Instant::now() + WAIT;
    while messages(&brokers, TITLES.name) < 10_000 {
        assert!(ingest.try_wait().unwrap().is_none(), "ingest ended before the broker was killed");
        assert!(Instant::now() < deadline, "no title documents arrived");
        thread::sleep(Duration::from_millis(200));
    }
    cluster.kill(2).unwrap();
    // It stays down until the controller has fenced it and moved its
    // leadership (its session expires), and ingest went on without it.
    let at_kill = messages(&brokers, TITLES.name);
    loop {
        let titles = inspect::topics(&brokers, Some(TITLES.name), Duration::from_secs(10)).unwrap_or_default();
        let moved = titles.first().is_some_and(|t| t.partitions.iter().all(|p| p.leader != 2 && p.leader >= 0));
        let progressed = messages(&brokers, TITLES.name) >= at_kill + 5_000 || ingest.try_wait().unwrap().is_some();
        if moved && progressed {
            break;
        }
        assert!(Instant::now() < deadline, "leadership never left the dead broker, or ingest stalled");
        thread::sleep(Duration::from_millis(200));
    }
    cluster.restart(2).unwrap();
    let status = ingest.wait().unwrap();
    assert!(status.success(), "ingest exits 0 through a broker crash: {status}");
    wait_all_in_sync(&brokers);

    // Every record once in the topics...
    let basics = file_rows(dir.path(), RawSource::TitleBasics);
    let names = file_rows(dir.path(), RawSource::NameBasics);
    for (topic, expected) in [(TITLES.name, basics.len()), (PEOPLE.name, names.len())] {
        let keys = topic_keys(&brokers, topic);
        assert_eq!(keys.len(), expected, "{topic}: distinct keys (a lost record is a missing key)");
        assert_eq!(keys.values().sum::<usize>(), expected, "{topic}: messages (a duplicate is a key twice)");
    }
    for source in [RawSource::TitlePrincipals, RawSource::TitleAkas, RawSource::NameBasics] {
        let rows = raw_row_ids(&brokers, source);
        let expected = file_rows(dir.path(), source).len();
        assert_eq!(rows.len(), expected, "{source:?}: distinct raw rows");
        assert_eq!(rows.values().sum::<usize>(), expected, "{source:?}: raw rows in all");
    }
    // ...and every document once in the indexes.
    let expected = expected_indexes(&brokers);
    let (titles, people) = totals(&expected);
    assert_eq!((titles, people), (basics.len() as u64, names.len() as u64));
    wait_for_counts(&node.url(), titles, people, WAIT);
    check_exact(&node.url(), &expected);
    indexer.stop();
}

#[test]
fn a_killed_indexer_s_partitions_move_to_the_survivor() {
    let _turn = TURNS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(cluster) = start_for_test(3) else { return };
    let brokers = cluster.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    // Enough work that a member still has 1,000 documents to go once both
    // have indexed 500, even when a loaded CI machine lets one start late
    // (20k titles were not, once, in CI).
    generate(&GenerateSettings { titles: 50_000, seed: 22, out: dir.path().to_path_buf() }).unwrap();
    let status = Command::new(workspace_bin("imdb-ingest"))
        .args(["load", "--quiet", "--no-raw", "--input"])
        .arg(dir.path())
        .args(["--brokers", &brokers])
        .env("RUST_LOG", "warn")
        .status()
        .unwrap();
    assert!(status.success());
    let expected = expected_indexes(&brokers);
    let (titles, people) = totals(&expected);
    let node = SearchNode::start().unwrap();

    // Two members of one group, no static membership (no instance id), small
    // batches so that the work outlasts the kill.
    let slow = [("IMDB_INDEXER_BATCH_DOCS", "100"), ("IMDB_INDEXER_WORKERS", "1")];
    let doomed = Indexer::start(&brokers, &node.url(), "handover", &slow);
    let survivor = Indexer::start(&brokers, &node.url(), "handover", &slow);
    let indexed = |i: &Indexer| i.metric("imdb_indexer_docs_indexed_total").unwrap_or(0.0);
    // Killed once both work and the doomed one still has documents to go in
    // its partitions (its consumer lag, from librdkafka's statistics every 5 s).
    let deadline = Instant::now() + WAIT;
    let mut doomed_lag = 0.0;
    while indexed(&doomed) < 500.0 || indexed(&survivor) < 500.0 || doomed_lag < 1_000.0 {
        assert!(
            Instant::now() < deadline,
            "both members never worked with work left: use more titles (indexed {} and {}, doomed lag {doomed_lag})",
            indexed(&doomed),
            indexed(&survivor)
        );
        thread::sleep(Duration::from_millis(100));
        doomed_lag = doomed.metric("imdb_indexer_consumer_lag").unwrap_or(0.0);
    }
    let doomed_indexed = indexed(&doomed);
    doomed.kill9();
    // The group coordinator expires the dead member after the session
    // timeout (10 s) and hands its partitions to the survivor.
    wait_for_counts(&node.url(), titles, people, WAIT);
    check_exact(&node.url(), &expected);
    let total = (titles + people) as f64;
    assert!(
        indexed(&survivor) + doomed_indexed >= total,
        "the survivor indexed all the dead member had not ({} + {doomed_indexed} of {total})",
        indexed(&survivor)
    );
    survivor.stop();
    drop(cluster);
}
