//! `imdb-indexer`: the Kafka-consumer indexer. Serves `/metrics` and
//! `/healthz`; SIGTERM or SIGINT stops it cleanly (sends finished or
//! abandoned, offsets committed, exit 0). Its flags are
//! [`imdb_indexer::Settings`], each also an environment variable.
//!
//! Exit codes: 0 stopped cleanly; 1 the run failed (Kafka, a search engine
//! that refuses the templates, the metrics port taken); 2 a flag or
//! setting that cannot work (an illegal index prefix, no engine URL;
//! clap's own code for a flag it cannot parse).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use clap::Parser;
use imdb_indexer::metrics::Metrics;
use imdb_indexer::{IndexerError, Settings, pipeline};
use imdb_telemetry::logging::{EXIT_FAILURE, EXIT_USAGE};

/// Serves the metrics until SIGTERM/SIGINT, then sets `stop`.
fn serve_metrics(listen: std::net::SocketAddr, metrics: Arc<Metrics>, stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    // Bound here, so that a taken port is an error of the command.
    let listener = std::net::TcpListener::bind(listen).with_context(|| format!("binding {listen}"))?;
    std::thread::Builder::new().name("metrics".into()).spawn(move || {
        let result = actix_web::rt::System::new().block_on(async move {
            HttpServer::new(move || {
                let metrics = metrics.clone();
                App::new()
                    .route(
                        "/metrics",
                        web::get().to(move || {
                            let text = metrics.render();
                            async move { HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(text) }
                        }),
                    )
                    .route("/healthz", web::get().to(|| async { HttpResponse::Ok().body("ok\n") }))
            })
            .workers(1)
            .shutdown_timeout(1)
            .listen(listener)?
            .run()
            .await
        });
        // actix's server handles SIGTERM and SIGINT; when it returns, stop.
        if let Err(e) = result {
            tracing::error!(error = %e, "metrics server failed");
        }
        tracing::info!("stop signal: finishing");
        stop.store(true, Ordering::Relaxed);
    })?;
    Ok(())
}

fn main() -> ExitCode {
    imdb_telemetry::logging::init("info");
    let settings = Settings::parse();
    match run(&settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            match error.downcast_ref::<IndexerError>() {
                Some(e) if e.is_user_error() => EXIT_USAGE.into(),
                _ => EXIT_FAILURE.into(),
            }
        }
    }
}

fn run(settings: &Settings) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::default());
    let stop = Arc::new(AtomicBool::new(false));
    serve_metrics(settings.metrics_listen, metrics.clone(), stop.clone())?;
    tracing::info!(
        brokers = %settings.kafka.brokers,
        es = %settings.engine.es_url,
        group = %settings.kafka.group,
        "indexer starting"
    );
    let summary = pipeline::run(settings, metrics, stop).context("indexer failed")?;
    tracing::info!(
        consumed = summary.consumed,
        indexed = summary.indexed,
        dead_lettered = summary.dead_lettered,
        "indexer stopped"
    );
    Ok(())
}
