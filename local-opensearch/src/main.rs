//! `imdb-local-opensearch`: the local stack's OpenSearch cluster as a
//! service.
//!
//! `start` starts the nodes in a data folder together, waits until every
//! node counts every node, and leaves them running with their pids recorded
//! there; `stop` stops them (SIGTERM, a clean close each); `status` shows
//! each node and how it sees the cluster. Starting a cluster that runs is a
//! no-op, and a node that died is started again on its data, so scripts can
//! call `start` unconditionally.
//!
//! Exit codes: 0 done (for `status`: every node runs and is in the
//! cluster); 1 the command failed, or `status` found a node down or out of
//! the cluster; 2 a flag or setting that cannot work (clap's own code for
//! a flag it cannot parse).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use imdb_local_jvm::Install;
use imdb_local_opensearch::cluster::{self, NodeStatus};
use imdb_local_opensearch::{Cluster, ClusterSettings, LOCAL_HTTP_PORT, OPENSEARCH, OpenSearchError, Ports};
use imdb_model::units::parse_size;
use imdb_telemetry::logging::{EXIT_FAILURE, EXIT_USAGE};

/// Runs the local OpenSearch cluster of the one-machine stack.
#[derive(Debug, Parser)]
#[command(name = "imdb-local-opensearch", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Start the cluster in the background (no-op for nodes that run).
    Start {
        /// Data folder: one folder per node (configuration, log, data, pid).
        #[arg(long, env = "IMDB_OPENSEARCH_DATA", default_value = ".local/opensearch")]
        data: PathBuf,
        /// Number of nodes (each a cluster manager candidate and a data node).
        #[arg(long, env = "IMDB_OPENSEARCH_NODES", default_value_t = 3)]
        nodes: usize,
        /// First HTTP port: HTTP from here, transport from here + 100.
        #[arg(long, env = "IMDB_OPENSEARCH_PORT", default_value_t = LOCAL_HTTP_PORT)]
        port: u16,
        /// Heap of each node's JVM.
        #[arg(long, env = "IMDB_OPENSEARCH_HEAP", default_value = "512MiB", value_parser = parse_size)]
        heap: usize,
        /// Folder of the jars scripts/setup.sh installed (default: the
        /// workspace's .local/jvm).
        #[arg(long, env = "IMDB_JVM_LIBS")]
        libs: Option<PathBuf>,
    },
    /// Stop the cluster started in this data folder.
    Stop {
        /// Data folder given to `start`.
        #[arg(long, env = "IMDB_OPENSEARCH_DATA", default_value = ".local/opensearch")]
        data: PathBuf,
    },
    /// Show each node: running or not, and how it sees the cluster. Exits 1
    /// unless every node runs and counts every node, the cluster not red.
    Status {
        /// Data folder given to `start`.
        #[arg(long, env = "IMDB_OPENSEARCH_DATA", default_value = ".local/opensearch")]
        data: PathBuf,
    },
}

fn main() {
    imdb_telemetry::logging::init("warn");
    let code = match run(Cli::parse().command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            match error.downcast_ref::<OpenSearchError>() {
                Some(e) if e.is_user_error() => EXIT_USAGE.into(),
                _ => EXIT_FAILURE.into(),
            }
        }
    };
    std::process::exit(code);
}

fn run(command: Cmd) -> anyhow::Result<i32> {
    match command {
        Cmd::Start { data, nodes, port, heap, libs } => {
            let config = ClusterSettings { nodes, data_dir: Some(data.clone()), ports: Ports::From(port), heap, libs };
            let version = Install::find(config.libs.as_deref(), &[OPENSEARCH])?.version(OPENSEARCH)?;
            let mut cluster = Cluster::start(config)?;
            let pids: Vec<String> = cluster
                .node_ids()
                .into_iter()
                .map(|id| cluster.pid(id).map_or("?".into(), |p| p.to_string()))
                .collect();
            println!(
                "OpenSearch {version} ({nodes} node{}) at {} (pids {}, data {})",
                if nodes == 1 { "" } else { "s" },
                cluster.urls(),
                pids.join(", "),
                cluster.data_dir().display()
            );
            cluster.detach();
            Ok(0)
        }
        Cmd::Stop { data } => {
            let stopped =
                cluster::stop_folder(&data).with_context(|| format!("stopping the cluster in {}", data.display()))?;
            println!(
                "stopped {stopped} node{} of the cluster in {}",
                if stopped == 1 { "" } else { "s" },
                data.display()
            );
            Ok(0)
        }
        Cmd::Status { data } => {
            let nodes = cluster::status(&data)?;
            let mut healthy = true;
            for NodeStatus { id, port, pid, health } in &nodes {
                let seen = match health {
                    Ok(h) => {
                        healthy &= h.nodes == nodes.len() as u64 && h.status != "red";
                        format!("counts {} nodes, {}", h.nodes, h.status)
                    }
                    Err(e) => {
                        healthy = false;
                        format!("does not answer ({e})")
                    }
                };
                let running = pid.map_or("not running".to_owned(), |p| format!("pid {p}"));
                println!("node {id}  http://127.0.0.1:{port}  {running:<12} {seen}");
            }
            Ok(i32::from(!healthy))
        }
    }
}
