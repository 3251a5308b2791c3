//! The official Python client (`elasticsearch` 8.x from PyPI) against a
//! real `imdb-search-node`: runs `integration-tests/python/es_client_check.py`
//! (info, index creation, `helpers.bulk` of 1,000 documents, refresh, a
//! search with a match query, a bool filter, sort and a terms aggregation,
//! count, get) with the virtualenv's Python and fails with its message on
//! any mismatch.
//!
//! The virtualenv is `.local/venv`, made by `scripts/setup.sh`. Without it
//! (or without the client in it) the test skips with a message, unless
//! `IMDB_REQUIRE_PYCLIENT=1`, which makes that a failure: the project's test
//! command should set it, as it does `IMDB_REQUIRE_KAFKA`. Needs
//! `cargo build --workspace --bins` first, as `scripts/test.sh` does.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use imdb_integration_tests::search_node::SearchNode;
use imdb_integration_tests::workspace_root;

/// The script's bound: it takes seconds; a hang must not stall the suite.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

/// The venv's Python if it can import the client; otherwise why not.
fn python_with_client() -> Result<PathBuf, String> {
    let python = workspace_root().join(".local/venv/bin/python");
    if !python.is_file() {
        return Err(format!("no virtualenv Python at {}", python.display()));
    }
    let probe = Command::new(&python)
        .args(["-c", "import elasticsearch; print(elasticsearch.__versionstr__)"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    let version = String::from_utf8_lossy(&probe.stdout).trim().to_owned();
    if !probe.status.success() {
        return Err(format!(
            "{} cannot import elasticsearch: {}",
            python.display(),
            String::from_utf8_lossy(&probe.stderr)
        ));
    }
    if !version.starts_with("8.") {
        return Err(format!("the virtualenv has elasticsearch {version}, not 8.x"));
    }
    Ok(python)
}

#[test]
fn the_official_python_client_loads_searches_and_counts() -> Result<()> {
    let python = match python_with_client() {
        Ok(python) => python,
        Err(reason) if std::env::var("IMDB_REQUIRE_PYCLIENT").as_deref() == Ok("1") => {
            bail!("IMDB_REQUIRE_PYCLIENT=1 but {reason}; run scripts/setup.sh")
        }
        Err(reason) => {
            eprintln!("SKIPPED: {reason} (scripts/setup.sh installs the Python client)");
            return Ok(());
        }
    };
    let node = SearchNode::start()?;
    let script = workspace_root().join("integration-tests/python/es_client_check.py");
    let output = tempfile::tempdir()?;
    let (status, stdout, stderr) = run_bounded(&python, &script, &node.url(), output.path())?;
    println!("{}", stdout.trim_end());
    if !status {
        bail!(
            "{} failed:\n{}\n{}\nnode log:\n{}",
            script.display(),
            stdout.trim_end(),
            stderr.trim_end(),
            node.log_tail(30)
        );
    }
    Ok(())
}

/// Runs the script with its output in files (no pipe to fill up), killing
/// it after [`SCRIPT_TIMEOUT`]; returns success, stdout and stderr.
fn run_bounded(python: &Path, script: &Path, url: &str, dir: &Path) -> Result<(bool, String, String)> {
    let (out_path, err_path) = (dir.join("stdout"), dir.join("stderr"));
    let mut child = Command::new(python)
        .arg(script)
        .arg(url)
        // No .pyc files in the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path)?)
        .stderr(fs::File::create(&err_path)?)
        .spawn()
        .with_context(|| format!("starting {}", python.display()))?;
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
        stderr.push_str(&format!("\n(killed after {SCRIPT_TIMEOUT:?})"));
    }
    Ok((status.is_some_and(|s| s.success()), stdout, stderr))
}
