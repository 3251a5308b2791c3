//! Support for testing imdb-search as real processes: finding the
//! workspace's binaries ([`bins`]), running a search node as a child process
//! ([`search_node`]) or the engine a test run chose ([`engine`]), the indexer and API nodes ([`services`]), filling
//! Kafka topics with ingest ([`kafka_load`]), checking that every record
//! arrived exactly once ([`exact`]), running official clients' check
//! scripts ([`client_script`]),
//! and the Elasticsearch REST YAML conformance runner
//! ([`es_yaml`]) that checks the node against the upstream test suite.
//!
//! The tests themselves live in `tests/`, one binary per concern; the
//! `es-conformance` binary runs the conformance suite by hand.

pub mod bins;
pub mod client_script;
pub mod engine;
pub mod es_yaml;
pub mod exact;
pub mod kafka_load;
pub mod search_node;
pub mod services;

use std::path::PathBuf;

/// Errors of this library. `Corpus` is the user's side (a test file, API
/// spec or list that cannot be read as the format says); the others are
/// the machine's (processes, sockets, files).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A test file, API spec or list file is not what its format says.
    #[error("{path}: {message}")]
    Corpus {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The search node could not be started or did not answer.
    #[error("search node on port {port} did not become ready: {reason}; last log lines:\n{log_tail}")]
    NodeNotReady {
        /// The port it was started on.
        port: u16,
        /// What went wrong.
        reason: String,
        /// The end of its log (stdout and stderr).
        log_tail: String,
    },
    /// The server under test answered something unusable.
    #[error("{url}: {message}")]
    Server {
        /// Its base URL.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// An HTTP exchange failed below the level of an HTTP status.
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    /// A file or process operation failed.
    #[error("{context}: {cause}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause (in the message, so not also a `source()`).
        cause: std::io::Error,
    },
}

impl Error {
    pub(crate) fn corpus(path: impl Into<PathBuf>, message: impl Into<String>) -> Error {
        Error::Corpus { path: path.into(), message: message.into() }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |cause| Error::Io { context, cause }
    }
}

/// The workspace root (the folder of the root `Cargo.toml`), as it was when
/// this crate was compiled.
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
