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

/// An engine status worth trying again as it is: a timeout (408: a
/// request that reached a hung node answers so once it wakes up), an
/// overloaded engine (429) or a failure inside it (5xx). One rule for
/// whole requests and for each item of a bulk.
pub fn transient(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

impl IndexerError {
    /// Worth trying again as it is: the engine was unreachable, or its
    /// status is [`transient`].
    pub fn is_transient(&self) -> bool {
        match self {
            IndexerError::Http(_) => true,
            IndexerError::Refused { status, .. } => transient(*status),
            IndexerError::BadSetting(_) | IndexerError::Kafka(_) => false,
        }
    }
}

impl From<rdkafka::error::KafkaError> for IndexerError {
    fn from(e: rdkafka::error::KafkaError) -> IndexerError {
        IndexerError::Kafka(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16) -> IndexerError {
        IndexerError::Refused { what: "index template t".into(), status, body: String::new() }
    }

    #[test]
    fn timeouts_overload_and_engine_failures_are_retried_refusals_are_not() {
        for status in [408, 429, 500, 503] {
            assert!(refused(status).is_transient(), "{status}");
        }
        for status in [400, 401, 403, 404] {
            assert!(!refused(status).is_transient(), "{status}");
        }
        assert!(IndexerError::Http("connection refused".into()).is_transient());
        assert!(!IndexerError::BadSetting("x".into()).is_transient());
    }
}
