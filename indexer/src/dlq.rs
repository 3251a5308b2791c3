//! The indexer's dead-letter topic: messages and documents that cannot be
//! indexed, with the reason and where they came from.
//!
//! Contract: [`DeadLetters::send`] returns only once Kafka acknowledged
//! every letter (idempotent producer, `acks=all`), so the pipeline may then
//! commit their offsets; on error nothing may be assumed delivered.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use imdb_model::DeadLetter;
use imdb_model::topics::Replication;
use rdkafka::ClientContext;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;

use crate::error::{IndexerError, kafka};
use crate::route::Rejected;

/// Creates the topic with `factor` replicas, or the project's policy for
/// the cluster's broker count ([`Replication::for_brokers`]), and its
/// `min.insync.replicas`: a letter acknowledged is on two brokers of three.
fn create_topic(brokers: &str, topic: &str, factor: Option<i32>) -> Result<(), IndexerError> {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", brokers).create().map_err(kafka("creating the admin client"))?;
    let replication = if let Some(factor) = factor {
        Replication::with_factor(factor)
    } else {
        let metadata = admin
            .inner()
            .fetch_metadata(None, Duration::from_secs(30))
            .map_err(kafka("reading the cluster metadata"))?;
        Replication::for_brokers(metadata.brokers().len())
    };
    let min_insync = replication.min_insync.to_string();
    let new =
        [NewTopic::new(topic, 1, TopicReplication::Fixed(replication.factor)).set("min.insync.replicas", &min_insync)];
    let timeout = Some(Duration::from_secs(30));
    let options = AdminOptions::new().operation_timeout(timeout).request_timeout(timeout);
    let results = futures_executor::block_on(admin.create_topics(&new, &options))
        .map_err(kafka(format!("creating topic {topic}")))?;
    for result in results {
        match result {
            Ok(name) => tracing::info!(topic = %name, "created the dead-letter topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(IndexerError::Kafka {
                    context: format!("creating topic {name}"),
                    source: KafkaError::AdminOp(code),
                });
            }
        }
    }
    Ok(())
}

/// Counts failed deliveries.
struct Failures(Arc<AtomicU64>);

impl ClientContext for Failures {}

impl ProducerContext for Failures {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            tracing::warn!(error = %e, "dead letter not delivered");
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A producer for the dead-letter topic.
pub struct DeadLetters {
    producer: BaseProducer<Failures>,
    failures: Arc<AtomicU64>,
    topic: String,
    /// One batch of letters at a time: failures are counted per batch.
    lock: std::sync::Mutex<()>,
}

impl std::fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetters").field("topic", &self.topic).finish_non_exhaustive()
    }
}

impl DeadLetters {
    /// A producer writing to `topic`, which is created (one partition, so
    /// letters keep their order) if it does not exist yet.
    pub fn new(brokers: &str, topic: &str, replication: Option<i32>) -> Result<DeadLetters, IndexerError> {
        create_topic(brokers, topic, replication)?;
        let failures = Arc::new(AtomicU64::new(0));
        let producer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "60000")
            .create_with_context(Failures(failures.clone()))
            .map_err(kafka("creating the dead-letter producer"))?;
        Ok(DeadLetters { producer, failures, topic: topic.to_owned(), lock: std::sync::Mutex::new(()) })
    }

    /// Sends letters and waits until Kafka acknowledged them all.
    pub fn send(&self, rejected: &[Rejected]) -> Result<(), IndexerError> {
        let _one_batch = self.lock.lock().expect("not poisoned");
        let before = self.failures.load(Ordering::Relaxed);
        for r in rejected {
            let letter = DeadLetter {
                stage: "indexer".into(),
                source: r.partition.to_string(),
                kafka_offset: Some(r.offset),
                reason: r.reason.clone(),
                record: r.record.clone(),
                ..DeadLetter::default()
            };
            let payload = serde_json::to_vec(&letter).expect("a dead letter serialises: strings and numbers only");
            let key = r.key.clone().unwrap_or_default();
            let mut record = BaseRecord::to(&self.topic).key(&key).payload(&payload);
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((e, back))
                        if matches!(e.rdkafka_error_code(), Some(rdkafka::types::RDKafkaErrorCode::QueueFull)) =>
                    {
                        self.producer.poll(Duration::from_millis(100));
                        record = back;
                    }
                    Err((e, _)) => return Err(kafka(format!("producing to {}", self.topic))(e)),
                }
            }
        }
        self.producer
            .flush(Duration::from_secs(60))
            .map_err(kafka(format!("flushing dead letters to {}", self.topic)))?;
        let failed = self.failures.load(Ordering::Relaxed).saturating_sub(before);
        if failed > 0 {
            return Err(IndexerError::Undelivered { failed });
        }
        Ok(())
    }
}
