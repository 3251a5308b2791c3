//! `imdb-api`: the stateless HTTP search API over the search cluster, for
//! apps and the web UI. Any number of nodes run behind a load balancer;
//! none keeps state beyond a few seconds of response cache, so any node
//! answers any request.
//!
//! Request path: the middleware (`service`) applies the per-client rate
//! limit, times the request, counts it by route pattern and status, and
//! names the node in `X-Served-By`; the handler (`routes`) validates its
//! parameters, builds the cluster query from typed values, and makes one
//! call through `upstream` (concurrency limit, timeout).

pub mod cache;
pub mod cluster;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod params;
pub mod query;
pub mod ratelimit;
pub mod results;
pub mod routes;
pub mod service;
pub mod settings;
pub mod upstream;

use std::sync::Arc;

use imdb_model::index::IndexNames;

pub use error::ApiError;
pub use settings::Settings;

/// What every handler shares.
#[derive(Debug)]
pub struct State {
    /// The cluster client.
    pub upstream: upstream::Upstream,
    /// Index and alias names.
    pub names: IndexNames,
    /// Recent answers.
    pub cache: cache::ResponseCache,
    /// Per-client limits.
    pub limiter: ratelimit::RateLimiter,
    /// Metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// This node's name (`X-Served-By`).
    pub node_name: String,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl State {
    /// The shared state for `settings`.
    pub fn new(settings: &Settings) -> Result<State, ApiError> {
        let metrics = Arc::new(metrics::Metrics::default());
        if !settings.rate.limit.is_finite() || settings.rate.limit < 0.0 {
            return Err(ApiError::BadSetting(format!(
                "rate limit {} is not a rate (0 disables it)",
                settings.rate.limit
            )));
        }
        let names = IndexNames::new(&settings.index_prefix).ok_or_else(|| {
            ApiError::BadSetting(format!("index prefix `{}` is not a valid index name", settings.index_prefix))
        })?;
        Ok(State {
            upstream: upstream::Upstream::new(settings.cluster.clone(), metrics.clone())?,
            names,
            cache: cache::ResponseCache::new(settings.cache.entries, settings.cache.ttl),
            limiter: ratelimit::RateLimiter::new(settings.rate.limit, settings.rate.burst),
            metrics,
            node_name: settings.node_name.clone(),
            trusted_proxies: settings.rate.trusted_proxies.iter().map(std::net::IpAddr::to_canonical).collect(),
        })
    }
}
