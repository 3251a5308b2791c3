//! `imdb-search-node`: a single-node Elasticsearch-compatible search server.
//! SIGTERM or SIGINT stops it: in-flight requests finish, every shard is
//! committed (nothing left to replay), and it exits 0.
//!
//! Exit codes: 0 stopped by a signal; 1 the node failed (its data folder
//! cannot be opened, the address cannot be bound); 2 a flag clap cannot
//! parse or settings that cannot work together (a public address without
//! authentication).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use clap::{Args, Parser};
use imdb_model::units::parse_duration;
use imdb_search_node::search::contexts::Limits;
use imdb_search_node::{Node, http, search};
use imdb_telemetry::logging::{EXIT_FAILURE, EXIT_USAGE};

/// mimalloc, not glibc's malloc: a search allocates and frees many small
/// buffers on the search threads (scorers, column readers, aggregation
/// buckets per segment), and glibc's arenas spent a sixth of a search's
/// time there, consolidating free chunks (bench/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A single-node server speaking the subset of the Elasticsearch 8.x REST
/// API that imdb-search uses. Every flag can also be set through the
/// environment variable named in its help.
#[derive(Debug, Parser)]
#[command(name = "imdb-search-node", version)]
struct Settings {
    /// Address to listen on. Loopback by default: nothing else can reach it.
    #[arg(long, env = "IMDB_SEARCH_NODE_LISTEN", default_value = "127.0.0.1:9200")]
    listen: SocketAddr,
    /// Data folder: index metadata and data live here and survive restarts.
    #[arg(long, env = "IMDB_SEARCH_NODE_DATA", default_value = ".local/search-node")]
    data: PathBuf,
    /// HTTP worker threads (default: the core count).
    #[arg(long, env = "IMDB_SEARCH_NODE_WORKERS")]
    workers: Option<usize>,
    /// Search threads, shared by every request's shard searches (0: the core count).
    #[arg(long, env = "IMDB_SEARCH_NODE_SEARCH_THREADS", default_value_t = 0)]
    search_threads: usize,
    /// Merge a shard into one segment once nothing was written to it for
    /// this long (after a bulk load, say: searches then open one segment
    /// per shard); 0s never.
    #[arg(long, env = "IMDB_SEARCH_NODE_IDLE_MERGE_AFTER", default_value = "30s", value_parser = parse_duration)]
    idle_merge_after: Duration,
    /// Who may call it.
    #[command(flatten)]
    auth: AuthSettings,
    /// Scroll and point-in-time limits.
    #[command(flatten)]
    contexts: ContextSettings,
}

/// Authentication of HTTP clients.
#[derive(Debug, Args)]
struct AuthSettings {
    /// Require HTTP basic authentication with these credentials (`user:password`).
    #[arg(long, env = "IMDB_SEARCH_NODE_BASIC_AUTH", value_name = "USER:PASSWORD", hide_env_values = true)]
    basic_auth: Option<String>,
    /// Require this API key (`Authorization: ApiKey <key>`, the encoded key as clients send it).
    #[arg(long, env = "IMDB_SEARCH_NODE_API_KEY", value_name = "KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Listen on a non-loopback address without any authentication. Off by
    /// default: anyone who can reach the port could read and delete every index.
    #[arg(long, env = "IMDB_SEARCH_NODE_ALLOW_UNAUTHENTICATED")]
    allow_unauthenticated: bool,
}

/// Limits of the open search contexts.
#[derive(Debug, Args)]
struct ContextSettings {
    /// Open scrolls at most (Elasticsearch's `search.max_open_scroll_context`);
    /// one more is refused with a 429. Each holds its indexes' segments.
    #[arg(long, env = "IMDB_SEARCH_NODE_MAX_OPEN_SCROLL_CONTEXTS", default_value_t = Limits::default().max_scrolls)]
    max_open_scroll_contexts: usize,
    /// Open points in time at most; one more is refused with a 429.
    #[arg(long, env = "IMDB_SEARCH_NODE_MAX_OPEN_PIT_CONTEXTS", default_value_t = Limits::default().max_pits)]
    max_open_pit_contexts: usize,
}

fn main() -> std::process::ExitCode {
    imdb_telemetry::logging::init("info");
    let settings = Settings::parse();
    let auth = http::auth::Auth::new(settings.auth.basic_auth.as_deref(), settings.auth.api_key.as_deref());
    if !settings.listen.ip().is_loopback() && !auth.is_enabled() && !settings.auth.allow_unauthenticated {
        tracing::error!(
            listen = %settings.listen,
            "refusing to listen without authentication: set --basic-auth or --api-key (or --allow-unauthenticated)"
        );
        return EXIT_USAGE.into();
    }
    match actix_web::rt::System::new().block_on(serve(&settings, auth)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "search node failed");
            EXIT_FAILURE.into()
        }
    }
}

/// Serves until a stop signal, then commits every shard.
async fn serve(settings: &Settings, auth: http::auth::Auth) -> anyhow::Result<()> {
    let auth = web::Data::new(auth);
    search::pool::configure(settings.search_threads)?;
    let limits = Limits {
        max_scrolls: settings.contexts.max_open_scroll_contexts,
        max_pits: settings.contexts.max_open_pit_contexts,
        ..Limits::default()
    };
    let node = Node::open(&settings.data).with_context(|| format!("opening {}", settings.data.display()))?;
    let node = Arc::new(node.with_context_limits(limits));
    node.start_refresher();
    if !settings.idle_merge_after.is_zero() {
        node.start_merger(settings.idle_merge_after);
    }
    let data = web::Data::new(node.clone());
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(auth.clone())
            .app_data(web::PayloadConfig::new(100 << 20))
            .wrap(from_fn(http::auth::check))
            .wrap(from_fn(http::negotiate))
            .wrap(http::product_header())
            .configure(http::configure)
    });
    if let Some(workers) = settings.workers {
        server = server.workers(workers);
    }
    let server = server.bind(settings.listen).with_context(|| format!("binding {}", settings.listen))?;
    tracing::info!(
        listen = %settings.listen,
        data = %settings.data.display(),
        search_threads = search::pool::threads(),
        "search node listening"
    );
    server.run().await.context("server failed")?;
    // SIGTERM or SIGINT: actix has drained requests; leave nothing to replay.
    node.shutdown();
    tracing::info!("search node stopped");
    Ok(())
}
