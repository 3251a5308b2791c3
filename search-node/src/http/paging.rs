//! Deep-paging APIs: scroll (`/_search/scroll`) and point in time (`_pit`).
//! Opening a scroll and searching a point in time go through `_search`
//! (`search.rs`); the engine side is `crate::search::{scroll, pit}`.
//!
//! Where a scroll id may come from, as in Elasticsearch: the path
//! (`/_search/scroll/{id}`, comma separated for clearing), the `scroll_id`
//! parameter, or the body's `scroll_id` (a string or, for clearing, a
//! list); `_all` clears every scroll. These routes are registered before
//! the `/{index}` patterns (`DELETE /_pit` is not deleting an index).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes, Path};
use serde_json::Value;

use super::{NodeData, Params, blocking, json_body, reply};
use crate::error::EsError;
use crate::search::request::keep_alive;
use crate::search::{pit, scroll};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/_search/scroll", web::get().to(scroll_next))
        .route("/_search/scroll", web::post().to(scroll_next))
        .route("/_search/scroll", web::delete().to(scroll_clear))
        .route("/_search/scroll/{scroll_id}", web::get().to(scroll_next))
        .route("/_search/scroll/{scroll_id}", web::post().to(scroll_next))
        .route("/_search/scroll/{scroll_id}", web::delete().to(scroll_clear))
        .route("/_pit", web::delete().to(pit_close))
        .route("/{index}/_pit", web::post().to(pit_open));
}

/// The ids a body names under `key`: a string or a list of strings.
fn body_ids(body: &Value, key: &str) -> Result<Vec<String>, EsError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(id)) => Ok(vec![id.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| EsError::parsing(format!("[{key}] must hold strings")))
            })
            .collect(),
        Some(_) => Err(EsError::parsing(format!("[{key}] must be a string or an array of strings"))),
    }
}

/// Refuses body keys other than `known`.
fn only(body: &Value, known: &[&str], api: &str) -> Result<(), EsError> {
    match body.as_object().and_then(|m| m.keys().find(|k| !known.contains(&k.as_str()))) {
        Some(unknown) => Err(EsError::illegal_argument(format!(
            "Unknown parameter [{unknown}] in request body or parameter is of the wrong type[{api}] "
        ))),
        None => Ok(()),
    }
}

async fn scroll_next(
    node: NodeData,
    path_id: Option<Path<String>>,
    params: Params,
    body: Bytes,
) -> Result<HttpResponse, EsError> {
    let body = json_body(&body)?;
    only(&body, &["scroll_id", "scroll", "rest_total_hits_as_int"], "scroll")?;
    let id = match (path_id, params.get("scroll_id"), body_ids(&body, "scroll_id")?.pop()) {
        (Some(id), _, _) => id.into_inner(),
        (None, Some(id), _) => id.clone(),
        (None, None, Some(id)) => id,
        (None, None, None) => return Err(EsError::validation("scrollId is missing")),
    };
    let keep = match (params.get("scroll"), body.get("scroll")) {
        (Some(v), _) => Some(keep_alive(&Value::String(v.clone()), "scroll")?),
        (None, Some(v)) => Some(keep_alive(v, "scroll")?),
        (None, None) => None,
    };
    let as_int = super::flag(&params, "rest_total_hits_as_int")
        || body.get("rest_total_hits_as_int") == Some(&Value::Bool(true));
    let response = blocking(move || scroll::next(&node.contexts, &id, keep, as_int)).await?;
    Ok(reply(StatusCode::OK, &response, &params))
}

async fn scroll_clear(
    node: NodeData,
    path_id: Option<Path<String>>,
    params: Params,
    body: Bytes,
) -> Result<HttpResponse, EsError> {
    let body = json_body(&body)?;
    only(&body, &["scroll_id"], "clear_scroll")?;
    let mut ids: Vec<String> = match (path_id, params.get("scroll_id")) {
        (Some(ids), _) => ids.split(',').map(str::to_owned).collect(),
        (None, Some(ids)) => ids.split(',').map(str::to_owned).collect(),
        (None, None) => Vec::new(),
    };
    ids.extend(body_ids(&body, "scroll_id")?);
    ids.retain(|id| !id.is_empty());
    if ids.is_empty() {
        return Err(EsError::validation("no scroll ids specified"));
    }
    let (response, status) = scroll::clear(&node.contexts, &ids)?;
    Ok(reply(status, &response, &params))
}

async fn pit_open(node: NodeData, index: Path<String>, params: Params) -> Result<HttpResponse, EsError> {
    let keep = match params.get("keep_alive") {
        Some(v) => keep_alive(&Value::String(v.clone()), "keep_alive")?,
        None => return Err(EsError::validation("[keep_alive] is not specified")),
    };
    let expression = index.into_inner();
    let ignore = super::flag(&params, "ignore_unavailable");
    let response = blocking(move || {
        let handles = node.handles(&expression, ignore)?;
        pit::open(&node.contexts, &handles, keep)
    })
    .await?;
    Ok(reply(StatusCode::OK, &response, &params))
}

async fn pit_close(node: NodeData, params: Params, body: Bytes) -> Result<HttpResponse, EsError> {
    let body = json_body(&body)?;
    only(&body, &["id"], "close_point_in_time")?;
    let ids = body_ids(&body, "id")?;
    if ids.is_empty() {
        return Err(EsError::validation("[id] is not specified"));
    }
    let (response, status) = pit::close(&node.contexts, &ids)?;
    Ok(reply(status, &response, &params))
}
