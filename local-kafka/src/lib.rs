//! A local Apache Kafka cluster, started and stopped from code: the one
//! launcher of the tests and of the one-machine stack.
//!
//! Kafka runs from its Maven Central artifacts (no tarball, no Docker):
//! `scripts/setup.sh` copies them into `.local/jvm/` ([`install`]). A
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
pub mod install;
pub mod probe;
mod process;
pub mod properties;

use std::net::TcpListener;
use std::path::PathBuf;

pub use cluster::{Cluster, ClusterConfig, Mode, Ports};
pub use process::JVM_OPTS_ENV;

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
    /// No `java` in `$JAVA_HOME/bin` or on `PATH`.
    #[error("no java found ($JAVA_HOME/bin/java or PATH): install OpenJDK 17 or newer")]
    NoJava,
    /// A distribution's jars are not where the launcher looks.
    #[error("Kafka's jars are not installed in {folder}: run scripts/setup.sh (or set IMDB_JVM_LIBS)")]
    NotInstalled {
        /// The folder looked at.
        folder: PathBuf,
    },
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
        matches!(
            self,
            KafkaError::NoJava
                | KafkaError::NotInstalled { .. }
                | KafkaError::Setting(_)
                | KafkaError::DataFolder { .. }
        )
    }
}

/// A port that was free a moment ago on loopback.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `n` distinct ports that were free a moment ago on loopback: all held
/// open until every one is picked, so none is handed out twice.
pub fn free_ports(n: usize) -> std::io::Result<Vec<u16>> {
    let listeners: Vec<TcpListener> = (0..n).map(|_| TcpListener::bind("127.0.0.1:0")).collect::<Result<_, _>>()?;
    listeners.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}

/// Starts a KRaft cluster of `nodes` nodes for a test. Without Java or
/// Kafka's jars it prints why the test is skipped and returns `None`,
/// unless [`REQUIRE_ENV`] is set, where it panics; a cluster that is
/// installed but fails to start is always a panic.
pub fn start_for_test(nodes: usize) -> Option<Cluster> {
    start_config_for_test(ClusterConfig::kraft(nodes))
}

/// [`start_for_test`] with any configuration (ZooKeeper mode, say).
pub fn start_config_for_test(config: ClusterConfig) -> Option<Cluster> {
    match Cluster::start(config) {
        Ok(cluster) => Some(cluster),
        Err(e @ (KafkaError::NoJava | KafkaError::NotInstalled { .. })) if std::env::var_os(REQUIRE_ENV).is_none() => {
            eprintln!("SKIPPED: no Kafka for this test: {e}");
            None
        }
        Err(e) => panic!("the Kafka cluster did not start: {e}"),
    }
}
