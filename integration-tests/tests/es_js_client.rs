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
use std::path::PathBuf;
use std::process::Command;

use imdb_integration_tests::client_script::{require, run_against_node};
use imdb_integration_tests::workspace_root;

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
fn the_official_javascript_client_scrolls_and_pages_points_in_time() {
    let Some(modules) = require(client_modules(), "IMDB_REQUIRE_JSCLIENT", "the JavaScript client") else { return };
    let mut node = Command::new("node");
    node.env("NODE_PATH", &modules);
    run_against_node(node, "integration-tests/js/es_client_check.js");
}
