//! The project's long-running services as child processes for tests: the
//! indexer and API nodes. Each is killed when its handle drops, so a failed
//! test leaves nothing running.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::bins::workspace_bin;
use crate::search_node::free_port;

/// Sends SIGTERM and waits (up to a minute) for the exit status.
fn terminate(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().expect("kill runs");
    assert!(status.success(), "kill -TERM {what}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("waitpid") {
            return status;
        }
        assert!(Instant::now() < deadline, "{what} did not stop on SIGTERM");
        thread::sleep(Duration::from_millis(50));
    }
}

/// An `imdb-indexer` process.
#[derive(Debug)]
pub struct Indexer {
    child: Child,
    metrics_port: u16,
}

impl Indexer {
    /// Starts an indexer of `group` between `brokers` and the engine at
    /// `es_url`, committing often and lingering little (tests want
    /// progress fast); `extra` environment variables go last.
    pub fn start(brokers: &str, es_url: &str, group: &str, extra: &[(&str, &str)]) -> Indexer {
        let metrics_port = free_port().expect("a free port");
        let mut command = Command::new(workspace_bin("imdb-indexer"));
        command
            .env("IMDB_BROKERS", brokers)
            .env("IMDB_ES_URL", es_url)
            .env("IMDB_INDEXER_GROUP", group)
            .env("IMDB_INDEXER_METRICS_LISTEN", format!("127.0.0.1:{metrics_port}"))
            .env("IMDB_INDEXER_COMMIT_INTERVAL", "200ms")
            .env("IMDB_INDEXER_LINGER", "100ms")
            // `IMDB_TEST_INDEXER_LOG=info` (say) shows what a failing test's indexers did.
            .env("RUST_LOG", std::env::var("IMDB_TEST_INDEXER_LOG").unwrap_or_else(|_| "warn".into()))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in extra {
            command.env(k, v);
        }
        let child = command.spawn().expect("imdb-indexer starts (cargo build --workspace --bins first)");
        Indexer { child, metrics_port }
    }

    /// A metric on its `/metrics`, summed over its labelled series (the
    /// consumer lag of every partition, say); `None` if it does not answer
    /// or has no such series.
    pub fn metric(&self, name: &str) -> Option<f64> {
        let url = format!("http://127.0.0.1:{}/metrics", self.metrics_port);
        let text = reqwest::blocking::get(url).ok()?.text().ok()?;
        let values: Vec<f64> = text
            .lines()
            .filter_map(|l| l.strip_prefix(name))
            .filter(|rest| rest.starts_with([' ', '{']))
            .filter_map(|rest| rest.rsplit(' ').next()?.parse().ok())
            .collect();
        (!values.is_empty()).then(|| values.iter().sum())
    }

    /// SIGKILL, no goodbye.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM; the exit status must be success.
    pub fn stop(mut self) {
        let status = terminate(&mut self.child, "the indexer");
        assert!(status.success(), "the indexer exits 0 on SIGTERM, got {status}");
    }
}

impl Drop for Indexer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An `imdb-api` node on a free port.
#[derive(Debug)]
pub struct ApiNode {
    child: Child,
    port: u16,
    name: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl ApiNode {
    /// Starts a node named `name` over the engine at `es_url` and waits
    /// until `/healthz` answers; `extra` environment variables go last.
    pub fn start(es_url: &str, name: &str, extra: &[(&str, &str)]) -> ApiNode {
        let port = free_port().expect("a free port");
        let dir = tempfile::tempdir().expect("a temporary folder");
        let log = dir.path().join("api.log");
        let mut command = Command::new(workspace_bin("imdb-api"));
        command
            .env("IMDB_API_LISTEN", format!("127.0.0.1:{port}"))
            .env("IMDB_ES_URL", es_url)
            .env("IMDB_API_NODE_NAME", name)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"));
        for (k, v) in extra {
            command.env(k, v);
        }
        let child = command.spawn().expect("imdb-api starts (cargo build --workspace --bins first)");
        let mut node = ApiNode { child, port, name: name.to_owned(), log, _dir: dir };
        node.wait_healthy();
        node
    }

    fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let http = reqwest::blocking::Client::new();
        loop {
            if let Ok(r) = http.get(format!("{}/healthz", self.url())).send()
                && r.status().is_success()
            {
                return;
            }
            if let Some(status) = self.child.try_wait().expect("waitpid") {
                panic!("imdb-api exited with {status}:\n{}", self.log_tail());
            }
            assert!(Instant::now() < deadline, "imdb-api did not answer /healthz:\n{}", self.log_tail());
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its `X-Served-By` name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The end of its log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// SIGKILL.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM; the exit status must be success.
    pub fn stop(&mut self) {
        let status = terminate(&mut self.child, "imdb-api");
        assert!(status.success(), "imdb-api exits 0 on SIGTERM, got {status}:\n{}", self.log_tail());
    }
}

impl Drop for ApiNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET /{target}/_count` on the engine at `es_url`; `None` until it exists.
pub fn index_count(es_url: &str, target: &str) -> Option<u64> {
    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().ok()?;
    let r = http.get(format!("{es_url}/{target}/_count")).send().ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.json::<serde_json::Value>().ok()?["count"].as_u64()
}

/// Waits (refreshing, since writes show at the next refresh) until the
/// title alias and the people index hold `titles` and `people` documents;
/// panics after `within`.
pub fn wait_for_counts(es_url: &str, titles: u64, people: u64, within: Duration) {
    let deadline = Instant::now() + within;
    let http = reqwest::blocking::Client::new();
    loop {
        let _ = http.post(format!("{es_url}/_refresh")).send();
        let got = (index_count(es_url, "imdb-titles"), index_count(es_url, "imdb-people"));
        if got == (Some(titles), Some(people)) {
            return;
        }
        assert!(Instant::now() < deadline, "indexes never reached {titles} titles and {people} people: {got:?}");
        thread::sleep(Duration::from_millis(500));
    }
}
