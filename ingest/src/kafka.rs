//! The Kafka side of ingest: topic creation and the producer.
//!
//! The producer is idempotent with `acks=all` (no duplicate or reordered
//! message per partition across retries), lz4-compressed, and uses Kafka's
//! Java-compatible murmur2 partitioner so keyed messages land where
//! [`imdb_model::partition_for_key`] says. Every message carries an opaque
//! tag (its kind and record count) that the delivery callback turns into
//! acknowledged or failed counts. `message.timeout.ms` is long enough to ride
//! out a broker restart: librdkafka keeps retrying until then.

use std::sync::Arc;
use std::time::Duration;

use imdb_model::Topic;
use imdb_model::topics::Replication;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Message as _};

use crate::error::IngestError;
use crate::sink::{Message, Sink};
use crate::stats::{MessageKind, Stats};

/// Producer settings a user may change (`imdb-ingest load`'s flags).
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ProducerSettings {
    /// Kafka bootstrap servers (`host:port[,host:port]`).
    #[arg(long, env = "IMDB_BROKERS", default_value = imdb_model::topics::LOCAL_BOOTSTRAP)]
    pub brokers: String,
    /// How long the producer retries a message before it counts as failed;
    /// long enough to ride out a broker restart.
    #[arg(long, env = "IMDB_INGEST_MESSAGE_TIMEOUT", default_value = "5m", value_parser = crate::units::parse_duration)]
    pub message_timeout: Duration,
    /// How long to wait at the end for the last acknowledgements.
    #[arg(long, env = "IMDB_INGEST_FLUSH_TIMEOUT", default_value = "10m", value_parser = crate::units::parse_duration)]
    pub flush_timeout: Duration,
    /// How long a partition's batch waits to fill (`linger.ms`). Ingest
    /// spreads ~40k messages/s over 66 partitions: at 20 ms a batch held ~10
    /// of them and a 3-broker cluster spent its CPU on requests; at 100 ms
    /// 1M titles load in 54 s instead of 64 s (bench/RESULTS.md).
    #[arg(long, env = "IMDB_INGEST_LINGER", default_value = "100ms", value_parser = crate::units::parse_duration)]
    pub linger: Duration,
}

impl ProducerSettings {
    /// `imdb-ingest load`'s defaults for `brokers` (tested to be its
    /// `--help` values).
    pub fn new(brokers: impl Into<String>) -> ProducerSettings {
        ProducerSettings {
            brokers: brokers.into(),
            message_timeout: Duration::from_secs(5 * 60),
            flush_timeout: Duration::from_secs(10 * 60),
            linger: Duration::from_millis(100),
        }
    }
}

/// Creates the topics that do not exist yet; existing ones are kept as they
/// are. New topics get `replication` (with its `min.insync.replicas`), or
/// where it is `None` the cluster's own defaults (`default.replication.factor`
/// and `min.insync.replicas`, KIP-464): the local launcher sets those by the
/// project's policy ([`Replication::for_brokers`]: three copies, two in
/// sync, on three brokers), a production cluster by its operator's. A
/// cluster with a broker down refuses the default rather than creating
/// topics with fewer copies for good. Fails if the brokers do not answer
/// within `timeout`.
pub fn ensure_topics(
    brokers: &str,
    topics: &[Topic],
    replication: Option<Replication>,
    timeout: Duration,
) -> Result<(), IngestError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .map_err(IngestError::kafka("creating the admin client"))?;
    let metadata =
        admin.inner().fetch_metadata(None, timeout).map_err(IngestError::kafka("reading the cluster metadata"))?;
    let min_insync = replication.map(|r| r.min_insync.to_string());
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .filter(|t| !metadata.topics().iter().any(|m| m.name() == t.name && m.error().is_none()))
        .map(|t| match (replication, &min_insync) {
            (Some(r), Some(min)) => {
                NewTopic::new(t.name, t.partitions, TopicReplication::Fixed(r.factor)).set("min.insync.replicas", min)
            }
            _ => NewTopic::new(t.name, t.partitions, TopicReplication::Fixed(-1)),
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(timeout)).request_timeout(Some(timeout));
    // librdkafka refuses an empty request.
    let results = if new.is_empty() {
        Vec::new()
    } else {
        futures_executor::block_on(admin.create_topics(&new, &options))
            .map_err(IngestError::kafka("creating topics"))?
    };
    let live = metadata.brokers().len();
    for result in results {
        match result {
            Ok(name) => tracing::info!(topic = %name, replication = ?replication, "created topic"),
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => tracing::debug!(topic = %name, "topic exists"),
            Err((name, RDKafkaErrorCode::InvalidReplicationFactor)) => {
                let asked = replication.map_or("the cluster's default".to_owned(), |r| r.factor.to_string());
                return Err(IngestError::BadSetting(format!(
                    "cannot create topic {name} with {asked} replicas on {live} live broker(s): start the \
                     missing brokers, or set --replication-factor"
                )));
            }
            Err((name, code)) => {
                return Err(IngestError::Kafka {
                    context: format!("creating topic {name}"),
                    source: KafkaError::AdminOp(code),
                });
            }
        }
    }
    // Raw batches go to partitions computed for the model's partition count:
    // a topic created elsewhere with another count would misplace them.
    let metadata =
        admin.inner().fetch_metadata(None, timeout).map_err(IngestError::kafka("reading the topics' partitions"))?;
    for topic in topics {
        let found = metadata.topics().iter().find(|t| t.name() == topic.name).map(|t| t.partitions().len());
        if found.is_some_and(|n| n != topic.partitions as usize) {
            return Err(IngestError::BadSetting(format!(
                "topic {} has {} partitions where ingest needs {}: recreate it or use another cluster",
                topic.name,
                found.unwrap_or_default(),
                topic.partitions
            )));
        }
    }
    Ok(())
}

/// Turns delivery reports into counts.
struct DeliveryCounter {
    stats: Arc<Stats>,
}

impl ClientContext for DeliveryCounter {}

fn tag(kind: MessageKind, records: u64) -> usize {
    ((records as usize) << 2) | kind as usize
}

fn untag(tag: usize) -> (MessageKind, u64) {
    let kind = match tag & 3 {
        0 => MessageKind::Raw,
        1 => MessageKind::Title,
        2 => MessageKind::Person,
        _ => MessageKind::DeadLetter,
    };
    (kind, (tag >> 2) as u64)
}

impl ProducerContext for DeliveryCounter {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: usize) {
        let (kind, records) = untag(opaque);
        match result {
            Ok(_) => self.stats.acked(kind, records),
            Err((error, message)) => {
                tracing::error!(topic = message.topic(), partition = message.partition(), %error, "message not delivered");
                self.stats.failed(kind, records);
            }
        }
    }
}

/// Publishes to Kafka.
pub struct KafkaSink {
    producer: ThreadedProducer<DeliveryCounter>,
    flush_timeout: Duration,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink").field("flush_timeout", &self.flush_timeout).finish_non_exhaustive()
    }
}

impl KafkaSink {
    /// A producer for `settings`, counting deliveries into `stats`.
    pub fn new(settings: &ProducerSettings, stats: Arc<Stats>) -> Result<KafkaSink, IngestError> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", &settings.brokers)
            .set("client.id", "imdb-ingest")
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", "lz4")
            .set("partitioner", "murmur2_random")
            .set("linger.ms", settings.linger.as_millis().to_string())
            .set("batch.size", (1 << 20).to_string())
            .set("message.max.bytes", (4 << 20).to_string())
            .set("queue.buffering.max.messages", "200000")
            .set("queue.buffering.max.kbytes", (64 * 1024).to_string())
            .set("message.timeout.ms", settings.message_timeout.as_millis().to_string())
            .create_with_context(DeliveryCounter { stats })
            .map_err(IngestError::kafka("creating the producer"))?;
        Ok(KafkaSink { producer, flush_timeout: settings.flush_timeout })
    }
}

impl Sink for KafkaSink {
    fn send(&self, m: Message<'_>, stats: &Stats) -> Result<(), IngestError> {
        let mut record = BaseRecord::with_opaque_to(m.topic, tag(m.kind, m.records)).key(m.key).payload(m.payload);
        if let Some(partition) = m.partition {
            record = record.partition(partition);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => {
                    stats.sent(m.kind, m.records);
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // Backpressure: the broker is slower than the workers.
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((error, _)) => {
                    tracing::error!(topic = m.topic, %error, "message refused by the producer");
                    stats.sent(m.kind, m.records);
                    stats.failed(m.kind, m.records);
                    return Ok(());
                }
            }
        }
    }

    fn finish(&self, stats: &Stats) -> Result<(), IngestError> {
        let flushed = self.producer.flush(self.flush_timeout);
        let failed = stats.failed_messages() + stats.unconfirmed_messages();
        if let Err(error) = flushed {
            tracing::error!(%error, "flush did not complete");
        }
        if failed > 0 {
            return Err(IngestError::Unacknowledged { failed, sent: stats.sent_messages() });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_tags_round_trip() {
        for kind in [MessageKind::Raw, MessageKind::Title, MessageKind::Person, MessageKind::DeadLetter] {
            for records in [0, 1, 500, 1 << 40] {
                assert_eq!(untag(tag(kind, records)), (kind, records));
            }
        }
    }
}
