//! Search APIs: `_search` (which also opens scrolls and searches points in
//! time), `_count`, `_msearch`, `_delete_by_query`.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes, Path};
use serde_json::{Value, json};

use super::{NodeData, Params, blocking, flag, json_body, reply};
use crate::error::EsError;
use crate::node::Node;
use crate::ops::{Action, OpType};
use crate::query::{Query, QueryStringQuery};
use crate::search::{self, SearchRequest};
use crate::storage::index::IndexHandle;

pub(super) fn configure_global(cfg: &mut web::ServiceConfig) {
    cfg.route("/_search", web::get().to(search))
        .route("/_search", web::post().to(search))
        .route("/_count", web::get().to(count))
        .route("/_count", web::post().to(count))
        .route("/_msearch", web::get().to(msearch))
        .route("/_msearch", web::post().to(msearch));
}

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/{index}/_search", web::get().to(search))
        .route("/{index}/_search", web::post().to(search))
        .route("/{index}/_count", web::get().to(count))
        .route("/{index}/_count", web::post().to(count))
        .route("/{index}/_msearch", web::get().to(msearch))
        .route("/{index}/_msearch", web::post().to(msearch))
        .route("/{index}/_delete_by_query", web::post().to(delete_by_query));
}

/// The indexes a search targets (all of them when none is named).
fn targets(
    node: &Node,
    index: Option<&str>,
    params: &HashMap<String, String>,
) -> Result<Vec<Arc<IndexHandle>>, EsError> {
    let expression = index.unwrap_or("_all");
    node.handles(expression, flag(params, "ignore_unavailable"))
}

/// The query of `_count` and `_delete_by_query`: `q=` in the URL wins over
/// the body's `query`.
fn query_of(params: &HashMap<String, String>, body: &Value) -> Result<Option<Query>, EsError> {
    match (params.get("q"), body.get("query")) {
        (Some(q), _) => {
            let and = params.get("default_operator").is_some_and(|o| o.eq_ignore_ascii_case("and"));
            let df = params.get("df").map(String::as_str);
            Ok(Some(Query::QueryString(QueryStringQuery::from_url(q, df, and, None))))
        }
        (None, Some(q)) => Query::parse(q).map(Some),
        (None, None) => Ok(None),
    }
}

async fn search(
    node: NodeData,
    index: Option<Path<String>>,
    params: Params,
    body: Bytes,
) -> Result<HttpResponse, EsError> {
    let body = json_body(&body)?;
    let index = index.map(Path::into_inner);
    let request = SearchRequest::parse(&body, &params)?;
    if request.pit.is_some() && index.is_some() {
        return Err(EsError::validation(
            "[indices] cannot be used with point in time. Do not specify any index with point in time.",
        ));
    }
    let p = params.clone();
    let response = blocking(move || {
        if request.pit.is_some() {
            search::pit::search(&node.contexts, &request)
        } else if request.scroll.is_some() {
            search::scroll::start(&node.contexts, &targets(&node, index.as_deref(), &p)?, request)
        } else {
            search::search(&targets(&node, index.as_deref(), &p)?, &request)
        }
    })
    .await?;
    Ok(reply(StatusCode::OK, &response, &params))
}

async fn count(
    node: NodeData,
    index: Option<Path<String>>,
    params: Params,
    body: Bytes,
) -> Result<HttpResponse, EsError> {
    let body = json_body(&body)?;
    let index = index.map(Path::into_inner);
    let query = query_of(&params, &body)?.unwrap_or(Query::MatchAll { boost: 1.0 });
    if let Some(unknown) = body.as_object().and_then(|m| m.keys().find(|k| *k != "query")) {
        return Err(EsError::parsing(format!("request does not support [{unknown}]")));
    }
    let p = params.clone();
    let (total, shards) = blocking(move || {
        let handles = targets(&node, index.as_deref(), &p)?;
        let shards: usize = handles.iter().map(|h| h.shards().len()).sum();
        Ok((search::count(&handles, &query)?, shards))
    })
    .await?;
    let body = json!({"count": total, "_shards": {"total": shards, "successful": shards, "skipped": 0, "failed": 0}});
    Ok(reply(StatusCode::OK, &body, &params))
}

async fn msearch(
    node: NodeData,
    index: Option<Path<String>>,
    params: Params,
    body: Bytes,
) -> Result<HttpResponse, EsError> {
    let started = std::time::Instant::now();
    let default_index = index.map(Path::into_inner);
    let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)).collect();
    if !lines.len().is_multiple_of(2) {
        return Err(EsError::illegal_argument("[msearch] expects header and body lines in pairs"));
    }
    let mut requests = Vec::new();
    for pair in lines.chunks(2) {
        let header: Value = serde_json::from_slice(pair[0])
            .map_err(|e| EsError::parsing(format!("[msearch] header is not JSON: {e}")).caused_by(e))?;
        let body: Value = serde_json::from_slice(pair[1])
            .map_err(|e| EsError::parsing(format!("[msearch] body is not JSON: {e}")).caused_by(e))?;
        let index = header.get("index").map(|v| match v {
            Value::Array(a) => a.iter().map(crate::util::plain).collect::<Vec<_>>().join(","),
            other => crate::util::plain(other),
        });
        let mut request_params = params.clone().into_inner();
        for key in ["ignore_unavailable", "routing", "search_type"] {
            if let Some(v) = header.get(key) {
                request_params.insert(key.to_owned(), crate::util::plain(v));
            }
        }
        requests.push((index.or_else(|| default_index.clone()), body, request_params));
    }
    let responses = blocking(move || {
        Ok(requests
            .into_iter()
            .map(|(index, body, request_params)| {
                let result = SearchRequest::parse(&body, &request_params)
                    .and_then(|r| search::search(&targets(&node, index.as_deref(), &request_params)?, &r));
                match result {
                    Ok(mut response) => {
                        response["status"] = json!(200);
                        response
                    }
                    Err(e) => e.body(),
                }
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(reply(StatusCode::OK, &json!({"took": started.elapsed().as_millis() as u64, "responses": responses}), &params))
}

async fn delete_by_query(
    node: NodeData,
    index: Path<String>,
    params: Params,
    body: Bytes,
) -> Result<HttpResponse, EsError> {
    let started = std::time::Instant::now();
    let body = json_body(&body)?;
    let query = query_of(&params, &body)?.ok_or_else(|| EsError::validation("query is missing"))?;
    let expression = index.into_inner();
    let refresh = flag(&params, "refresh");
    let p = params.clone();
    let (total, deleted, conflicts) = blocking(move || {
        let handles = node.handles(&expression, flag(&p, "ignore_unavailable"))?;
        let (mut total, mut deleted, mut conflicts) = (0u64, 0u64, 0u64);
        for handle in handles {
            let ids = search::matching_ids(&handle, &query)?;
            total += ids.len() as u64;
            let name = handle.name();
            let actions = ids
                .into_iter()
                .map(|id| Action {
                    op: OpType::Delete,
                    index: name.clone(),
                    id: Some(id),
                    routing: None,
                    body: Ok(Default::default()),
                    conditions: Default::default(),
                    retry_on_conflict: 0,
                    require_alias: false,
                })
                .collect();
            for item in crate::ops::execute(&node, actions) {
                match item.status {
                    StatusCode::OK => deleted += 1,
                    StatusCode::CONFLICT => conflicts += 1,
                    _ => {}
                }
            }
            if refresh {
                handle.refresh()?;
            }
        }
        Ok((total, deleted, conflicts))
    })
    .await?;
    let body = json!({
        "took": started.elapsed().as_millis() as u64,
        "timed_out": false,
        "total": total,
        "deleted": deleted,
        "batches": u64::from(total > 0),
        "version_conflicts": conflicts,
        "noops": 0,
        "retries": {"bulk": 0, "search": 0},
        "throttled_millis": 0,
        "requests_per_second": -1.0,
        "throttled_until_millis": 0,
        "failures": []
    });
    Ok(reply(StatusCode::OK, &body, &params))
}
