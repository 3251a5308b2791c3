//! The official JavaScript client (`@elastic/elasticsearch` 8.x from npm)
//! against a real `imdb-search-node`: runs
//! `integration-tests/js/es_client_check.js` (bulk of 3,000 documents,
//! `helpers.scrollSearch` and `helpers.scrollDocuments` serving every
//! document once from the scroll's snapshot, a scroll stopped early and
//! cleared, `openPointInTime` + `search_after` paging in sort order,
//! `closePointInTime`, an expired point in time) with Node.js and fails with
//! its message on any mismatch.
//!
//! The client is installed by `scripts/setup.sh` into `.local/es-js`.
//! Without Node.js or the client the test skips with a message, unless
//! `IMDB_REQUIRE_JSCLIENT=1` (set by `scripts/test.sh`), which makes that a
//! failure. Needs `cargo build --workspace --bins` first, as
//! `scripts/test.sh` does.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use imdb_integration_tests::search_node::SearchNode;
use imdb_integration_tests::workspace_root;

/// The script's bound: it takes seconds; a hang must not stall the suite.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

/// The client's `node_modules` folder, if Node.js can load an 8.x client
/// from it; otherwise why not.
fn client_modules() -> Result<PathBuf, String> {
    let modules = workspace_root().join(".local/es-js/node_modules");
    let manifest = modules.join("@elastic/elasticsearch/package.json");
    let text = fs::read_to_string(&manifest).map_err(|e| format!("no client at {}: {e}", manifest.display()))?;
    let version = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_default();
    if !version.starts_with("8.") {
        return Err(format!("{} has @elastic/elasticsearch {version:?}, not 8.x", modules.display()));
    }
    let probe = Command::new("node")
        .args(["-e", "require('@elastic/elasticsearch')"])
        .env("NODE_PATH", &modules)
        .output()
        .map_err(|e| format!("cannot run node: {e}"))?;
    if !probe.status.success() {
        return Err(format!("node cannot load the client: {}", String::from_utf8_lossy(&probe.stderr).trim()));
    }
    Ok(modules)
}

#[test]
fn the_official_javascript_client_scrolls_and_pages_points_in_time() -> Result<()> {
    let modules = match client_modules() {
        Ok(modules) => modules,
        Err(reason) if std::env::var("IMDB_REQUIRE_JSCLIENT").as_deref() == Ok("1") => {
            bail!("IMDB_REQUIRE_JSCLIENT=1 but {reason}; run scripts/setup.sh")
        }
        Err(reason) => {
            eprintln!("SKIPPED: {reason} (scripts/setup.sh installs the JavaScript client)");
            return Ok(());
        }
    };
    let node = SearchNode::start()?;
    let script = workspace_root().join("integration-tests/js/es_client_check.js");
    let output = tempfile::tempdir()?;
    let (status, stdout, stderr) = run_bounded(&modules, &script, &node.url(), output.path())?;
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
fn run_bounded(modules: &Path, script: &Path, url: &str, dir: &Path) -> Result<(bool, String, String)> {
    let (out_path, err_path) = (dir.join("stdout"), dir.join("stderr"));
    let mut child = Command::new("node")
        .arg(script)
        .arg(url)
        .env("NODE_PATH", modules)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path)?)
        .stderr(fs::File::create(&err_path)?)
        .spawn()
        .context("starting node")?;
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
