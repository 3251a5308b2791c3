//! A local OpenSearch cluster, started and stopped from code: the
//! distributed search engine of the tests and of the one-machine stack
//! (`scripts/run-local.sh --engine opensearch`), beside the embedded
//! default, `imdb-search-node`.
//!
//! OpenSearch runs from its Maven Central artifacts: `scripts/setup.sh`
//! copies `org.opensearch:opensearch` 2.19 and the plugins the project's
//! mappings and queries need into `.local/jvm/opensearch`, and compiles the
//! small launcher in `local-opensearch/java/` (plain `javac`) into
//! `.local/jvm/opensearch-launcher`. A [`Cluster`] is 1 or 3 nodes on
//! loopback, each its own JVM with a small heap, every node a cluster
//! manager candidate and a data node; the nodes of a new cluster are
//! started together, since each waits for a cluster manager to be elected
//! before it opens HTTP. How each node is configured, and why, is in
//! [`settings`]; how the cluster is started, waited for, killed, restarted
//! and stopped is in [`cluster`].

pub mod cluster;
pub mod probe;
pub mod settings;

use std::path::PathBuf;

pub use cluster::{Cluster, ClusterSettings, Ports};
use imdb_local_jvm::Distribution;
pub use imdb_local_jvm::JvmError;

/// OpenSearch's jars, from `local-opensearch/jvm/opensearch/pom.xml`.
pub const OPENSEARCH: Distribution =
    Distribution { name: "OpenSearch", folder: "opensearch", jar_prefix: "opensearch-" };
/// The launcher class (`local-opensearch/java/LocalOpenSearch.java`),
/// compiled and packaged by `scripts/setup.sh`.
pub const LAUNCHER: Distribution = Distribution {
    name: "The OpenSearch launcher",
    folder: "opensearch-launcher",
    jar_prefix: "imdb-opensearch-launcher-",
};

/// First HTTP port of the local stack: HTTP on 9200-9202 (where
/// `imdb-search-node` listens when it is the engine), transport on
/// 9300-9302.
pub const LOCAL_HTTP_PORT: u16 = 9200;
/// Heap of each node in tests.
pub const TEST_HEAP: usize = 384 << 20;
/// Environment variable that makes a missing OpenSearch installation a
/// test failure instead of a skip (set by `scripts/test.sh`).
pub const REQUIRE_ENV: &str = "IMDB_REQUIRE_OPENSEARCH";
/// Extra JVM options for every node, split on whitespace.
pub const JVM_OPTS_ENV: &str = "IMDB_OPENSEARCH_JVM_OPTS";

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum OpenSearchError {
    /// No Java, or OpenSearch's jars or launcher are not installed.
    #[error(transparent)]
    Install(#[from] JvmError),
    /// A setting cannot work (no nodes, ports out of range, no such node).
    #[error("{0}")]
    Setting(String),
    /// The data folder holds something else than the cluster asked for.
    #[error("cannot use {folder} as the cluster's data folder: {reason}")]
    DataFolder {
        /// The folder.
        folder: PathBuf,
        /// Why not.
        reason: String,
    },
    /// A node did not come up.
    #[error("{what} did not become ready: {reason}; last log lines:\n{log_tail}")]
    NotReady {
        /// Which node.
        what: String,
        /// What went wrong.
        reason: String,
        /// The end of its log.
        log_tail: String,
    },
    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl OpenSearchError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> OpenSearchError {
        let context = context.into();
        move |source| OpenSearchError::Io { context, source }
    }

    /// True when the user can fix it (install, settings, data folder), as
    /// opposed to a cluster that failed to run.
    pub fn is_user_error(&self) -> bool {
        matches!(self, OpenSearchError::Install(_) | OpenSearchError::Setting(_) | OpenSearchError::DataFolder { .. })
    }
}

/// The options of [`JVM_OPTS_ENV`].
pub(crate) fn jvm_options() -> Vec<String> {
    std::env::var(JVM_OPTS_ENV).map(|v| v.split_whitespace().map(str::to_owned).collect()).unwrap_or_default()
}

/// Starts a cluster of `nodes` nodes in a temporary folder for a test.
/// Without Java or OpenSearch's jars it prints why the test is skipped and
/// returns `None`, unless [`REQUIRE_ENV`] is set, where it panics; a
/// cluster that is installed but fails to start is always a panic.
pub fn start_for_test(nodes: usize) -> Option<Cluster> {
    match Cluster::start(ClusterSettings::new(nodes)) {
        Ok(cluster) => Some(cluster),
        Err(e @ OpenSearchError::Install(_)) if std::env::var_os(REQUIRE_ENV).is_none() => {
            eprintln!("SKIPPED: no OpenSearch for this test: {e}");
            None
        }
        Err(e) => panic!("the OpenSearch cluster did not start: {e}"),
    }
}
