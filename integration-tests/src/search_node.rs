//! An `imdb-search-node` server run as a child process, for tests that talk
//! to it over HTTP (the conformance runner) or crash it on purpose.
//!
//! Contract:
//! - [`SearchNode::start_with`] starts the workspace's debug build (see
//!   [`crate::bins`]) with `--listen 127.0.0.1:<port> --data <dir>` and
//!   returns only once `GET /` answered 200, within 30 s; otherwise the error
//!   carries the end of the node's log. The data folder is the caller's, or
//!   a temporary one the handle owns and removes when dropped.
//! - The node's stdout and stderr go to a log file of the handle's own
//!   ([`SearchNode::log_path`]), appended across restarts.
//! - [`SearchNode::kill9`] is a crash (SIGKILL, then reaping the process);
//!   [`SearchNode::restart`] starts the node again on the same port and data
//!   folder, after stopping it (SIGTERM, SIGKILL after a grace period) if it
//!   still runs. Dropping the handle stops the node the same way.
//! - A port that turns out to be taken when the node binds it (another
//!   process took it between our probe and the bind, or the old socket
//!   lingers after a restart) is retried until the start deadline: a fresh
//!   start moves to another free port, a restart waits for its own.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::Error;
use crate::bins::workspace_bin;

/// The binary's name in the workspace.
pub const BIN: &str = "imdb-search-node";
/// The log file's name inside the handle's log folder.
pub const LOG_FILE: &str = "search-node.log";

/// How long a start waits for `GET /` to answer 200.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long SIGTERM gets before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Lines of log an error message carries.
const LOG_TAIL_LINES: usize = 30;

/// How to start a node. The default: the workspace's debug build, a free
/// port, a temporary data folder.
#[derive(Debug, Clone, Default)]
pub struct SearchNodeSettings {
    /// Data folder; `None`: a temporary one removed with the handle.
    pub data_dir: Option<PathBuf>,
    /// The binary; `None`: [`workspace_bin`]`("imdb-search-node")`.
    pub binary: Option<PathBuf>,
    /// Port on 127.0.0.1; `None`: a free one.
    pub port: Option<u16>,
    /// Extra environment variables for the process (`RUST_LOG`, ...).
    pub env: Vec<(String, String)>,
}

/// A running (or killed, restartable) search node.
#[derive(Debug)]
pub struct SearchNode {
    child: Option<Child>,
    port: u16,
    data_dir: PathBuf,
    binary: PathBuf,
    env: Vec<(String, String)>,
    http: reqwest::blocking::Client,
    log_dir: TempDir,
    // Declared last: removed only after the process is gone (Drop stops it
    // first, then fields drop in order).
    _data_temp: Option<TempDir>,
}

/// A port that was free on loopback a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// How a start attempt ended short of ready.
enum StartFailure {
    /// The process exited; `port_taken` when its log says the bind failed.
    Exited { status: ExitStatus, port_taken: bool },
    /// No 200 from `GET /` by the deadline.
    Timeout(String),
}

impl SearchNode {
    /// Starts a node on a free port with a temporary data folder.
    pub fn start() -> Result<SearchNode, Error> {
        SearchNode::start_with(SearchNodeSettings::default())
    }

    /// Starts a node on a free port with the given data folder (created if
    /// missing; kept after the handle is dropped).
    pub fn start_in(data_dir: impl Into<PathBuf>) -> Result<SearchNode, Error> {
        SearchNode::start_with(SearchNodeSettings { data_dir: Some(data_dir.into()), ..SearchNodeSettings::default() })
    }

    /// Starts a node as configured and waits until it answers.
    pub fn start_with(config: SearchNodeSettings) -> Result<SearchNode, Error> {
        let binary = config.binary.unwrap_or_else(|| workspace_bin(BIN));
        let (data_temp, data_dir) = if let Some(dir) = config.data_dir {
            fs::create_dir_all(&dir).map_err(Error::io(format!("creating {}", dir.display())))?;
            (None, dir)
        } else {
            let temp = tempfile::Builder::new()
                .prefix("search-node-data-")
                .tempdir()
                .map_err(Error::io("creating a temporary data folder"))?;
            let dir = temp.path().to_path_buf();
            (Some(temp), dir)
        };
        let log_dir = tempfile::Builder::new()
            .prefix("search-node-log-")
            .tempdir()
            .map_err(Error::io("creating a temporary log folder"))?;
        let fixed_port = config.port.is_some();
        let port = match config.port {
            Some(port) => port,
            None => free_port().map_err(Error::io("finding a free port"))?,
        };
        let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(2)).build()?;
        let mut node =
            SearchNode { child: None, port, data_dir, binary, env: config.env, http, log_dir, _data_temp: data_temp };
        node.spawn(!fixed_port)?;
        Ok(node)
    }

    /// Base URL, `http://127.0.0.1:<port>` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port it listens on (kept across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data folder (kept across restarts).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The log file: the node's stdout and stderr, across restarts.
    pub fn log_path(&self) -> PathBuf {
        self.log_dir.path().join(LOG_FILE)
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        tail(&log, lines)
    }

    /// The process id while the node runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still alive (it may have crashed on its own).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(Ok(Some(_)) | Err(_)) => {
                self.child = None;
                false
            }
            None => false,
        }
    }

    /// Kills the node with SIGKILL, as a crash would, and reaps it. A node
    /// that is not running is left as it is.
    pub fn kill9(&mut self) -> Result<(), Error> {
        if let Some(mut child) = self.child.take() {
            // An already exited child makes `kill` fail; `wait` still reaps it.
            let _ = child.kill();
            child.wait().map_err(Error::io("waiting for the killed search node"))?;
        }
        Ok(())
    }

    /// Stops the node: SIGTERM, then SIGKILL if it has not exited after a
    /// grace period.
    pub fn stop(&mut self) -> Result<(), Error> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        terminate(child.id());
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if child.try_wait().map_err(Error::io("waiting for the search node"))?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        child.wait().map_err(Error::io("waiting for the killed search node")).map(drop)
    }

    /// Starts the node again on the same port and data folder, stopping it
    /// first if it runs; returns once it answers.
    pub fn restart(&mut self) -> Result<(), Error> {
        self.stop()?;
        self.spawn(false)
    }

    /// Starts the process and waits for it; on a port clash, retries (on a
    /// new port when `may_move`) until the deadline.
    fn spawn(&mut self, may_move: bool) -> Result<(), Error> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let log_start = self.start_process()?;
            let failure = match self.wait_ready(deadline, log_start) {
                Ok(()) => return Ok(()),
                Err(failure) => failure,
            };
            let reason = match failure {
                StartFailure::Exited { port_taken: true, .. } if Instant::now() < deadline => {
                    if may_move {
                        self.port = free_port().map_err(Error::io("finding a free port"))?;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                    continue;
                }
                StartFailure::Exited { status, .. } => format!("the process exited with {status}"),
                StartFailure::Timeout(last) => {
                    // Do not leave a half-started node behind.
                    let _ = self.kill9();
                    format!("no 200 from GET / within {READY_TIMEOUT:?} ({last})")
                }
            };
            return Err(Error::NodeNotReady { port: self.port, reason, log_tail: self.log_tail(LOG_TAIL_LINES) });
        }
    }

    /// Spawns the process with its output appended to the log; returns the
    /// log's length before this start, where this run's lines begin.
    fn start_process(&mut self) -> Result<u64, Error> {
        let path = self.log_path();
        let mut log = File::options()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(Error::io(format!("opening {}", path.display())))?;
        let start = log.seek(SeekFrom::End(0)).map_err(Error::io("reading the log length"))?;
        let listen = format!("127.0.0.1:{}", self.port);
        writeln!(log, "--- test harness: starting {} --listen {listen} --data {}", BIN, self.data_dir.display())
            .map_err(Error::io("writing the log"))?;
        let stderr = log.try_clone().map_err(Error::io("opening the log"))?;
        let child = Command::new(&self.binary)
            .arg("--listen")
            .arg(&listen)
            .arg("--data")
            .arg(&self.data_dir)
            // A log file wants no colour codes; the caller's `env` may say otherwise.
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .map_err(Error::io(format!("starting {}", self.binary.display())))?;
        self.child = Some(child);
        Ok(start)
    }

    fn wait_ready(&mut self, deadline: Instant, log_start: u64) -> Result<(), StartFailure> {
        let url = format!("{}/", self.url());
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                let log = self.log_since(log_start);
                let port_taken = log.contains("Address already in use") || log.contains("os error 98");
                return Err(StartFailure::Exited { status, port_taken });
            }
            let last = match self.http.get(&url).send() {
                Ok(response) if response.status().as_u16() == 200 => return Ok(()),
                Ok(response) => format!("GET / answered {}", response.status()),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(StartFailure::Timeout(last));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_since(&self, offset: u64) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(self.log_path())
            && file.seek(SeekFrom::Start(offset)).is_ok()
        {
            let _ = file.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for SearchNode {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Sends SIGTERM through `kill(1)`: the workspace forbids `unsafe`, and one
/// process spawn per stop costs nothing that matters here.
fn terminate(pid: u32) {
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).stdout(Stdio::null()).stderr(Stdio::null()).status();
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
        assert_eq!(tail("", 5), "");
    }

    #[test]
    fn a_binary_that_exits_at_once_is_reported_with_its_log() {
        // `sh` refuses our flags and exits: the error must say so at once,
        // with the log (the harness's start line and sh's complaint), not
        // after the 30 s deadline.
        let started = Instant::now();
        let err = SearchNode::start_with(SearchNodeSettings { binary: Some("/bin/sh".into()), ..Default::default() })
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10));
        let text = err.to_string();
        assert!(text.contains("the process exited"), "{text}");
        assert!(text.contains("test harness: starting imdb-search-node --listen 127.0.0.1:"), "{text}");
    }
}
