//! The REST layer: routes of the Elasticsearch API subset, response headers
//! and media types.
//!
//! Every response carries `X-Elastic-Product: Elasticsearch` (8.x clients
//! refuse a server without it). Bodies are read as bytes and parsed here, so
//! the versioned media types 8.x clients send
//! (`application/vnd.elasticsearch+json; compatible-with=8`) are accepted
//! like plain JSON, and a request in the versioned type is answered in it.
//! An API outside the subset gets an Elasticsearch-shaped 400 naming it.
//! Engine calls block (tantivy, fsync), so handlers run them on actix's
//! blocking pool, never on the event loop.

mod aliases;
pub mod auth;
mod docs;
mod indices;
mod paging;
mod search;

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::web::{self, Bytes, Query};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use crate::error::EsError;
use crate::node::Node;

/// The media type of 8.x clients' requests and of the answers to them.
const COMPAT_JSON: &str = "application/vnd.elasticsearch+json;compatible-with=8";

/// Query-string parameters.
pub(crate) type Params = Query<HashMap<String, String>>;
/// The node, as handlers receive it.
pub(crate) type NodeData = web::Data<Arc<Node>>;

/// Registers every route on an actix `App`. Fixed paths (`/_bulk`,
/// `/_cat/...`) come before the `/{index}` patterns that would match them.
pub fn configure(cfg: &mut web::ServiceConfig) {
    paging::configure(cfg);
    indices::configure_cluster(cfg);
    aliases::configure_global(cfg);
    search::configure_global(cfg);
    docs::configure(cfg);
    search::configure(cfg);
    aliases::configure(cfg);
    indices::configure(cfg);
    cfg.default_service(web::to(unsupported));
}

/// Adds the product header to every response.
pub fn product_header() -> DefaultHeaders {
    DefaultHeaders::new().add(("X-Elastic-Product", "Elasticsearch"))
}

/// Middleware: answers a request sent in the versioned media type in that
/// type (use with `actix_web::middleware::from_fn`).
pub async fn negotiate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let versioned = [header::ACCEPT, header::CONTENT_TYPE]
        .iter()
        .any(|h| req.headers().get(h).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("vnd.elasticsearch+")));
    let mut res = next.call(req).await?;
    let is_json =
        res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if versioned && is_json {
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(COMPAT_JSON));
    }
    Ok(res)
}

/// A JSON answer, pretty-printed with `?pretty`.
pub(crate) fn reply(status: StatusCode, body: &Value, params: &HashMap<String, String>) -> HttpResponse {
    let text =
        if params.contains_key("pretty") { serde_json::to_string_pretty(body) } else { serde_json::to_string(body) }
            .expect("JSON values serialise");
    HttpResponse::build(status).content_type("application/json").body(text)
}

/// The body as JSON; an empty body is `{}`.
pub(crate) fn json_body(body: &Bytes) -> Result<Value, EsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| EsError::parsing(format!("request body is not valid JSON: {e}")).caused_by(e))
}

/// A boolean query parameter.
pub(crate) fn flag(params: &HashMap<String, String>, name: &str) -> bool {
    crate::util::is_true(params.get(name).map(String::as_str))
}

/// Runs engine work on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, EsError> + Send + 'static,
) -> Result<T, EsError> {
    web::block(work).await.map_err(|e| EsError::internal(format!("worker pool: {e}")).caused_by(e))?
}

pub(crate) fn unsupported_api(method: &str, path: &str) -> EsError {
    EsError::illegal_argument(format!("imdb-search-node does not support [{method} {path}]"))
}

async fn unsupported(req: HttpRequest) -> Result<HttpResponse, EsError> {
    Err(unsupported_api(req.method().as_str(), req.path()))
}
