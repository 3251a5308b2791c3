//! `imdb-local-broker`: the local stack's Kafka broker (Tansu) as a service.
//!
//! `start` launches a durable (SQLite) broker in a data folder, leaves it
//! running and records its pid there; `stop` ends it; `status` says whether it
//! answers. Starting an already running broker is a no-op, so scripts can call
//! `start` unconditionally.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use imdb_local_broker::{Broker, BrokerConfig, Storage, api_versions, terminate};

/// Runs the local Tansu Kafka broker of the one-machine stack.
#[derive(Debug, Parser)]
#[command(name = "imdb-local-broker", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Start a broker in the background (no-op if one already answers there).
    Start {
        /// Data folder: SQLite file, log and pid file.
        #[arg(long, env = "IMDB_BROKER_DATA", default_value = ".local/kafka")]
        data: PathBuf,
        /// Loopback port to listen on.
        #[arg(long, env = "IMDB_BROKER_PORT", default_value_t = 19092)]
        port: u16,
        /// Storage engine: `sqlite` survives a crash, `memory` does not.
        #[arg(long, env = "IMDB_BROKER_STORAGE", value_enum, default_value_t = StorageArg::Sqlite)]
        storage: StorageArg,
    },
    /// Stop the broker started in this data folder.
    Stop {
        /// Data folder given to `start`.
        #[arg(long, env = "IMDB_BROKER_DATA", default_value = ".local/kafka")]
        data: PathBuf,
    },
    /// Exit 0 if a broker answers Kafka requests on the port, 1 otherwise.
    Status {
        /// Loopback port.
        #[arg(long, env = "IMDB_BROKER_PORT", default_value_t = 19092)]
        port: u16,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StorageArg {
    Sqlite,
    Memory,
}

const PID_FILE: &str = "tansu.pid";

fn answers(port: u16) -> bool {
    api_versions(SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_secs(2)).is_ok()
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Start { data, port, storage } => start(&data, port, storage),
        Cmd::Stop { data } => stop(&data),
        Cmd::Status { port } => {
            if answers(port) {
                println!("broker answers on 127.0.0.1:{port}");
                Ok(())
            } else {
                println!("no broker on 127.0.0.1:{port}");
                std::process::exit(1)
            }
        }
    }
}

fn start(data: &Path, port: u16, storage: StorageArg) -> anyhow::Result<()> {
    if answers(port) {
        println!("broker already running on 127.0.0.1:{port}");
        return Ok(());
    }
    let storage = match storage {
        StorageArg::Sqlite => Storage::Sqlite,
        StorageArg::Memory => Storage::Memory,
    };
    let data = std::path::absolute(data)?;
    let broker = Broker::start(BrokerConfig { storage, data_dir: Some(data.clone()), port: Some(port) })?;
    let pid = broker.detach().context("broker has no pid")?;
    fs::write(data.join(PID_FILE), pid.to_string())?;
    println!("broker started on 127.0.0.1:{port} (pid {pid}, data {})", data.display());
    Ok(())
}

fn stop(data: &Path) -> anyhow::Result<()> {
    let pid_file = data.join(PID_FILE);
    let Ok(pid) = fs::read_to_string(&pid_file) else {
        println!("no broker recorded in {}", data.display());
        return Ok(());
    };
    let pid: u32 = pid.trim().parse().with_context(|| format!("bad pid file {}", pid_file.display()))?;
    terminate(pid);
    for _ in 0..100 {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            fs::remove_file(&pid_file)?;
            println!("broker stopped (pid {pid})");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("broker (pid {pid}) did not stop within 5 s")
}
