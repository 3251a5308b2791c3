//! Running an official client's check script (Python, JavaScript) against a
//! search node, as the client tests do: the client found or the test
//! skipped (or failed, when the project's test command requires it), the
//! script bounded in time, its output kept for the failure message.
//!
//! Contract (test support: failures are panics with the whole story, as in
//! [`crate::services`]): [`require`] turns "the client is not installed"
//! into `None` after printing why the test is skipped, unless the named
//! `IMDB_REQUIRE_*` variable is `1`, where it panics. [`run_against_node`]
//! starts a fresh search node, runs the script with the node's URL as its
//! last argument, kills it after [`SCRIPT_TIMEOUT`], and panics with the
//! script's output and the node's log unless it exits 0.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::search_node::SearchNode;
use crate::workspace_root;

/// A script's bound: each takes seconds; a hang must not stall the suite.
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

/// The client found by `probe`, `None` (with a message) when it is missing
/// and `require_env` is not `1`; a panic when it is.
pub fn require<T>(probe: Result<T, String>, require_env: &str, what: &str) -> Option<T> {
    match probe {
        Ok(found) => Some(found),
        Err(reason) if std::env::var(require_env).as_deref() == Ok("1") => {
            panic!("{require_env}=1 but {reason}; run scripts/setup.sh")
        }
        Err(reason) => {
            eprintln!("SKIPPED: {reason} (scripts/setup.sh installs {what})");
            None
        }
    }
}

/// Runs `command` (a program with its environment set) on `script`
/// (relative to the workspace) against a new search node; its stdout is
/// printed, and a non-zero exit panics with everything a reader needs.
pub fn run_against_node(mut command: Command, script: &str) {
    let node = SearchNode::start().expect("the search node starts");
    let script = workspace_root().join(script);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (status, stdout, stderr) = run_bounded(command.arg(&script).arg(node.url()), dir.path())
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    println!("{}", stdout.trim_end());
    assert!(
        status,
        "{} failed:\n{}\n{}\nnode log:\n{}",
        script.display(),
        stdout.trim_end(),
        stderr.trim_end(),
        node.log_tail(30)
    );
}

/// Runs `command` with its output in files (no pipe to fill up), killing it
/// after [`SCRIPT_TIMEOUT`]; returns success, stdout and stderr.
fn run_bounded(command: &mut Command, dir: &Path) -> io::Result<(bool, String, String)> {
    let (out_path, err_path) = (dir.join("stdout"), dir.join("stderr"));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path)?)
        .stderr(fs::File::create(&err_path)?)
        .spawn()?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() > SCRIPT_TIMEOUT {
            let _ = child.kill();
            child.wait()?;
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = fs::read_to_string(&out_path)?;
    let mut stderr = fs::read_to_string(&err_path)?;
    if status.is_none() {
        let _ = write!(stderr, "\n(killed after {SCRIPT_TIMEOUT:?})");
    }
    Ok((status.is_some_and(|s| s.success()), stdout, stderr))
}
