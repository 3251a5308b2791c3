//! What the project relies on from Kafka, checked against the local broker
//! (Tansu): keyed partitioning, consumer groups with committed offsets that
//! survive a consumer restart, a rebalance that splits partitions between
//! two members, and what happens to a replication factor above 1. The
//! findings are written up in docs/local-kafka.md.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use imdb_local_broker::start_for_test;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};

fn create(brokers: &str, topic: &str, partitions: i32, replication: i32) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", brokers).create().unwrap();
    let new = [NewTopic::new(topic, partitions, TopicReplication::Fixed(replication))];
    let results =
        futures_executor::block_on(admin.create_topics(&new, &AdminOptions::new())).map_err(|e| e.to_string())?;
    results.into_iter().next().unwrap().map(drop).map_err(|(_, code)| code.to_string())
}

fn consumer(brokers: &str, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .create()
        .unwrap()
}

/// Polls until `n` messages arrived or the deadline passed.
fn poll_n(c: &BaseConsumer, n: usize, within: Duration) -> Vec<(i32, i64)> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    while got.len() < n && Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            got.push((m.partition(), m.offset()));
        }
    }
    got
}

#[test]
fn consumer_groups_commits_and_rebalances_work() {
    let Some(broker) = start_for_test() else { return };
    let brokers = broker.bootstrap_servers();
    create(&brokers, "probe", 6, 1).unwrap();
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("enable.idempotence", "true")
        .set("partitioner", "murmur2_random")
        .create()
        .unwrap();
    for i in 0..600 {
        let key = format!("tt{i:07}");
        producer.send(BaseRecord::<_, _>::to("probe").key(&key).payload("x")).unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();

    // One member reads 300 and commits; a new member of the group resumes
    // after the committed offsets: nothing read twice, nothing skipped.
    let first = consumer(&brokers, "g1");
    first.subscribe(&["probe"]).unwrap();
    let read = poll_n(&first, 300, Duration::from_secs(60));
    assert_eq!(read.len(), 300);
    first.commit_consumer_state(CommitMode::Sync).unwrap();
    drop(first);
    let second = consumer(&brokers, "g1");
    second.subscribe(&["probe"]).unwrap();
    let rest = poll_n(&second, 300, Duration::from_secs(60));
    let all: HashSet<(i32, i64)> = read.iter().chain(&rest).copied().collect();
    assert_eq!(all.len(), 600, "resumed from the committed offsets");
    let mut committed = TopicPartitionList::new();
    for p in 0..6 {
        committed.add_partition("probe", p);
    }
    second.commit_consumer_state(CommitMode::Sync).unwrap();
    let offsets = second.committed_offsets(committed, Duration::from_secs(10)).unwrap();
    let total: i64 = offsets
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => o,
            _ => 0,
        })
        .sum();
    assert_eq!(total, 600);
    drop(second);

    // Two members at once split the partitions between them.
    let (a, b) = (consumer(&brokers, "g2"), consumer(&brokers, "g2"));
    a.subscribe(&["probe"]).unwrap();
    b.subscribe(&["probe"]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut pa, mut pb) = (HashSet::new(), HashSet::new());
    while Instant::now() < deadline {
        let _ = a.poll(Duration::from_millis(50));
        let _ = b.poll(Duration::from_millis(50));
        pa = a.assignment().unwrap().elements().iter().map(|e| e.partition()).collect::<HashSet<_>>();
        pb = b.assignment().unwrap().elements().iter().map(|e| e.partition()).collect::<HashSet<_>>();
        if !pa.is_empty() && !pb.is_empty() && pa.len() + pb.len() == 6 {
            break;
        }
    }
    assert!(pa.is_disjoint(&pb) && pa.len() + pb.len() == 6 && !pa.is_empty() && !pb.is_empty(), "{pa:?} {pb:?}");
}

#[test]
fn replication_factor_above_one_on_a_single_start_for_test() {
    let Some(broker) = start_for_test() else { return };
    // Apache Kafka refuses a replication factor above the broker count
    // (INVALID_REPLICATION_FACTOR). Record what the local broker does, so
    // docs/local-kafka.md stays true.
    let outcome = create(&broker.bootstrap_servers(), "replicated", 3, 3);
    eprintln!("replication factor 3 on one Tansu broker: {outcome:?}");
    assert!(outcome.is_ok(), "Tansu accepts any replication factor (storage is its durability): {outcome:?}");
}
