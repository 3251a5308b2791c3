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

use std::path::PathBuf;
use std::process::Command;

use imdb_integration_tests::client_script::{require, run_against_node};
use imdb_integration_tests::workspace_root;

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
fn the_official_python_client_loads_searches_and_counts() {
    let Some(python) = require(python_with_client(), "IMDB_REQUIRE_PYCLIENT", "the Python client") else { return };
    let mut command = Command::new(python);
    // No .pyc files in the source tree.
    command.env("PYTHONDONTWRITEBYTECODE", "1");
    run_against_node(command, "integration-tests/python/es_client_check.py");
}
