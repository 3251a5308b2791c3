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
//! the request timeout (504 past it). Upstream latency and outcome are
//! recorded in the metrics.
//!
//! Retries: every call here is a read, so repeating one is safe. An answer
//! that a moment later or another node may well give right (a 5xx: a node
//! lost mid-search; a partial answer: a shard failed) is asked again, at
//! most [`RETRIES`] times, after [`BACKOFF`], each attempt within what is
//! left of the call's timeout (so a call still fails with 504 at the
//! timeout, retries included); the rotation sends each attempt to the next
//! node. A 503 is retried too: it is how a cluster answers a search whose
//! every shard copy failed, which a moment later may have moved. Not retried: 429 (the
//! cluster asks for less load), 4xx and unreadable answers (they would fail
//! again), timeouts, ours or the cluster's (`timed_out`: the cluster is slow,
//! asking again doubles the load).
//! The decision is [`retry_pause`], a function of the error alone.
//!
//! Answers are read into the types of [`crate::cluster`]; an error status
//! is an [`UpstreamError::Status`] with the cluster's error object, a
//! missing index [`ApiError::NoIndex`].
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
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::cluster::{
    ClusterError, Complete, CountAnswer, ErrorType, GetAnswer, HealthAnswer, MsearchAnswer, SearchAnswer, UpstreamError,
};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::settings::ClusterSettings;

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
    settings: ClusterSettings,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Upstream {
    /// A client for `settings`; fails on a malformed URL.
    pub fn new(settings: ClusterSettings, metrics: Arc<Metrics>) -> Result<Upstream, ApiError> {
        let urls = settings
            .urls
            .iter()
            .map(|u| Url::parse(u).map_err(|e| ApiError::BadUrl { url: u.clone(), source: Box::new(e) }))
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
                .map_err(ApiError::Client)?;
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
    pub async fn search<T, A>(&self, index: &str, body: Value, dfs: bool) -> Result<SearchAnswer<T, A>, ApiError>
    where
        T: DeserializeOwned,
        A: DeserializeOwned + Default,
    {
        let indexes = [index];
        self.call("search", |client, timeout| {
            let mut request = client.search(SearchParts::Index(&indexes)).body(body.clone());
            if dfs {
                request = request.search_type(SearchType::DfsQueryThenFetch);
            }
            request.request_timeout(timeout).send()
        })
        .await
    }

    /// `POST /_msearch` of (index, body) pairs; each answer in order, to be
    /// read with [`msearch_item`]. A search whose index does not exist yet answers
    /// no hits (the others still count); any other failed search fails the
    /// call (and is retried as the whole call when transient).
    pub async fn msearch(&self, searches: Vec<(&str, Value)>) -> Result<Vec<Value>, ApiError> {
        let count = searches.len();
        let mut lines: Vec<Value> = Vec::with_capacity(count * 2);
        for (index, body) in searches {
            lines.push(serde_json::json!({"index": index}));
            lines.push(body);
        }
        let answer: MsearchAnswer = self
            .call("msearch", |client, timeout| {
                let lines: Vec<elasticsearch::http::request::JsonBody<Value>> =
                    lines.iter().cloned().map(Into::into).collect();
                client.msearch(MsearchParts::None).body(lines).request_timeout(timeout).send()
            })
            .await?;
        if answer.responses.len() != count {
            return Err(UpstreamError::Answers { answers: answer.responses.len(), searches: count }.into());
        }
        Ok(answer
            .responses
            .into_iter()
            .map(|r| if r.get("error").is_some() { serde_json::json!({"hits": {"hits": []}}) } else { r })
            .collect())
    }

    /// `GET /{index}/_doc/{id}`: the source, or `None` if there is none.
    pub async fn get<T: DeserializeOwned>(&self, index: &str, id: &str) -> Result<Option<T>, ApiError> {
        let answer: GetAnswer<T> = self
            .call("get", |client, timeout| client.get(GetParts::IndexId(index, id)).request_timeout(timeout).send())
            .await?;
        Ok(answer.source.filter(|_| answer.found))
    }

    /// `GET /{index}/_count`, of the documents matching `query` if given.
    pub async fn count(&self, index: &str, query: Option<Value>) -> Result<u64, ApiError> {
        let indexes = [index];
        let answer: CountAnswer = self
            .call("count", |client, timeout| {
                let request = client.count(CountParts::Index(&indexes)).request_timeout(timeout);
                let query = query.clone();
                async move {
                    match query {
                        Some(q) => request.body(serde_json::json!({"query": q})).send().await,
                        None => request.send().await,
                    }
                }
            })
            .await?;
        Ok(answer.count)
    }

    /// `GET /_cluster/health`: the status (`green`, `yellow`, `red`).
    pub async fn health(&self) -> Result<String, ApiError> {
        let answer: HealthAnswer = self
            .call("health", |client, timeout| {
                client.send::<(), ()>(Method::Get, "/_cluster/health", HeaderMap::new(), None, None, Some(timeout))
            })
            .await?;
        Ok(answer.status)
    }

    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        if let Ok(Ok(permit)) = tokio::time::timeout(self.settings.queue_timeout, self.permits.acquire()).await {
            Ok(permit)
        } else {
            self.metrics.upstream_rejected.inc();
            Err(ApiError::Overloaded)
        }
    }

    /// Runs one call under a permit, retried as [`retry_pause`] says; a
    /// complete answer of type `T` is returned.
    async fn call<'a, T, F, Fut>(&'a self, what: &'static str, send: F) -> Result<T, ApiError>
    where
        T: DeserializeOwned + Complete,
        F: Fn(&'a Elasticsearch, Duration) -> Fut,
        Fut: Future<Output = Result<Response, elasticsearch::Error>>,
    {
        let _permit = self.permit().await?;
        let deadline = Instant::now() + self.settings.timeout;
        let mut attempt = 0;
        loop {
            // Each attempt gets what is left of the call's timeout: a retry
            // never stretches the call past it.
            let left = deadline.saturating_duration_since(Instant::now());
            let error = match self.attempt(what, &send, left).await {
                Ok(answer) => return Ok(answer),
                Err(e) => e,
            };
            match retry_pause(&error, attempt) {
                Some(pause) if Instant::now() + pause < deadline => {
                    tracing::warn!(call = what, attempt, error = %error, "search cluster call failed; retrying");
                    self.metrics.upstream_retries.inc();
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                _ => return Err(error),
            }
        }
    }

    /// One attempt: send to the nodes in turn, read, check completeness.
    async fn attempt<'a, T, F, Fut>(&'a self, what: &'static str, send: &F, timeout: Duration) -> Result<T, ApiError>
    where
        T: DeserializeOwned + Complete,
        F: Fn(&'a Elasticsearch, Duration) -> Fut,
        Fut: Future<Output = Result<Response, elasticsearch::Error>>,
    {
        let response = self.send_any(what, |client| send(client, timeout)).await?;
        let answer: T = read(what, response, self.settings.timeout).await?;
        answer.complete(what)?;
        Ok(answer)
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
                ApiError::Unavailable(e)
            }
        })
    }
}

/// A node that did not take the request at all (no status, no timeout):
/// another node may.
fn unreachable(e: &elasticsearch::Error) -> bool {
    e.status_code().is_none() && !e.is_timeout()
}

/// Attempts after the first, at most.
pub const RETRIES: u32 = 2;
/// The pause before each retry.
pub const BACKOFF: [Duration; RETRIES as usize] = [Duration::from_millis(50), Duration::from_millis(250)];

/// How long to wait before asking again after `error` on attempt
/// `attempt` (0 = the first), or `None` to give up with it.
pub fn retry_pause(error: &ApiError, attempt: u32) -> Option<Duration> {
    match error {
        ApiError::Upstream(e) if e.is_transient() => BACKOFF.get(attempt as usize).copied(),
        _ => None,
    }
}

/// The answer of type `T`. 2xx, and a 404 without an error object (a get
/// of a missing document), are answers; a missing index is `NoIndex`; any
/// other status an [`UpstreamError::Status`] with the cluster's error.
async fn read<T: DeserializeOwned>(call: &'static str, response: Response, timeout: Duration) -> Result<T, ApiError> {
    let status = response.status_code().as_u16();
    let text = response.text().await.map_err(|source| {
        if source.is_timeout() {
            ApiError::UpstreamTimeout(timeout)
        } else {
            ApiError::Upstream(UpstreamError::Read { call, source })
        }
    })?;
    if !(200..=299).contains(&status) {
        let error = ClusterError::from_body(&text);
        match error.kind {
            ErrorType::IndexNotFound => return Err(ApiError::NoIndex),
            ErrorType::Unknown if status == 404 => {}
            _ => return Err(UpstreamError::Status { call, status, error }.into()),
        }
    }
    typed(call, &text)
}

/// `text` as a `T`.
fn typed<T: DeserializeOwned>(call: &'static str, text: &str) -> Result<T, ApiError> {
    serde_json::from_str(text).map_err(|source| UpstreamError::Decode { call, source }.into())
}

/// One answer of [`Upstream::msearch`] as a `T`.
pub fn msearch_item<T: DeserializeOwned>(answer: Value) -> Result<T, ApiError> {
    serde_json::from_value(answer).map_err(|source| UpstreamError::Decode { call: "msearch", source }.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::ClusterError;

    fn status(status: u16) -> ApiError {
        ApiError::Upstream(UpstreamError::Status { call: "search", status, error: ClusterError::default() })
    }

    #[test]
    fn server_faults_are_retried_twice_with_growing_pauses() {
        assert_eq!(retry_pause(&status(500), 0), Some(BACKOFF[0]));
        assert_eq!(retry_pause(&status(503), 1), Some(BACKOFF[1]));
        assert!(BACKOFF[0] < BACKOFF[1]);
        assert_eq!(retry_pause(&status(500), RETRIES), None, "then it gives up");
        let partial =
            ApiError::Upstream(UpstreamError::Partial { call: "search", failed: 1, total: 3, timed_out: false });
        assert!(retry_pause(&partial, 0).is_some());
    }

    #[test]
    fn what_would_fail_again_or_add_load_is_not_retried() {
        assert_eq!(retry_pause(&status(429), 0), None, "the cluster asks for less load");
        assert_eq!(retry_pause(&status(400), 0), None);
        assert_eq!(retry_pause(&ApiError::UpstreamTimeout(Duration::from_secs(1)), 0), None);
        assert_eq!(retry_pause(&ApiError::NoIndex, 0), None);
        assert_eq!(retry_pause(&ApiError::Overloaded, 0), None);
    }

    #[test]
    fn a_failed_msearch_item_fails_the_call_unless_its_index_is_missing() {
        let answer = |error: Value| MsearchAnswer { responses: vec![serde_json::json!({"hits": {"hits": []}}), error] };
        let missing = answer(serde_json::json!({"error": {"type": "index_not_found_exception"}, "status": 404}));
        assert!(missing.complete("msearch").is_ok());
        let lost = answer(serde_json::json!({"error": {"type": "node_not_connected_exception"}, "status": 500}));
        let e = lost.complete("msearch").unwrap_err();
        assert!(matches!(e, UpstreamError::Status { status: 500, .. }) && e.is_transient());
    }
}
