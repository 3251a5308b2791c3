//! `imdb-local-kafka`: the local stack's Kafka cluster as a service.
//!
//! `start` formats (the first time) and starts the nodes in a data folder,
//! waits until every broker is in the cluster's metadata, and leaves them
//! running with their pids recorded there; `stop` stops them (SIGTERM, a
//! controlled shutdown each); `status` shows each node and the brokers it
//! sees. Starting a cluster that runs is a no-op, and a node that died is
//! started again on its data, so scripts can call `start` unconditionally.
//!
//! Exit codes: 0 done (for `status`: every node runs and is in the
//! cluster); 1 the command failed, or `status` found a node down or out of
//! the cluster; 2 a flag or setting that cannot work (clap's own code for
//! a flag it cannot parse).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use imdb_local_jvm::Install;
use imdb_local_kafka::cluster::{self, NodeStatus};
use imdb_local_kafka::{Cluster, ClusterSettings, KafkaError, LOCAL_PORT, Mode, Ports};
use imdb_model::units::parse_size;
use imdb_telemetry::logging::{EXIT_FAILURE, EXIT_USAGE};

/// Runs the local Apache Kafka cluster of the one-machine stack.
#[derive(Debug, Parser)]
#[command(name = "imdb-local-kafka", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Start the cluster in the background (no-op for nodes that run).
    Start {
        /// Data folder: one folder per node (configuration, log, data, pid).
        #[arg(long, env = "IMDB_KAFKA_DATA", default_value = ".local/kafka")]
        data: PathBuf,
        /// Number of nodes (each a broker and, in KRaft, a controller).
        #[arg(long, env = "IMDB_KAFKA_NODES", default_value_t = 3)]
        nodes: usize,
        /// First broker port: brokers from here, controllers from here + 100,
        /// ZooKeeper at here + 200.
        #[arg(long, env = "IMDB_KAFKA_PORT", default_value_t = LOCAL_PORT)]
        port: u16,
        /// Heap of each broker JVM.
        #[arg(long, env = "IMDB_KAFKA_HEAP", default_value = "512MiB", value_parser = parse_size)]
        heap: usize,
        /// Kafka 3.9 brokers on a ZooKeeper node instead of KRaft.
        #[arg(long, env = "IMDB_KAFKA_ZOOKEEPER")]
        zookeeper: bool,
        /// Folder of the jars scripts/setup.sh installed (default: the
        /// workspace's .local/jvm).
        #[arg(long, env = "IMDB_JVM_LIBS")]
        libs: Option<PathBuf>,
    },
    /// Stop the cluster started in this data folder.
    Stop {
        /// Data folder given to `start`.
        #[arg(long, env = "IMDB_KAFKA_DATA", default_value = ".local/kafka")]
        data: PathBuf,
    },
    /// Show each node: running or not, and which brokers it sees. Exits 1
    /// unless every node runs and sees every broker.
    Status {
        /// Data folder given to `start`.
        #[arg(long, env = "IMDB_KAFKA_DATA", default_value = ".local/kafka")]
        data: PathBuf,
    },
}

fn main() {
    imdb_telemetry::logging::init("warn");
    let code = match run(Cli::parse().command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            match error.downcast_ref::<KafkaError>() {
                Some(e) if e.is_user_error() => EXIT_USAGE.into(),
                _ => EXIT_FAILURE.into(),
            }
        }
    };
    std::process::exit(code);
}

fn run(command: Cmd) -> anyhow::Result<i32> {
    match command {
        Cmd::Start { data, nodes, port, heap, zookeeper, libs } => {
            let mode = if zookeeper { Mode::ZooKeeper } else { Mode::Kraft };
            let config =
                ClusterSettings { mode, nodes, data_dir: Some(data.clone()), ports: Ports::From(port), heap, libs };
            let kafka = if zookeeper { imdb_local_kafka::KAFKA_ZK } else { imdb_local_kafka::KAFKA };
            let version = Install::find(config.libs.as_deref(), &[kafka])?.version(kafka)?;
            let mut cluster = Cluster::start(config)?;
            let pids: Vec<String> = cluster
                .node_ids()
                .into_iter()
                .map(|id| cluster.pid(id).map_or("?".into(), |p| p.to_string()))
                .collect();
            println!(
                "Kafka {version} ({}, {nodes} node{}) at {} (pids {}, data {})",
                if zookeeper { "ZooKeeper mode" } else { "KRaft" },
                if nodes == 1 { "" } else { "s" },
                cluster.bootstrap_servers(),
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
                "stopped {stopped} process{} of the cluster in {}",
                if stopped == 1 { "" } else { "es" },
                data.display()
            );
            Ok(0)
        }
        Cmd::Status { data } => {
            let nodes = cluster::status(&data)?;
            let all: Vec<i32> = nodes.iter().map(|n| n.id as i32).collect();
            let mut healthy = true;
            for NodeStatus { id, port, pid, lists } in &nodes {
                let seen = match lists {
                    Ok(ids) => {
                        healthy &= all.iter().all(|i| ids.contains(i));
                        format!("sees brokers {ids:?}")
                    }
                    Err(e) => {
                        healthy = false;
                        format!("does not answer ({e})")
                    }
                };
                let running = pid.map_or("not running".to_owned(), |p| format!("pid {p}"));
                println!("node {id}  127.0.0.1:{port}  {running:<12} {seen}");
            }
            Ok(i32::from(!healthy))
        }
    }
}
