//! `imdb-api`: runs one API node. SIGTERM or SIGINT stops it gracefully:
//! it stops accepting, lets in-flight requests finish (up to
//! `--shutdown-timeout`), and exits 0.

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use clap::Parser;
use imdb_api::{Settings, State, service};

fn main() -> anyhow::Result<()> {
    imdb_telemetry::logging::init("info");
    let settings = Settings::parse().resolve();
    let state = web::Data::new(State::new(&settings)?);
    let ui_dir = settings.ui_dir.join("index.html").is_file().then(|| settings.ui_dir.clone());
    let listener =
        std::net::TcpListener::bind(settings.listen).with_context(|| format!("binding {}", settings.listen))?;
    tracing::info!(
        listen = %settings.listen,
        node = %settings.node_name,
        cluster = ?settings.es_url,
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
