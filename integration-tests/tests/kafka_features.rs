//! What the project relies on from Kafka, checked against the local
//! cluster (Apache Kafka from Maven Central, `imdb-local-kafka`): consumer
//! groups with committed offsets that survive a consumer restart, a
//! rebalance that splits partitions between two members, replication that
//! needs the brokers to exist, writes going on with a broker down, and
//! `min.insync.replicas` refusing writes that would live on one broker
//! only. Written up in docs/local-kafka.md.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test, with its line")]

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use imdb_ingest::inspect::{self, TopicInfo};
use imdb_ingest::kafka::ensure_topics;
use imdb_local_kafka::start_for_test;
use imdb_model::topics::{Replication, TITLES};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{
    BaseRecord, DefaultProducerContext, DeliveryResult, Producer, ProducerContext, ThreadedProducer,
};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};

fn create(brokers: &str, topic: &str, partitions: i32, replication: i32) -> Result<(), RDKafkaErrorCode> {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", brokers).create().unwrap();
    let new = [NewTopic::new(topic, partitions, TopicReplication::Fixed(replication))];
    let results = futures_executor::block_on(admin.create_topics(&new, &AdminOptions::new())).unwrap();
    results.into_iter().next().unwrap().map(drop).map_err(|(_, code)| code)
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
    let Some(broker) = start_for_test(1) else { return };
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
        (pa, pb) = (assigned(&a), assigned(&b));
        if !pa.is_empty() && !pb.is_empty() && pa.len() + pb.len() == 6 {
            break;
        }
    }
    assert!(pa.is_disjoint(&pb) && pa.len() + pb.len() == 6 && !pa.is_empty() && !pb.is_empty(), "{pa:?} {pb:?}");
}

#[test]
fn a_single_broker_refuses_three_replicas() {
    let Some(broker) = start_for_test(1) else { return };
    let outcome = create(&broker.bootstrap_servers(), "replicated", 3, 3);
    assert_eq!(outcome, Err(RDKafkaErrorCode::InvalidReplicationFactor));
    // Ingest says which setting to change, as a user error.
    let three = Some(Replication::with_factor(3));
    let error = ensure_topics(&broker.bootstrap_servers(), &[TITLES], three, Duration::from_secs(30)).unwrap_err();
    assert!(error.is_user_error() && error.to_string().contains("--replication-factor"), "{error}");
    // By default the cluster's defaults: one copy on one broker.
    ensure_topics(&broker.bootstrap_servers(), &[TITLES], None, Duration::from_secs(30)).unwrap();
    let info = wait_isr(&broker.bootstrap_servers(), TITLES.name, 1);
    assert_eq!((info.replication_factor(), info.min_insync), (1, Some(1)));
}

/// Counts delivery reports, and keeps the failures' error codes.
#[derive(Default)]
struct Acks {
    ok: AtomicUsize,
    errors: Mutex<Vec<RDKafkaErrorCode>>,
}

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => self.errors.lock().unwrap().push(e.rdkafka_error_code().unwrap_or(RDKafkaErrorCode::Fail)),
        }
    }
}

/// Sends `n` messages keyed `{prefix}{i}` with `acks=all` and `settings`,
/// each given `timeout` to be acknowledged; returns how many were
/// acknowledged and the error codes of those that were not.
fn produce(
    brokers: &str,
    topic: &str,
    prefix: &str,
    n: usize,
    timeout: Duration,
    settings: &[(&str, &str)],
) -> (usize, Vec<RDKafkaErrorCode>) {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("acks", "all")
        .set("message.timeout.ms", timeout.as_millis().to_string());
    for (k, v) in settings {
        config.set(*k, *v);
    }
    let producer: ThreadedProducer<Acks> = config.create_with_context(Acks::default()).unwrap();
    for i in 0..n {
        let key = format!("{prefix}{i}");
        producer.send(BaseRecord::<_, _, ()>::with_opaque_to(topic, ()).key(&key).payload("x")).unwrap();
    }
    let _ = producer.flush(timeout + Duration::from_secs(30));
    let acks = producer.context();
    (acks.ok.load(Ordering::Relaxed), acks.errors.lock().unwrap().clone())
}

/// Waits until every partition of `topic` has `isr` in-sync copies.
fn wait_isr(brokers: &str, topic: &str, isr: usize) -> TopicInfo {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let info =
            inspect::topics(brokers, Some(topic), Duration::from_secs(10)).ok().and_then(|t| t.into_iter().next());
        if let Some(info) = info.filter(|t| !t.partitions.is_empty() && t.partitions.iter().all(|p| p.isr.len() == isr))
        {
            return info;
        }
        assert!(Instant::now() < deadline, "{topic} never had {isr} in-sync copies per partition");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn three_brokers_keep_every_acknowledged_write_on_two_of_them() {
    let Some(mut cluster) = start_for_test(3) else { return };
    let brokers = cluster.bootstrap_servers();
    ensure_topics(&brokers, &[TITLES], None, Duration::from_secs(30)).unwrap();
    let info = wait_isr(&brokers, TITLES.name, 3);
    assert_eq!((info.replication_factor(), info.min_insync), (3, Some(2)), "the launcher's defaults");
    let leaders: HashSet<i32> = info.partitions.iter().map(|p| p.leader).collect();
    assert_eq!(leaders.len(), 3, "leadership is spread over the brokers: {info:?}");
    // A topic with two copies, on brokers 1 and 2, both required in sync.
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", &brokers).create().unwrap();
    let pair = [NewTopic::new("pair", 1, TopicReplication::Variable(&[&[1, 2]])).set("min.insync.replicas", "2")];
    let created = futures_executor::block_on(admin.create_topics(&pair, &AdminOptions::new())).unwrap();
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    wait_isr(&brokers, "pair", 2);

    // Broker 2 dies. Once the controller fences it (its session expires),
    // leadership moves and the in-sync sets shrink: writes to the
    // three-copy topic go on, two copies in sync...
    cluster.kill(2).unwrap();
    let idempotent = [("enable.idempotence", "true")];
    let (acked, errors) = produce(&brokers, TITLES.name, "acked-", 300, Duration::from_secs(60), &idempotent);
    assert_eq!((acked, errors), (300, vec![]));
    let info = wait_isr(&brokers, TITLES.name, 2);
    assert!(info.partitions.iter().all(|p| p.leader != 2 && !p.isr.contains(&2)), "{info:?}");
    // ...and the two-copy topic, one copy left in sync, refuses them: an
    // acknowledged write would live on one broker only. (No retries, so the
    // broker's answer is what the producer reports.)
    wait_isr(&brokers, "pair", 1);
    let once = [("enable.idempotence", "false"), ("retries", "0")];
    let (acked, errors) = produce(&brokers, "pair", "refused-", 20, Duration::from_secs(30), &once);
    assert_eq!(acked, 0);
    assert!(errors.iter().all(|e| *e == RDKafkaErrorCode::NotEnoughReplicas) && errors.len() == 20, "{errors:?}");

    // Back: broker 2 rejoins the in-sync sets from its data, and every
    // acknowledged write is there once.
    cluster.restart(2).unwrap();
    wait_isr(&brokers, TITLES.name, 3);
    wait_isr(&brokers, "pair", 2);
    let mut acked = HashMap::<String, usize>::new();
    inspect::read_topic(&brokers, TITLES.name, Duration::from_secs(60), |m| {
        let key = String::from_utf8(m.key().unwrap_or_default().to_vec()).unwrap();
        *acked.entry(key).or_default() += 1;
        true
    })
    .unwrap();
    assert_eq!(acked.len(), 300, "every acknowledged write survived");
    assert!(acked.values().all(|n| *n == 1), "and none twice");
}

/// The partitions assigned to `consumer` now.
fn assigned(consumer: &BaseConsumer) -> HashSet<i32> {
    let assignment = consumer.assignment().unwrap();
    assignment.elements().iter().map(rdkafka::topic_partition_list::TopicPartitionListElem::partition).collect()
}
