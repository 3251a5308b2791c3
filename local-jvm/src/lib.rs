//! The JVM servers of the local stack (Apache Kafka, ZooKeeper, OpenSearch)
//! run from their Maven Central jars: no tarball, no Docker, no installer.
//!
//! `scripts/setup.sh` copies each distribution's runtime closure into a
//! folder of its own under `.local/jvm/` ([`install`]); one server process
//! is a [`Jvm`] ([`process`]): started with a pid file, found again by a
//! later command, stopped with SIGTERM, killed with SIGKILL as a crash.
//! The launchers (`imdb-local-kafka`, `imdb-local-opensearch`) build their
//! clusters from these two parts.
//!
//! Contract: nothing here downloads anything; a missing Java or
//! distribution is a [`JvmError`] that says what to run.

pub mod folder;
pub mod group;
pub mod install;
pub mod process;

use std::net::TcpListener;
use std::path::PathBuf;

pub use install::{Distribution, Install, LIBS_ENV};
pub use process::{Jvm, JvmCommand, tail};

/// Errors of finding Java and the jars.
#[derive(Debug, thiserror::Error)]
pub enum JvmError {
    /// No `java` in `$JAVA_HOME/bin` or on `PATH`.
    #[error("no java found ($JAVA_HOME/bin/java or PATH): install OpenJDK 17 or newer")]
    NoJava,
    /// A distribution's jars are not where the launcher looks.
    #[error("{what}'s jars are not installed in {folder}: run scripts/setup.sh (or set IMDB_JVM_LIBS)")]
    NotInstalled {
        /// The distribution.
        what: &'static str,
        /// The folder looked at.
        folder: PathBuf,
    },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct() {
        let ports = free_ports(8).unwrap();
        let distinct: std::collections::BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), 8);
    }
}
