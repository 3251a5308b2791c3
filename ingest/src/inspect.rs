//! Looking into topics without kcat or Kafka's shell tools: per partition
//! the message count, leader, replicas and in-sync replicas, per topic its
//! `min.insync.replicas`; and reading messages.
//!
//! Reading assigns partitions directly (no consumer group, nothing
//! committed) and stops at each partition's high watermark as it was when
//! reading began, so it always terminates.

use std::time::{Duration, Instant};

use serde::Serialize;

use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::error::IngestError;

/// Offsets of one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionInfo {
    /// Partition number.
    pub partition: i32,
    /// First offset.
    pub low: i64,
    /// Next offset to be written.
    pub high: i64,
    /// The broker that leads it (-1: none, the partition is offline).
    pub leader: i32,
    /// The brokers holding a copy.
    pub replicas: Vec<i32>,
    /// The copies that are caught up with the leader.
    pub isr: Vec<i32>,
}

/// Partitions of one topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// Its partitions.
    pub partitions: Vec<PartitionInfo>,
    /// Its `min.insync.replicas`, when the brokers said.
    pub min_insync: Option<i32>,
}

impl TopicInfo {
    /// Messages held, all partitions.
    pub fn messages(&self) -> i64 {
        self.partitions.iter().map(|p| p.high - p.low).sum()
    }

    /// The replication factor (of its first partition: Kafka gives every
    /// partition of a topic the same).
    pub fn replication_factor(&self) -> usize {
        self.partitions.first().map_or(0, |p| p.replicas.len())
    }

    /// Partitions with fewer in-sync copies than copies.
    pub fn under_replicated(&self) -> impl Iterator<Item = &PartitionInfo> {
        self.partitions.iter().filter(|p| p.isr.len() < p.replicas.len())
    }
}

fn consumer(brokers: &str) -> Result<BaseConsumer, IngestError> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "imdb-inspect")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .map_err(IngestError::kafka("creating the consumer"))
}

/// Every topic (or only `only`) with its partitions' watermarks.
pub fn topics(brokers: &str, only: Option<&str>, timeout: Duration) -> Result<Vec<TopicInfo>, IngestError> {
    let consumer = consumer(brokers)?;
    let metadata =
        consumer.fetch_metadata(only, timeout).map_err(IngestError::kafka("reading the topics' metadata"))?;
    let mut out = Vec::new();
    for topic in metadata.topics() {
        if topic.name().starts_with("__") {
            continue;
        }
        let mut partitions = Vec::new();
        for p in topic.partitions() {
            let (low, high) = consumer
                .fetch_watermarks(topic.name(), p.id(), timeout)
                .map_err(IngestError::kafka(format!("watermarks of {} / {}", topic.name(), p.id())))?;
            partitions.push(PartitionInfo {
                partition: p.id(),
                low,
                high,
                leader: p.leader(),
                replicas: p.replicas().to_vec(),
                isr: p.isr().to_vec(),
            });
        }
        partitions.sort_by_key(|p| p.partition);
        out.push(TopicInfo { name: topic.name().to_owned(), partitions, min_insync: None });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    add_min_insync(brokers, &mut out, timeout);
    Ok(out)
}

/// Fills in each topic's `min.insync.replicas`; a broker that does not say
/// leaves it unknown (the listing is still worth having).
fn add_min_insync(brokers: &str, topics: &mut [TopicInfo], timeout: Duration) {
    let Ok(admin) = ClientConfig::new().set("bootstrap.servers", brokers).create::<AdminClient<DefaultClientContext>>()
    else {
        return;
    };
    let resources: Vec<ResourceSpecifier<'_>> = topics.iter().map(|t| ResourceSpecifier::Topic(&t.name)).collect();
    let options = AdminOptions::new().request_timeout(Some(timeout));
    let Ok(results) = futures_executor::block_on(admin.describe_configs(&resources, &options)) else { return };
    let values: Vec<Option<i32>> =
        results.into_iter().map(|r| r.ok()?.get("min.insync.replicas")?.value.as_deref()?.parse().ok()).collect();
    for (topic, value) in topics.iter_mut().zip(values) {
        topic.min_insync = value;
    }
}

/// Reads every message of `topic` present when called, handing each to
/// `visit`; stops early when `visit` returns false. Fails if the messages
/// cannot all be read within `timeout`.
pub fn read_topic(
    brokers: &str,
    topic: &str,
    timeout: Duration,
    mut visit: impl FnMut(&BorrowedMessage<'_>) -> bool,
) -> Result<u64, IngestError> {
    let info = topics(brokers, Some(topic), timeout)?;
    let info =
        info.into_iter().find(|t| t.name == topic).ok_or_else(|| IngestError::NoTopic { topic: topic.to_owned() })?;
    let consumer = consumer(brokers)?;
    let mut assignment = TopicPartitionList::new();
    let mut remaining: Vec<(i32, i64)> = Vec::new();
    for p in info.partitions.iter().filter(|p| p.high > p.low) {
        assignment
            .add_partition_offset(topic, p.partition, Offset::Offset(p.low))
            .map_err(IngestError::kafka(format!("assigning {topic} / {}", p.partition)))?;
        remaining.push((p.partition, p.high));
    }
    if remaining.is_empty() {
        return Ok(0);
    }
    consumer.assign(&assignment).map_err(IngestError::kafka(format!("assigning {topic}")))?;
    let deadline = Instant::now() + timeout;
    let mut read = 0;
    while !remaining.is_empty() {
        if Instant::now() > deadline {
            return Err(IngestError::ReadTimeout { topic: topic.to_owned(), remaining });
        }
        let Some(message) = consumer.poll(Duration::from_millis(200)) else { continue };
        let message = message.map_err(IngestError::kafka(format!("reading {topic}")))?;
        read += 1;
        let (partition, offset) = (message.partition(), message.offset());
        if !visit(&message) {
            break;
        }
        remaining.retain(|(p, high)| !(*p == partition && offset + 1 >= *high));
    }
    Ok(read)
}
