//! `imdb-search-node`: a single-node Elasticsearch-compatible search server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use clap::Parser;
use imdb_search_node::search::contexts::Limits;
use imdb_search_node::{Node, http};

/// A single-node server speaking the subset of the Elasticsearch 8.x REST
/// API that imdb-search uses. Every flag can also be set through the
/// environment variable named in its help.
#[derive(Debug, Parser)]
#[command(name = "imdb-search-node", version)]
struct Cli {
    /// Address to listen on. Loopback by default: nothing else can reach it.
    #[arg(long, env = "IMDB_SEARCH_NODE_LISTEN", default_value = "127.0.0.1:9200")]
    listen: SocketAddr,
    /// Data folder: index metadata and data live here and survive restarts.
    #[arg(long, env = "IMDB_SEARCH_NODE_DATA", default_value = ".local/search-node")]
    data: PathBuf,
    /// HTTP worker threads (default: the core count).
    #[arg(long, env = "IMDB_SEARCH_NODE_WORKERS")]
    workers: Option<usize>,
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
    /// Open scrolls at most (Elasticsearch's `search.max_open_scroll_context`);
    /// one more is refused with a 429. Each holds its indexes' segments.
    #[arg(long, env = "IMDB_SEARCH_NODE_MAX_OPEN_SCROLL_CONTEXTS", default_value_t = Limits::default().max_scrolls)]
    max_open_scroll_contexts: usize,
    /// Open points in time at most; one more is refused with a 429.
    #[arg(long, env = "IMDB_SEARCH_NODE_MAX_OPEN_PIT_CONTEXTS", default_value_t = Limits::default().max_pits)]
    max_open_pit_contexts: usize,
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    imdb_telemetry::logging::init("info");
    let cli = Cli::parse();
    let auth = http::auth::Auth::new(cli.basic_auth.as_deref(), cli.api_key.as_deref());
    if !cli.listen.ip().is_loopback() && !auth.is_enabled() && !cli.allow_unauthenticated {
        anyhow::bail!(
            "refusing to listen on {} without authentication: set --basic-auth or --api-key (or --allow-unauthenticated)",
            cli.listen
        );
    }
    let auth = web::Data::new(auth);
    let limits =
        Limits { max_scrolls: cli.max_open_scroll_contexts, max_pits: cli.max_open_pit_contexts, ..Limits::default() };
    let node = Node::open(&cli.data).with_context(|| format!("opening {}", cli.data.display()))?;
    let node = Arc::new(node.with_context_limits(limits));
    node.start_refresher();
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
    if let Some(workers) = cli.workers {
        server = server.workers(workers);
    }
    let server = server.bind(cli.listen).with_context(|| format!("binding {}", cli.listen))?;
    tracing::info!(listen = %cli.listen, data = %cli.data.display(), "search node listening");
    server.run().await.context("server failed")?;
    // SIGTERM or SIGINT: actix has drained requests; leave nothing to replay.
    node.shutdown();
    tracing::info!("search node stopped");
    Ok(())
}
