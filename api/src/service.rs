//! The HTTP service: routes, the middleware every request passes through,
//! and the built UI's static files.
//!
//! Middleware order, outermost first: `X-Served-By` and metrics (so even a
//! rate-limited request is counted and named), then the rate limit (only
//! on `/api/`: probes and scrapes are never limited).

use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::error::ApiError;
use crate::{State, openapi, routes};

/// Registers every route on an app sharing `state`.
pub fn configure(state: web::Data<State>, ui_dir: Option<PathBuf>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(state)
            .app_data(web::PathConfig::default().error_handler(|e, _| ApiError::invalid("path", e.to_string()).into()))
            .service(
                web::scope("/api/v1")
                    .route("/search", web::get().to(routes::search))
                    .route("/suggest", web::get().to(routes::suggest))
                    .route("/titles/{tconst}", web::get().to(routes::title))
                    .route("/people/search", web::get().to(routes::people_search))
                    .route("/people/{nconst}", web::get().to(routes::person))
                    .route("/genres", web::get().to(routes::genres))
                    .route("/stats", web::get().to(routes::stats))
                    .route("/openapi.json", web::get().to(openapi::serve))
                    .default_service(web::to(api_not_found)),
            )
            .route("/healthz", web::get().to(routes::healthz))
            .route("/readyz", web::get().to(routes::readyz))
            .route("/metrics", web::get().to(routes::metrics));
        match ui_dir {
            Some(dir) => {
                cfg.app_data(web::Data::new(UiDir(dir))).default_service(web::get().to(ui_file));
            }
            None => {
                cfg.default_service(web::to(api_not_found));
            }
        }
    }
}

/// The middleware: node name, metrics, and the rate limit on `/api/`.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> actix_web::Result<ServiceResponse<BoxBody>> {
    let state = req.app_data::<web::Data<State>>().cloned().expect("state is registered");
    let started = Instant::now();
    let limited = if req.path().starts_with("/api/") {
        let client = client_ip(&req, &state.trusted_proxies);
        client.and_then(|ip| state.limiter.check(ip).err())
    } else {
        None
    };
    let mut response = match limited {
        Some(retry_after_secs) => {
            state.metrics.rate_limited.inc();
            let error = ApiError::RateLimited { retry_after_secs };
            req.into_response(error.error_response())
        }
        None => next.call(req).await?.map_into_boxed_body(),
    };
    let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    state.metrics.observe_request(&route, response.status().as_u16(), started.elapsed());
    if let Ok(name) = HeaderValue::from_str(&state.node_name) {
        response.headers_mut().insert("x-served-by".parse().expect("valid header name"), name);
    }
    Ok(response)
}

/// The client's address: the peer, or the first `X-Forwarded-For` entry
/// when the peer is a trusted proxy.
fn client_ip(req: &ServiceRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
    Some(forwarded.and_then(|f| f.split(',').next()).and_then(|ip| ip.trim().parse().ok()).unwrap_or(peer))
}

async fn api_not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!("no route {} {}", req.method(), req.path())))
}

/// The built UI's folder.
#[derive(Debug)]
struct UiDir(PathBuf);

/// Serves a file of the built UI; paths without a file are the single-page
/// app's own routes and get `index.html`.
async fn ui_file(req: HttpRequest, dir: web::Data<UiDir>) -> Result<HttpResponse, ApiError> {
    let relative = Path::new(req.path().trim_start_matches('/'));
    // Only plain names: no `..`, no absolute paths, no drive prefixes.
    if !relative.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(ApiError::NotFound(format!("no file {}", req.path())));
    }
    let mut path = dir.0.join(relative);
    if !path.is_file() {
        path = dir.0.join("index.html");
    }
    let bytes = std::fs::read(&path).map_err(|_| ApiError::NotFound(format!("no file {}", req.path())))?;
    let kind = match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    };
    Ok(HttpResponse::Ok().insert_header((CONTENT_TYPE, kind)).body(bytes))
}
