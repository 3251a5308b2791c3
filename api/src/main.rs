//! `imdb-api`: runs one API node. SIGTERM or SIGINT stops it gracefully:
//! it stops accepting, lets in-flight requests finish (up to
//! `--shutdown-timeout`), and exits 0.
//!
//! Exit codes: 0 stopped by a signal; 1 the server failed (the address
//! cannot be bound, the runtime failed); 2 a flag clap cannot parse or a
//! setting that cannot work (a bad cluster URL, rate or index prefix).

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use clap::Parser;
use imdb_api::{Settings, State, service};
use imdb_telemetry::logging::{EXIT_FAILURE, EXIT_USAGE};

fn main() -> std::process::ExitCode {
    imdb_telemetry::logging::init("info");
    let settings = Settings::parse().resolve();
    let state = match State::new(&settings) {
        Ok(state) => web::Data::new(state),
        Err(e) => {
            tracing::error!(error = format!("{:#}", anyhow::Error::new(e)), "cannot start");
            return EXIT_USAGE.into();
        }
    };
    match serve(&settings, state) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "api node failed");
            EXIT_FAILURE.into()
        }
    }
}

/// Serves until a stop signal.
fn serve(settings: &Settings, state: web::Data<State>) -> anyhow::Result<()> {
    let ui_dir = settings.ui_dir.join("index.html").is_file().then(|| settings.ui_dir.clone());
    let listener =
        std::net::TcpListener::bind(settings.listen).with_context(|| format!("binding {}", settings.listen))?;
    tracing::info!(
        listen = %settings.listen,
        node = %settings.node_name,
        cluster = ?settings.cluster.urls,
        ui = ?ui_dir,
        "api node listening"
    );
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            App::new().wrap(from_fn(service::middleware)).configure(service::configure(state.clone(), ui_dir.clone()))
        })
        .workers(settings.workers.max(1))
        .shutdown_timeout(settings.shutdown_timeout.as_secs())
        .listen(listener)?
        .run()
        .await
    })?;
    tracing::info!("api node stopped");
    Ok(())
}
