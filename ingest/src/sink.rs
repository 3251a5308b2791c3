//! Where messages go: the Kafka producer, or nowhere (parse-only runs).
//!
//! Workers hand messages to a [`Sink`]; `send` may block (backpressure from a
//! full producer queue), and counts the message as sent. Acknowledgement is
//! counted separately, when the broker confirms it; [`Sink::finish`] waits
//! for every confirmation and fails if any message was not delivered.

use std::sync::Mutex;

use crate::error::IngestError;
use crate::stats::{MessageKind, Stats};

/// Largest message value ingest publishes: under Apache Kafka's default
/// `message.max.bytes` (1,048,588), so no broker refuses a message for its
/// size. A larger row or document is rejected as a record instead.
pub const MAX_MESSAGE_BYTES: usize = 1_000_000;

/// One message to publish.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// Topic name.
    pub topic: &'static str,
    /// Explicit partition (raw batches), or `None` to hash the key.
    pub partition: Option<i32>,
    /// Message key.
    pub key: &'a [u8],
    /// Message value.
    pub payload: &'a [u8],
    /// What it carries.
    pub kind: MessageKind,
    /// How many records it carries.
    pub records: u64,
}

/// A destination for messages.
pub trait Sink: Send + Sync {
    /// Hands a message over, blocking while the destination is full.
    fn send(&self, message: Message<'_>, stats: &Stats) -> Result<(), IngestError>;
    /// Waits until every message sent is confirmed or failed.
    fn finish(&self, stats: &Stats) -> Result<(), IngestError>;
}

/// Discards messages, acknowledging them at once: measures the cost of
/// reading, parsing and joining alone (`--dry-run`).
#[derive(Debug, Default)]
pub struct NullSink;

impl Sink for NullSink {
    fn send(&self, message: Message<'_>, stats: &Stats) -> Result<(), IngestError> {
        stats.sent(message.kind, message.records);
        stats.acked(message.kind, message.records);
        Ok(())
    }

    fn finish(&self, _stats: &Stats) -> Result<(), IngestError> {
        Ok(())
    }
}

/// A message kept by [`MemorySink`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedMessage {
    /// Topic name.
    pub topic: &'static str,
    /// Explicit partition, if any.
    pub partition: Option<i32>,
    /// Key.
    pub key: Vec<u8>,
    /// Value.
    pub payload: Vec<u8>,
    /// What it carries.
    pub kind: MessageKind,
    /// Records carried.
    pub records: u64,
}

/// Keeps messages in memory: for unit tests of the pipeline's logic (the
/// Kafka path is tested against a real broker in integration-tests/).
#[derive(Debug, Default)]
pub struct MemorySink {
    messages: Mutex<Vec<OwnedMessage>>,
}

impl MemorySink {
    /// Every message sent so far.
    pub fn messages(&self) -> Vec<OwnedMessage> {
        self.messages.lock().expect("not poisoned").clone()
    }
}

impl Sink for MemorySink {
    fn send(&self, m: Message<'_>, stats: &Stats) -> Result<(), IngestError> {
        stats.sent(m.kind, m.records);
        self.messages.lock().expect("not poisoned").push(OwnedMessage {
            topic: m.topic,
            partition: m.partition,
            key: m.key.to_vec(),
            payload: m.payload.to_vec(),
            kind: m.kind,
            records: m.records,
        });
        stats.acked(m.kind, m.records);
        Ok(())
    }

    fn finish(&self, _stats: &Stats) -> Result<(), IngestError> {
        Ok(())
    }
}
