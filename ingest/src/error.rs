//! Errors at the boundary of the ingest library.
//!
//! A bad *record* is never an error here: it becomes a [`imdb_model::DeadLetter`]
//! and the run goes on. These errors are for what stops a run: the user asked
//! for something impossible (user errors), or the machine or the broker failed
//! (internal errors). The binary maps user errors to exit code 2 and internal
//! ones to 1.

use std::path::PathBuf;

use rdkafka::error::KafkaError;

/// Why an ingest run could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The input path does not exist or holds nothing ingest can read.
    #[error("input {path}: {reason}")]
    BadInput {
        /// The path given.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A setting is out of range.
    #[error("invalid setting: {0}")]
    BadSetting(String),
    /// Reading or writing a file failed.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        error: std::io::Error,
    },
    /// The Kafka client failed (configuration, topic creation, metadata,
    /// reading a topic).
    #[error("kafka: {context}")]
    Kafka {
        /// What ingest was doing.
        context: String,
        /// The client's error.
        #[source]
        source: KafkaError,
    },
    /// A topic asked for does not exist.
    #[error("no topic {topic}")]
    NoTopic {
        /// Its name.
        topic: String,
    },
    /// A topic could not be read to its end in time.
    #[error("timed out reading {topic}: partitions {remaining:?} not at their end")]
    ReadTimeout {
        /// The topic.
        topic: String,
        /// Partitions and the end offsets not reached.
        remaining: Vec<(i32, i64)>,
    },
    /// Some messages were not acknowledged by the broker.
    #[error("{failed} of {sent} messages were not acknowledged by the broker")]
    Unacknowledged {
        /// Messages that failed or were never confirmed.
        failed: u64,
        /// Messages sent.
        sent: u64,
    },
    /// A limit of the implementation was exceeded (not the user's doing).
    #[error("internal limit: {0}")]
    Internal(String),
    /// A worker thread panicked.
    #[error("a worker thread panicked: {0}")]
    WorkerPanic(String),
}

impl IngestError {
    /// True for errors the user can fix by changing the command.
    pub fn is_user_error(&self) -> bool {
        matches!(self, IngestError::BadInput { .. } | IngestError::BadSetting(_))
    }

    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> IngestError {
        let path = path.into();
        if error.kind() == std::io::ErrorKind::NotFound {
            return IngestError::BadInput { path, reason: "no such file or directory".into() };
        }
        IngestError::Io { path, error }
    }

    /// `map_err` for a Kafka operation: the client's error with what was being done.
    pub(crate) fn kafka(context: impl Into<String>) -> impl FnOnce(KafkaError) -> IngestError {
        let context = context.into();
        move |source| IngestError::Kafka { context, source }
    }
}
