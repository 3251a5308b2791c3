//! A local Tansu Kafka broker, started and stopped from code.
//!
//! Apache Kafka cannot run on the project's machines, so tests and the local
//! stack use Tansu, a Kafka-protocol broker from crates.io, installed by
//! `scripts/setup.sh`. This crate starts one as a child process on a free
//! loopback port and waits until it answers a Kafka `ApiVersions` request, so
//! a caller that gets a [`Broker`] back can produce to it at once.
//!
//! Storage: [`Storage::Sqlite`] (the default) keeps topics in a SQLite file
//! that survives `kill -9` of the broker, so a restart loses nothing it
//! acknowledged; [`Storage::Memory`] is faster and loses everything on exit.
//!
//! Lifetime: dropping a [`Broker`] stops the process (SIGTERM, then SIGKILL
//! after a grace period) unless [`Broker::detach`] handed it over.

mod probe;

use std::fs::{self, File};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub use probe::api_versions;

/// Name of the SQLite file inside the data folder.
pub const SQLITE_FILE: &str = "tansu.db";
/// Name of the broker's log file inside the data folder.
pub const LOG_FILE: &str = "tansu.log";
/// Environment variable naming the `tansu` binary, checked first.
pub const TANSU_BIN_ENV: &str = "TANSU_BIN";

/// How long [`Broker::start`] waits for the broker to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a SIGTERM gets before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The `tansu` binary is not installed where we look.
    #[error("tansu is not installed (looked at ${TANSU_BIN_ENV}, PATH and ~/.cargo/bin): run scripts/setup.sh")]
    TansuNotFound,
    /// Starting the process or preparing its folder failed.
    #[error("cannot start tansu: {0}")]
    Io(#[from] std::io::Error),
    /// The broker did not answer in time, or exited.
    #[error("tansu on port {port} did not become ready: {reason}; last log lines:\n{log_tail}")]
    NotReady {
        /// The port it was started on.
        port: u16,
        /// What went wrong.
        reason: String,
        /// The end of its log.
        log_tail: String,
    },
}

/// Where the broker keeps its topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// Durable: a SQLite file in the data folder.
    Sqlite,
    /// In memory only: fast, lost on exit.
    Memory,
}

/// How to start a broker.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Storage engine.
    pub storage: Storage,
    /// Data folder (the broker's working directory: SQLite file and log).
    /// `None`: a temporary folder removed when the [`Broker`] is dropped.
    pub data_dir: Option<PathBuf>,
    /// Port to listen on; `None` picks a free one.
    pub port: Option<u16>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig { storage: Storage::Sqlite, data_dir: None, port: None }
    }
}

/// A running Tansu broker.
#[derive(Debug)]
pub struct Broker {
    child: Option<Child>,
    port: u16,
    data_dir: PathBuf,
    storage: Storage,
    tansu: PathBuf,
    _temp: Option<TempDir>,
}

/// Environment variable that makes a missing broker a test failure instead
/// of a skip (set by `scripts/test.sh`, where setup installed Tansu).
pub const REQUIRE_ENV: &str = "IMDB_REQUIRE_TANSU";

/// Starts a durable broker for a test. Without Tansu installed it prints
/// why the test is skipped and returns `None`, unless [`REQUIRE_ENV`] is
/// set, where it panics.
pub fn start_for_test() -> Option<Broker> {
    match Broker::start(BrokerConfig::default()) {
        Ok(broker) => Some(broker),
        Err(e) if std::env::var_os(REQUIRE_ENV).is_none() => {
            eprintln!("SKIPPED: no Kafka broker for this test: {e}");
            None
        }
        Err(e) => panic!("{REQUIRE_ENV} is set but the broker did not start: {e}"),
    }
}

/// Finds the `tansu` binary: `$TANSU_BIN`, then `PATH`, then `~/.cargo/bin`.
pub fn find_tansu() -> Result<PathBuf, BrokerError> {
    if let Some(path) = std::env::var_os(TANSU_BIN_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() { Ok(path) } else { Err(BrokerError::TansuNotFound) };
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("tansu"));
    let in_cargo = std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo/bin/tansu"));
    on_path.chain(in_cargo).find(|p| p.is_file()).ok_or(BrokerError::TansuNotFound)
}

/// A port that was free a moment ago on loopback.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Broker {
    /// Starts a broker and waits until it answers Kafka requests.
    pub fn start(config: BrokerConfig) -> Result<Broker, BrokerError> {
        let tansu = find_tansu()?;
        let (temp, data_dir) = match config.data_dir {
            Some(dir) => {
                fs::create_dir_all(&dir)?;
                (None, dir)
            }
            None => {
                let temp = tempfile::Builder::new().prefix("tansu-").tempdir()?;
                let dir = temp.path().to_path_buf();
                (Some(temp), dir)
            }
        };
        let port = match config.port {
            Some(port) => port,
            None => free_port()?,
        };
        let mut broker = Broker { child: None, port, data_dir, storage: config.storage, tansu, _temp: temp };
        broker.spawn()?;
        Ok(broker)
    }

    fn spawn(&mut self) -> Result<(), BrokerError> {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        // The SQLite path is resolved against the working directory (an
        // absolute path would be joined onto it), so run in the data folder
        // and name the file relatively.
        let engine = match self.storage {
            Storage::Sqlite => format!("sqlite://{SQLITE_FILE}"),
            Storage::Memory => "memory://tansu/".to_owned(),
        };
        let log = File::options().create(true).append(true).open(self.data_dir.join(LOG_FILE))?;
        let child = Command::new(&self.tansu)
            .arg("broker")
            .args(["--listener-url", &url, "--advertised-listener-url", &url, "--storage-engine", &engine])
            .current_dir(&self.data_dir)
            .env("RUST_LOG", std::env::var("TANSU_LOG").unwrap_or_else(|_| "warn".to_owned()))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), BrokerError> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last_error = String::from("no answer");
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(self.not_ready(format!("the process exited with {status}")));
            }
            match api_versions(addr, Duration::from_secs(2)) {
                Ok(_) => return Ok(()),
                Err(e) => last_error = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(self.not_ready(format!("no Kafka answer within {READY_TIMEOUT:?} ({last_error})")))
    }

    fn not_ready(&self, reason: String) -> BrokerError {
        let log = fs::read_to_string(self.data_dir.join(LOG_FILE)).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let log_tail = lines[lines.len().saturating_sub(20)..].join("\n");
        BrokerError::NotReady { port: self.port, reason, log_tail }
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data folder (working directory, SQLite file, log).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the broker with SIGKILL, as a crash would.
    pub fn kill(&mut self) -> std::io::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Starts the broker again on the same port and data folder.
    pub fn restart(&mut self) -> Result<(), BrokerError> {
        self.stop()?;
        self.spawn()
    }

    /// Stops the broker: SIGTERM, then SIGKILL if it has not exited after a
    /// grace period.
    pub fn stop(&mut self) -> std::io::Result<()> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        terminate(child.id());
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill()?;
        child.wait().map(drop)
    }

    /// Leaves the broker running after this handle is gone and returns its
    /// process id. Only for a broker with a data folder of its own.
    pub fn detach(mut self) -> Option<u32> {
        let pid = self.pid();
        self.child = None;
        pid
    }
}

/// Sends SIGTERM through `kill(1)`: the workspace forbids `unsafe`, and one
/// process spawn per stop is no cost.
pub fn terminate(pid: u32) {
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
