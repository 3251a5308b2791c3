//! The `SearchNode` process handle against the real binary: it answers once
//! started, a SIGKILL and a restart keep its port and data folder (and an
//! acknowledged index), and dropping the handle ends the process.
//!
//! Needs `cargo build --workspace --bins` first, as `scripts/test.sh` does.

use std::path::Path;
use std::time::{Duration, Instant};

use imdb_integration_tests::search_node::{SearchNode, SearchNodeSettings};

fn alive(pid: u32) -> bool {
    // A reaped process has no /proc entry; a zombie would still have one,
    // which is why the handle must wait for its child.
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn a_killed_node_restarts_on_its_port_with_its_data_and_drop_ends_it() {
    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut node = SearchNode::start().expect("starting imdb-search-node");
    let (url, port, data) = (node.url(), node.port(), node.data_dir().to_path_buf());
    let created = http.put(format!("{url}/crash-test")).send().unwrap();
    assert_eq!(created.status(), 200, "{}", created.text().unwrap_or_default());

    let first_pid = node.pid().unwrap();
    node.kill9().unwrap();
    assert!(!alive(first_pid), "the killed process was not reaped");
    assert!(!node.is_running());
    assert!(http.get(format!("{url}/")).send().is_err(), "nothing should answer after kill -9");

    node.restart().expect("restarting after kill -9");
    assert_eq!((node.url(), node.port(), node.data_dir()), (url.clone(), port, data.as_path()));
    let exists = http.head(format!("{url}/crash-test")).send().unwrap();
    assert_eq!(exists.status(), 200, "an acknowledged index must survive kill -9; log:\n{}", node.log_tail(20));

    // A graceful restart (SIGTERM) works the same way.
    node.restart().expect("restarting a running node");
    assert_eq!(http.head(format!("{url}/crash-test")).send().unwrap().status(), 200);

    let pid = node.pid().unwrap();
    drop(node);
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(pid), "dropping the handle must end the process");
}

#[test]
fn a_callers_data_folder_is_used_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    {
        let node = SearchNode::start_with(SearchNodeSettings { data_dir: Some(data.clone()), ..Default::default() })
            .expect("starting imdb-search-node");
        assert_eq!(node.data_dir(), data.as_path());
        assert!(node.log_path().is_file());
    }
    assert!(data.is_dir(), "the caller's data folder outlives the handle");
}
