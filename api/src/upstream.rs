//! The search cluster, through the official `elasticsearch` client: one
//! client per configured node (each pools its connections), calls spread
//! over the nodes in turn.
//!
//! Nodes: a node that cannot be reached (connection refused or reset: a
//! dead process) is marked down for [`DOWN_FOR`] and the same call goes to
//! the next node at once; nodes marked down are tried last, so a call
//! fails as unavailable only when no node answers. A timeout does not move
//! the call (the cluster is slow, not a node gone: sending it again would
//! double the load).
//!
//! Every call waits for a permit of a semaphore (at most
//! `max_concurrency` calls in flight; a call that cannot get one within the
//! queue timeout fails fast with 503 instead of piling up), then runs under
//! the request timeout (504 past it). Nothing is retried here: searches
//! are cheap to repeat, and the client decides. Upstream latency and
//! outcome are recorded in the metrics.
//!
//! Title searches use `dfs_query_then_fetch`: term statistics are gathered
//! over every index behind the alias first, so scores compare across the
//! per-genre indexes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use elasticsearch::http::headers::HeaderMap;
use elasticsearch::http::response::Response;
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::http::{Method, Url};
use elasticsearch::params::SearchType;
use elasticsearch::{CountParts, Elasticsearch, GetParts, MsearchParts, SearchParts};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::metrics::Metrics;

/// Connection settings for the cluster.
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// Node base URLs.
    pub urls: Vec<String>,
    /// Per-call timeout.
    pub timeout: Duration,
    /// Calls in flight at most.
    pub max_concurrency: usize,
    /// How long a call may wait for a free slot.
    pub queue_timeout: Duration,
}

/// How long a node that could not be reached is tried only after the others.
pub const DOWN_FOR: Duration = Duration::from_secs(5);

/// One node of the cluster.
struct Node {
    url: String,
    client: Elasticsearch,
    /// Set when it could not be reached; cleared when it answers.
    down_until: Mutex<Option<Instant>>,
}

impl Node {
    fn is_down(&self) -> bool {
        self.down_until.lock().expect("not poisoned").is_some_and(|until| Instant::now() < until)
    }

    fn mark(&self, down: bool) {
        *self.down_until.lock().expect("not poisoned") = down.then(|| Instant::now() + DOWN_FOR);
    }
}

/// The cluster client with its limits.
#[derive(Clone)]
pub struct Upstream {
    nodes: Arc<Vec<Node>>,
    next: Arc<AtomicUsize>,
    permits: Arc<Semaphore>,
    settings: UpstreamSettings,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Upstream {
    /// A client for `settings`; fails on a malformed URL.
    pub fn new(settings: UpstreamSettings, metrics: Arc<Metrics>) -> Result<Upstream, ApiError> {
        let urls = settings
            .urls
            .iter()
            .map(|u| Url::parse(u).map_err(|e| ApiError::BadSetting(format!("search cluster url `{u}`: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        if urls.is_empty() {
            return Err(ApiError::BadSetting("no search cluster url".into()));
        }
        let mut nodes = Vec::new();
        for url in urls {
            let transport = TransportBuilder::new(SingleNodeConnectionPool::new(url.clone()))
                .timeout(settings.timeout)
                .disable_proxy()
                .build()
                .map_err(|e| ApiError::BadSetting(format!("search cluster client: {e}")))?;
            let client = Elasticsearch::new(transport);
            nodes.push(Node { url: url.to_string(), client, down_until: Mutex::new(None) });
        }
        Ok(Upstream {
            nodes: Arc::new(nodes),
            next: Arc::new(AtomicUsize::new(0)),
            permits: Arc::new(Semaphore::new(settings.max_concurrency.max(1))),
            settings,
            metrics,
        })
    }

    /// `POST /{index}/_search`; `dfs` for global term statistics. Partial
    /// results (failed shards, a cluster-side timeout) are an error: they
    /// would be served, and cached, as if complete.
    pub async fn search(&self, index: &str, body: Value, dfs: bool) -> Result<Value, ApiError> {
        let indexes = [index];
        let answer = self
            .call("search", |client| {
                let mut request = client.search(SearchParts::Index(&indexes)).body(body.clone());
                if dfs {
                    request = request.search_type(SearchType::DfsQueryThenFetch);
                }
                request.request_timeout(self.settings.timeout).send()
            })
            .await?;
        let failed = answer["_shards"]["failed"].as_u64().unwrap_or(0);
        if failed > 0 || answer["timed_out"] == true {
            return Err(ApiError::Upstream(format!(
                "search: partial results ({failed} shards failed): {}",
                answer["_shards"]
            )));
        }
        Ok(answer)
    }

    /// `POST /_msearch` of (index, body) pairs; each answer in order. A
    /// search whose index does not exist yet answers no hits (the others
    /// still count); any other failed search fails the call.
    pub async fn msearch(&self, searches: Vec<(&str, Value)>) -> Result<Vec<Value>, ApiError> {
        let count = searches.len();
        let mut lines: Vec<Value> = Vec::with_capacity(count * 2);
        for (index, body) in searches {
            lines.push(serde_json::json!({"index": index}));
            lines.push(body);
        }
        let answer = self
            .call("msearch", |client| {
                let lines: Vec<elasticsearch::http::request::JsonBody<Value>> =
                    lines.iter().cloned().map(Into::into).collect();
                client.msearch(MsearchParts::None).body(lines).request_timeout(self.settings.timeout).send()
            })
            .await?;
        let responses = answer["responses"].as_array().cloned().unwrap_or_default();
        if responses.len() != count {
            return Err(ApiError::Upstream(format!("msearch: {} answers to {count} searches", responses.len())));
        }
        responses
            .into_iter()
            .map(|r| match r.get("error") {
                None => Ok(r),
                Some(e) if e["type"] == "index_not_found_exception" => Ok(serde_json::json!({"hits": {"hits": []}})),
                Some(e) => Err(ApiError::Upstream(format!("msearch item: {e}"))),
            })
            .collect()
    }

    /// `GET /{index}/_doc/{id}`: the source, or `None` if there is none.
    pub async fn get(&self, index: &str, id: &str) -> Result<Option<Value>, ApiError> {
        let _permit = self.permit().await?;
        let response = self
            .send_any("get", |client| {
                client.get(GetParts::IndexId(index, id)).request_timeout(self.settings.timeout).send()
            })
            .await?;
        match read(response, self.settings.timeout).await {
            // A missing document is an answer; a missing index is not (`NoIndex`).
            Err(ApiError::Upstream(e)) if e.starts_with("HTTP 404") => Ok(None),
            Err(e) => Err(e),
            Ok(body) => Ok(body.get("_source").cloned()),
        }
    }

    /// `GET /{index}/_count`, of the documents matching `query` if given.
    pub async fn count(&self, index: &str, query: Option<Value>) -> Result<u64, ApiError> {
        let indexes = [index];
        let answer = self
            .call("count", |client| {
                let request = client.count(CountParts::Index(&indexes)).request_timeout(self.settings.timeout);
                let query = query.clone();
                async move {
                    match query {
                        Some(q) => request.body(serde_json::json!({"query": q})).send().await,
                        None => request.send().await,
                    }
                }
            })
            .await?;
        answer["count"].as_u64().ok_or_else(|| ApiError::Upstream(format!("count without a count: {answer}")))
    }

    /// `GET /_cluster/health`: the status (`green`, `yellow`, `red`).
    pub async fn health(&self) -> Result<String, ApiError> {
        let answer = self
            .call("health", |client| {
                client.send::<(), ()>(
                    Method::Get,
                    "/_cluster/health",
                    HeaderMap::new(),
                    None,
                    None,
                    Some(self.settings.timeout),
                )
            })
            .await?;
        Ok(answer["status"].as_str().unwrap_or("unknown").to_owned())
    }

    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        match tokio::time::timeout(self.settings.queue_timeout, self.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                self.metrics.upstream_rejected.inc();
                Err(ApiError::Overloaded)
            }
        }
    }

    /// Runs one call under a permit; a 2xx JSON answer is returned.
    async fn call<'a, F, Fut>(&'a self, what: &'static str, send: F) -> Result<Value, ApiError>
    where
        F: Fn(&'a Elasticsearch) -> Fut,
        Fut: Future<Output = Result<Response, elasticsearch::Error>>,
    {
        let _permit = self.permit().await?;
        let response = self.send_any(what, send).await?;
        read(response, self.settings.timeout).await.map_err(|e| match e {
            ApiError::Upstream(reason) => ApiError::Upstream(format!("{what}: {reason}")),
            other => other,
        })
    }

    /// The nodes in the order this call tries them: from the next one in
    /// turn, those marked down last.
    fn order(&self) -> Vec<&Node> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.nodes.len();
        let rotated = (0..n).map(|i| &self.nodes[(start + i) % n]);
        let (up, down): (Vec<&Node>, Vec<&Node>) = rotated.partition(|node| !node.is_down());
        up.into_iter().chain(down).collect()
    }

    /// Sends the request to one node after the other until one answers
    /// (any status); records the call.
    async fn send_any<'a, F, Fut>(&'a self, what: &'static str, send: F) -> Result<Response, ApiError>
    where
        F: Fn(&'a Elasticsearch) -> Fut,
        Fut: Future<Output = Result<Response, elasticsearch::Error>>,
    {
        let started = Instant::now();
        let mut result = None;
        for node in self.order() {
            match send(&node.client).await {
                Err(e) if unreachable(&e) => {
                    if !node.is_down() {
                        tracing::warn!(node = %node.url, error = %e, "search node unreachable; trying the next one");
                    }
                    node.mark(true);
                    result = Some(Err(e));
                }
                answer => {
                    if answer.is_ok() {
                        node.mark(false);
                    }
                    result = Some(answer);
                    break;
                }
            }
        }
        let result = result.expect("at least one node");
        self.finish(what, started, result)
    }

    /// Records the call and maps transport failures.
    fn finish(
        &self,
        what: &'static str,
        started: Instant,
        result: Result<Response, elasticsearch::Error>,
    ) -> Result<Response, ApiError> {
        let outcome = match &result {
            Ok(r) => r.status_code().as_str().to_owned(),
            Err(e) if e.is_timeout() => "timeout".to_owned(),
            Err(_) => "unreachable".to_owned(),
        };
        self.metrics.observe_upstream(what, &outcome, started.elapsed());
        result.map_err(|e| {
            if e.is_timeout() {
                ApiError::UpstreamTimeout(self.settings.timeout)
            } else {
                tracing::warn!(call = what, error = %e, "search cluster unreachable");
                ApiError::Unavailable(e.to_string())
            }
        })
    }
}

/// A node that did not take the request at all (no status, no timeout):
/// another node may.
fn unreachable(e: &elasticsearch::Error) -> bool {
    e.status_code().is_none() && !e.is_timeout()
}

/// The JSON body of a 2xx answer. A missing index is `NoIndex`, a
/// cluster pushing back (429, 503) `Overloaded`, a timeout while reading
/// `UpstreamTimeout`; any other status an upstream error starting with
/// `HTTP <status>` (the answer goes to the log with the error).
async fn read(response: Response, timeout: std::time::Duration) -> Result<Value, ApiError> {
    let status = response.status_code();
    let text = response.text().await.map_err(|e| {
        if e.is_timeout() {
            ApiError::UpstreamTimeout(timeout)
        } else {
            ApiError::Upstream(format!("reading the answer: {e}"))
        }
    })?;
    match status.as_u16() {
        200..=299 => serde_json::from_str(&text).map_err(|e| ApiError::Upstream(format!("answer is not JSON: {e}"))),
        404 if text.contains("index_not_found_exception") => Err(ApiError::NoIndex),
        429 | 503 => Err(ApiError::Overloaded),
        code => Err(ApiError::Upstream(format!("HTTP {code}: {}", text.chars().take(2000).collect::<String>()))),
    }
}
