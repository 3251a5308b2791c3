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
                    .service(get("/search", routes::search))
                    .service(get("/suggest", routes::suggest))
                    .service(get("/titles/{tconst}", routes::title))
                    .service(get("/people/search", routes::people_search))
                    .service(get("/people/{nconst}", routes::person))
                    .service(get("/genres", routes::genres))
                    .service(get("/stats", routes::stats))
                    .service(get("/openapi.json", openapi::serve))
                    .default_service(web::to(api_not_found)),
            )
            .service(get("/healthz", routes::healthz))
            .service(get("/readyz", routes::readyz))
            .service(get("/metrics", routes::metrics));
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
        let forwarded: Vec<&str> = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok()).collect();
        let client = req.peer_addr().map(|peer| client_ip(peer.ip(), &forwarded, &state.trusted_proxies));
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

/// The client's address. From a trusted proxy, the `X-Forwarded-For` chain
/// (all header lines, in order) is walked from the nearest hop back: the
/// first address that is not a trusted proxy is the client. Entries further
/// left were written by the client itself and prove nothing.
fn client_ip(peer: IpAddr, forwarded: &[&str], trusted: &[IpAddr]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = forwarded
        .iter()
        .flat_map(|line| line.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .collect();
    hops.iter().rev().find(|ip| !trusted.contains(ip)).or(hops.first()).copied().unwrap_or(peer)
}

/// A resource answering GET only; other methods get a problem+json 405.
fn get<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path).route(web::get().to(handler)).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(format!("{} {} (only GET)", req.method(), req.path())))
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
    let path = dir.0.join(relative);
    let index = dir.0.join("index.html");
    // File system calls block: off the few HTTP worker threads.
    let (path, bytes) = web::block(move || {
        let path = if path.is_file() { path } else { index };
        std::fs::read(&path).map(|bytes| (path, bytes))
    })
    .await
    .map_err(ApiError::UiFile)?
    .map_err(|_| ApiError::NotFound(format!("no file {}", req.path())))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_nearest_untrusted_hop() {
        let lb: IpAddr = "127.0.0.1".parse().unwrap();
        let trusted = [lb];
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        // HAProxy appends the address it saw; a client's own header stays in front.
        assert_eq!(client_ip(lb, &["1.2.3.4, 203.0.113.7"], &trusted), client);
        assert_eq!(client_ip(lb, &["1.2.3.4", "203.0.113.7"], &trusted), client, "several header lines");
        assert_eq!(client_ip(client, &["1.2.3.4"], &trusted), client, "an untrusted peer's header is ignored");
        assert_eq!(client_ip(lb, &[], &trusted), lb);
        assert_eq!(client_ip(lb, &["junk"], &trusted), lb);
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(client_ip(mapped, &["203.0.113.7"], &trusted), client, "dual-stack listener");
    }
}
