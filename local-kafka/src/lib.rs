//! A local Apache Kafka cluster, started and stopped from code: the one
//! launcher of the tests and of the one-machine stack.
//!
//! Kafka runs from its Maven Central artifacts (no tarball, no Docker):
//! `scripts/setup.sh` copies them into `.local/jvm/` (see `imdb-local-jvm`,
//! which also runs each node's process). A
//! [`Cluster`] is 1 or 3 nodes on loopback, each its own JVM with a small
//! heap: KRaft combined broker+controller nodes (Kafka 4, the default), or
//! Kafka 3.9 brokers on a ZooKeeper node (the legacy path). What the nodes
//! are configured with, and why, is in [`properties`]; how the cluster is
//! started, waited for, killed, restarted and stopped is in [`cluster`].
//!
//! Three nodes give every topic three replicas with two in sync
//! ([`imdb_model::topics::Replication`]): one broker can die and producers
//! with `acks=all` go on, losing nothing they were told was written.

pub mod cluster;
pub mod probe;
pub mod properties;

use std::path::PathBuf;

pub use cluster::{Cluster, ClusterSettings, Mode, Ports};
use imdb_local_jvm::Distribution;
pub use imdb_local_jvm::{JvmError, free_port, free_ports};

/// Apache Kafka 4 (KRaft), from `local-kafka/jvm/kafka/pom.xml`.
pub const KAFKA: Distribution = Distribution { name: "Kafka", folder: "kafka", jar_prefix: "kafka_2.13-" };
/// Apache Kafka 3.9 (ZooKeeper mode), from `local-kafka/jvm/kafka-zk/pom.xml`.
pub const KAFKA_ZK: Distribution = Distribution { name: "Kafka 3.9", folder: "kafka-zk", jar_prefix: "kafka_2.13-" };
/// Apache ZooKeeper 3.9, from `local-kafka/jvm/zookeeper/pom.xml`.
pub const ZOOKEEPER: Distribution = Distribution { name: "ZooKeeper", folder: "zookeeper", jar_prefix: "zookeeper-" };

/// Extra JVM options for every Kafka and ZooKeeper process, split on
/// whitespace.
pub const JVM_OPTS_ENV: &str = "IMDB_KAFKA_JVM_OPTS";

/// The options of [`JVM_OPTS_ENV`].
pub(crate) fn jvm_options() -> Vec<String> {
    std::env::var(JVM_OPTS_ENV).map(|v| v.split_whitespace().map(str::to_owned).collect()).unwrap_or_default()
}

/// First broker port of the local stack: brokers on 19092-19094,
/// controllers on 19192-19194, ZooKeeper (ZooKeeper mode) on 19292.
pub const LOCAL_PORT: u16 = 19092;
/// Heap of each broker in tests: small topics, several clusters at once.
pub const TEST_HEAP: usize = 256 << 20;

/// Environment variable that makes a missing Kafka installation a test
/// failure instead of a skip (set by `scripts/test.sh`, after setup
/// installed it).
pub const REQUIRE_ENV: &str = "IMDB_REQUIRE_KAFKA";

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// No Java, or Kafka's jars are not installed.
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
    /// `kafka.tools.StorageTool format` failed.
    #[error("formatting node {node}'s storage failed:\n{log_tail}")]
    Format {
        /// The node.
        node: u32,
        /// The end of the tool's output.
        log_tail: String,
    },
    /// A process did not come up.
    #[error("{what} did not become ready: {reason}; last log lines:\n{log_tail}")]
    NotReady {
        /// Which process.
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

impl KafkaError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> KafkaError {
        let context = context.into();
        move |source| KafkaError::Io { context, source }
    }

    /// True when the user can fix it (install, settings, data folder), as
    /// opposed to a cluster that failed to run.
    pub fn is_user_error(&self) -> bool {
        matches!(self, KafkaError::Install(_) | KafkaError::Setting(_) | KafkaError::DataFolder { .. })
    }
}

/// Starts a KRaft cluster of `nodes` nodes for a test. Without Java or
/// Kafka's jars it prints why the test is skipped and returns `None`,
/// unless [`REQUIRE_ENV`] is set, where it panics; a cluster that is
/// installed but fails to start is always a panic.
pub fn start_for_test(nodes: usize) -> Option<Cluster> {
    start_config_for_test(ClusterSettings::kraft(nodes))
}

/// [`start_for_test`] with any configuration (ZooKeeper mode, say).
pub fn start_config_for_test(config: ClusterSettings) -> Option<Cluster> {
    match Cluster::start(config) {
        Ok(cluster) => Some(cluster),
        Err(e @ KafkaError::Install(_)) if std::env::var_os(REQUIRE_ENV).is_none() => {
            eprintln!("SKIPPED: no Kafka for this test: {e}");
            None
        }
        Err(e) => panic!("the Kafka cluster did not start: {e}"),
    }
}
