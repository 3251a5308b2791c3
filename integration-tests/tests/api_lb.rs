//! Two `imdb-api` nodes behind the real HAProxy of the local stack, run
//! with the repository's own `deploy/haproxy/haproxy.cfg`: requests are
//! spread over both nodes (`X-Served-By`), and when one node is killed
//! (SIGKILL, mid-traffic) every request still succeeds. Also: the node
//! serves a built UI folder, single-page-app style.
//!
//! Skips with a message when HAProxy is not installed, unless
//! `IMDB_REQUIRE_HAPROXY=1` (set by scripts/test.sh after scripts/setup.sh
//! installed it).

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test, with its line")]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use imdb_integration_tests::search_node::{SearchNode, free_port};
use imdb_integration_tests::services::ApiNode;

fn haproxy() -> Option<PathBuf> {
    let found = ["/usr/sbin/haproxy", "/usr/bin/haproxy"].iter().map(PathBuf::from).find(|p| p.is_file());
    if found.is_none() {
        assert!(std::env::var_os("IMDB_REQUIRE_HAPROXY").is_none(), "haproxy is not installed (scripts/setup.sh)");
        eprintln!("SKIPPED: haproxy is not installed (scripts/setup.sh installs it)");
    }
    found
}

/// HAProxy on a free port in front of two nodes, killed on drop.
struct LoadBalancer {
    child: Child,
    port: u16,
}

impl LoadBalancer {
    fn start(binary: &PathBuf, nodes: [&ApiNode; 2]) -> LoadBalancer {
        let port = free_port().unwrap();
        let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/haproxy/haproxy.cfg");
        let child = Command::new(binary)
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .env("IMDB_LB_BIND", format!("127.0.0.1:{port}"))
            .env("IMDB_API_1", format!("127.0.0.1:{}", nodes[0].port()))
            .env("IMDB_API_2", format!("127.0.0.1:{}", nodes[1].port()))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("haproxy starts");
        let lb = LoadBalancer { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while served_by(port).is_none() {
            assert!(Instant::now() < deadline, "haproxy did not answer");
            thread::sleep(Duration::from_millis(100));
        }
        lb
    }
}

impl Drop for LoadBalancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request through the balancer: the node that answered, if it did with 200.
fn served_by(port: u16) -> Option<String> {
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let r = client.get(format!("http://127.0.0.1:{port}/api/v1/openapi.json")).send().ok()?;
    if !r.status().is_success() {
        return None;
    }
    Some(r.headers().get("x-served-by")?.to_str().ok()?.to_owned())
}

#[test]
fn the_load_balancer_spreads_requests_and_survives_a_killed_node() {
    let Some(binary) = haproxy() else { return };
    let node = SearchNode::start().unwrap();
    // No rate limit: all the test's requests come from one address.
    let unlimited = [("IMDB_API_RATE_LIMIT", "0")];
    let mut first = ApiNode::start(&node.url(), "api-1", &unlimited);
    let second = ApiNode::start(&node.url(), "api-2", &unlimited);
    let lb = LoadBalancer::start(&binary, [&first, &second]);

    let mut by_node: HashMap<String, usize> = HashMap::new();
    for _ in 0..20 {
        *by_node.entry(served_by(lb.port).expect("answered")).or_default() += 1;
    }
    assert_eq!(by_node.len(), 2, "both nodes serve: {by_node:?}");

    // Kill one node mid-traffic: no request may fail.
    let traffic = {
        let port = lb.port;
        thread::spawn(move || {
            (0..200)
                .map(|_| {
                    thread::sleep(Duration::from_millis(10));
                    served_by(port)
                })
                .collect::<Vec<_>>()
        })
    };
    thread::sleep(Duration::from_millis(300));
    first.kill9();
    let answers = traffic.join().unwrap();
    let failed = answers.iter().filter(|a| a.is_none()).count();
    assert_eq!(failed, 0, "requests failed while a node died");
    let tail: Vec<&Option<String>> = answers.iter().rev().take(50).collect();
    assert!(tail.iter().all(|a| a.as_deref() == Some("api-2")), "the survivor serves everything afterwards");
}

#[test]
fn the_node_serves_the_built_ui_as_a_single_page_app() {
    let node = SearchNode::start().unwrap();
    let ui = tempfile::tempdir().unwrap();
    std::fs::write(ui.path().join("index.html"), "<!doctype html><div id=root></div>").unwrap();
    std::fs::create_dir(ui.path().join("assets")).unwrap();
    std::fs::write(ui.path().join("assets/app.js"), "console.log(1)").unwrap();
    let api = ApiNode::start(&node.url(), "api-ui", &[("IMDB_API_UI_DIR", ui.path().to_str().unwrap())]);
    let client = reqwest::blocking::Client::new();
    let get = |path: &str| {
        let r = client.get(format!("{}{path}", api.url())).send().unwrap();
        let kind = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        (r.status().as_u16(), kind, r.text().unwrap())
    };
    let (status, kind, body) = get("/");
    assert_eq!((status, kind.as_str()), (200, "text/html; charset=utf-8"));
    assert!(body.contains("id=root"));
    let (status, kind, _) = get("/assets/app.js");
    assert_eq!((status, kind.as_str()), (200, "text/javascript; charset=utf-8"));
    let (status, _, body) = get("/title/tt0111161");
    assert_eq!(status, 200, "an app route gets index.html");
    assert!(body.contains("id=root"));
    let (status, _, _) = get("/assets/..%2F..%2Fetc%2Fpasswd");
    assert!(status == 404 || status == 200, "never a file outside the folder");
    assert!(!get("/assets/..%2F..%2Fetc%2Fpasswd").2.contains("root:"));
    let (status, kind, _) = get("/api/v1/nothing");
    assert_eq!((status, kind.as_str()), (404, "application/problem+json"), "the API keeps its own 404");
}
