//! The indexer's errors: what a user must fix (settings, an engine that
//! refuses the templates) apart from what went wrong inside.

/// An indexer failure.
#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    /// A setting that cannot work.
    #[error("bad setting: {0}")]
    BadSetting(String),
    /// The search engine refused a request that must succeed (templates).
    #[error("search engine refused {what}: {status} {body}")]
    Refused {
        /// The request.
        what: String,
        /// HTTP status.
        status: u16,
        /// The answer.
        body: String,
    },
    /// Kafka client failure.
    #[error("kafka: {0}")]
    Kafka(String),
    /// HTTP transport failure.
    #[error("search engine: {0}")]
    Http(String),
}

impl From<rdkafka::error::KafkaError> for IndexerError {
    fn from(e: rdkafka::error::KafkaError) -> IndexerError {
        IndexerError::Kafka(e.to_string())
    }
}
