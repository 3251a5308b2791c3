//! The indexer's errors: what a user must fix (settings, an engine that
//! refuses the templates) apart from what went wrong inside. Every variant
//! that wraps a library's error keeps it as its `source`, with the context
//! (node, request, operation) in its own fields; nothing decides on the
//! text of an error.

use rdkafka::error::KafkaError;

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
    /// A Kafka client operation failed.
    #[error("kafka: {context}")]
    Kafka {
        /// What the indexer was doing.
        context: String,
        /// The client's error.
        #[source]
        source: KafkaError,
    },
    /// Dead letters the producer accepted but Kafka did not acknowledge.
    #[error("{failed} dead letters were not delivered")]
    Undelivered {
        /// How many failed.
        failed: u64,
    },
    /// The HTTP client could not be built.
    #[error("building the HTTP client")]
    Client(#[source] reqwest::Error),
    /// No node of the search engine could be reached, or an answer broke
    /// off: the last node tried and its transport error.
    #[error("search engine node {node} unreachable")]
    Unreachable {
        /// The node's URL.
        node: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The engine answered, but not with the JSON its API defines: a bug
    /// or a proxy in the way, not a state that passes by itself.
    #[error("search engine answer to {what} is not what its API defines")]
    Malformed {
        /// The request.
        what: &'static str,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
    /// A bulk answer without exactly one item per document sent.
    #[error("bulk answer has {answered} items for {sent} documents")]
    ItemCount {
        /// Documents sent.
        sent: usize,
        /// Items in the answer.
        answered: usize,
    },
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
            IndexerError::Unreachable { .. } => true,
            IndexerError::Refused { status, .. } => transient(*status),
            IndexerError::BadSetting(_)
            | IndexerError::Kafka { .. }
            | IndexerError::Undelivered { .. }
            | IndexerError::Client(_)
            | IndexerError::Malformed { .. }
            | IndexerError::ItemCount { .. } => false,
        }
    }
}

impl IndexerError {
    /// True for errors the user fixes by changing a setting.
    pub fn is_user_error(&self) -> bool {
        matches!(self, IndexerError::BadSetting(_))
    }
}

/// `map_err` for a Kafka operation: the client's error with what was being done.
pub(crate) fn kafka(context: impl Into<String>) -> impl FnOnce(KafkaError) -> IndexerError {
    let context = context.into();
    move |source| IndexerError::Kafka { context, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16) -> IndexerError {
        IndexerError::Refused { what: "index template t".into(), status, body: String::new() }
    }

    fn unreachable() -> IndexerError {
        // A port nothing listens on: a real transport error.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let source = reqwest::blocking::get(format!("http://127.0.0.1:{port}/")).unwrap_err();
        IndexerError::Unreachable { node: format!("http://127.0.0.1:{port}"), source }
    }

    #[test]
    fn timeouts_overload_and_engine_failures_are_retried_refusals_are_not() {
        for status in [408, 429, 500, 503] {
            assert!(refused(status).is_transient(), "{status}");
        }
        for status in [400, 401, 403, 404] {
            assert!(!refused(status).is_transient(), "{status}");
        }
        assert!(unreachable().is_transient());
        assert!(!IndexerError::BadSetting("x".into()).is_transient());
        assert!(IndexerError::BadSetting("x".into()).is_user_error());
        assert!(!refused(400).is_user_error(), "the engine's refusal is not the command's fault");
    }

    #[test]
    fn an_answer_that_does_not_parse_is_not_retried_as_it_is() {
        let source = serde_json::from_str::<serde_json::Value>("<html>").unwrap_err();
        assert!(!IndexerError::Malformed { what: "bulk", source }.is_transient());
    }

    #[test]
    fn the_transport_error_is_kept_as_the_source() {
        use std::error::Error as _;
        let e = unreachable();
        assert!(e.to_string().starts_with("search engine node http://127.0.0.1:"), "{e}");
        assert!(e.source().is_some_and(<dyn std::error::Error>::is::<reqwest::Error>));
    }
}
