//! The API node's settings: command-line flags, each also an environment
//! variable (`IMDB_API_*`, and the shared `IMDB_ES_URL`,
//! `IMDB_INDEX_PREFIX`), with the defaults a one-machine stack uses.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser};
use imdb_model::units::parse_duration;

/// Stateless HTTP search API over the search cluster, for apps and the web
/// UI: `/api/v1/search`, `/api/v1/suggest`, titles, people, genres, stats
/// (described at `/api/v1/openapi.json`), plus `/healthz`, `/readyz` and
/// `/metrics`. Run several behind a load balancer. Every flag can also be
/// set through the environment variable named in its help.
#[derive(Debug, Clone, Parser)]
#[command(name = "imdb-api", version)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "IMDB_API_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Prefix of the index names the indexer writes (`<prefix>-titles`, ...).
    #[arg(long, env = "IMDB_INDEX_PREFIX", default_value = imdb_model::index::DEFAULT_INDEX_PREFIX)]
    pub index_prefix: String,
    /// Name of this node in the `X-Served-By` header. Default: `api@<listen address>`.
    #[arg(long, env = "IMDB_API_NODE_NAME", default_value = "")]
    pub node_name: String,
    /// The search cluster.
    #[command(flatten)]
    pub cluster: ClusterSettings,
    /// The per-client rate limit.
    #[command(flatten)]
    pub rate: RateSettings,
    /// The response cache.
    #[command(flatten)]
    pub cache: CacheSettings,
    /// HTTP worker threads.
    #[arg(long, env = "IMDB_API_WORKERS", default_value_t = 2)]
    pub workers: usize,
    /// Folder of the built web UI, served at `/` when it exists.
    #[arg(long, env = "IMDB_API_UI_DIR", default_value = "ui/dist")]
    pub ui_dir: PathBuf,
    /// On SIGTERM, how long in-flight requests may take to finish.
    #[arg(long, env = "IMDB_API_SHUTDOWN_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
}

/// The search cluster: its nodes and the limits of the calls to it.
#[derive(Debug, Clone, Args)]
pub struct ClusterSettings {
    /// Search cluster node URLs, comma-separated (calls go to them in turn;
    /// a node that refuses connections is skipped for the next one and
    /// tried last for 5 s).
    #[arg(long = "es-url", env = "IMDB_ES_URL", value_delimiter = ',', default_value = "http://127.0.0.1:9200")]
    pub urls: Vec<String>,
    /// Timeout of one call to the search cluster (504 past it).
    #[arg(long = "upstream-timeout", env = "IMDB_API_UPSTREAM_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Calls to the search cluster in flight at most, per node.
    #[arg(long, env = "IMDB_API_MAX_CONCURRENCY", default_value_t = 32)]
    pub max_concurrency: usize,
    /// How long a request may wait for a free cluster slot (503 past it).
    #[arg(long, env = "IMDB_API_QUEUE_TIMEOUT", default_value = "1s", value_parser = parse_duration)]
    pub queue_timeout: Duration,
}

/// The per-client rate limit on `/api/`.
#[derive(Debug, Clone, Args)]
pub struct RateSettings {
    /// Requests per second allowed per client address; 0 disables the limit.
    #[arg(long = "rate-limit", env = "IMDB_API_RATE_LIMIT", default_value_t = 50.0)]
    pub limit: f64,
    /// Burst of requests allowed per client above the rate.
    #[arg(long = "rate-burst", env = "IMDB_API_RATE_BURST", default_value_t = 100)]
    pub burst: u32,
    /// Proxies (load balancers) whose `X-Forwarded-For` names the client, comma-separated.
    #[arg(long, env = "IMDB_API_TRUSTED_PROXIES", value_delimiter = ',', default_value = "127.0.0.1,::1")]
    pub trusted_proxies: Vec<IpAddr>,
}

/// The response cache of the search endpoints.
#[derive(Debug, Clone, Args)]
pub struct CacheSettings {
    /// Answers kept in the response cache; 0 disables it.
    #[arg(long = "cache-entries", env = "IMDB_API_CACHE_ENTRIES", default_value_t = 2000)]
    pub entries: usize,
    /// How long a cached answer is served.
    #[arg(long = "cache-ttl", env = "IMDB_API_CACHE_TTL", default_value = "5s", value_parser = parse_duration)]
    pub ttl: Duration,
}

impl Settings {
    /// Fills the defaults that depend on other settings.
    pub fn resolve(mut self) -> Settings {
        if self.node_name.is_empty() {
            self.node_name = format!("api@{}", self.listen);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_lists_split() {
        let s = Settings::try_parse_from(["imdb-api", "--es-url", "http://a:9200,http://b:9200"]).unwrap().resolve();
        assert_eq!(s.cluster.urls, ["http://a:9200", "http://b:9200"]);
        assert_eq!(s.node_name, "api@127.0.0.1:8080");
        assert_eq!(s.cluster.timeout, Duration::from_secs(5));
        assert_eq!(s.rate.trusted_proxies.len(), 2);
        assert!(Settings::try_parse_from(["imdb-api", "--cache-ttl", "soon"]).is_err());
    }
}
