//! Alias APIs: `_aliases` actions, put / get / exists / delete alias, and
//! `_cat/aliases`.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes, Path};
use serde_json::{Map, Value, json};

use super::indices::cat_table;
use super::{NodeData, Params, blocking, json_body, reply};
use crate::error::EsError;
use crate::node::aliases::{AliasAction, definition, parse_actions};

pub(super) fn configure_global(cfg: &mut web::ServiceConfig) {
    cfg.route("/_aliases", web::post().to(update))
        .route("/_alias", web::get().to(get_all))
        .route("/_alias", web::put().to(put_body_only))
        .route("/_aliases", web::get().to(get_all))
        .route("/_alias/{name}", web::get().to(get_named))
        .route("/_alias/{name}", web::head().to(exists_named))
        .route("/_alias/{name}", web::put().to(put_named))
        .route("/_alias/{name}", web::post().to(put_named))
        .route("/_aliases/{name}", web::put().to(put_named))
        .route("/_aliases/{name}", web::post().to(put_named))
        .route("/_cat/aliases", web::get().to(cat))
        .route("/_cat/aliases/{name}", web::get().to(cat));
}

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    for path in ["/{index}/_alias/{name}", "/{index}/_aliases/{name}"] {
        cfg.route(path, web::put().to(put))
            .route(path, web::post().to(put))
            .route(path, web::delete().to(delete))
            .route(path, web::get().to(get_on_index))
            .route(path, web::head().to(exists_on_index));
    }
    cfg.route("/{index}/_alias", web::get().to(get_index_all))
        .route("/{index}/_aliases", web::get().to(get_index_all))
        .route("/{index}/_alias", web::put().to(put_from_body))
        .route("/{index}/_alias", web::post().to(put_from_body))
        .route("/{index}/_aliases", web::put().to(put_from_body));
}

async fn update(node: NodeData, params: Params, body: Bytes) -> Result<HttpResponse, EsError> {
    let actions = parse_actions(&json_body(&body)?)?;
    blocking(move || node.update_aliases(&actions)).await?;
    Ok(reply(StatusCode::OK, &json!({"acknowledged": true, "errors": false}), &params))
}

async fn put(
    node: NodeData,
    path: Path<(String, String)>,
    params: Params,
    body: Bytes,
) -> Result<HttpResponse, EsError> {
    let (index, name) = path.into_inner();
    add(node, Some(index), Some(name), params, body).await
}

async fn put_from_body(
    node: NodeData,
    index: Path<String>,
    params: Params,
    body: Bytes,
) -> Result<HttpResponse, EsError> {
    add(node, Some(index.into_inner()), None, params, body).await
}

/// `PUT /_alias`: the indexes and the alias come from the body.
async fn put_body_only(node: NodeData, params: Params, body: Bytes) -> Result<HttpResponse, EsError> {
    add(node, None, None, params, body).await
}

/// `PUT /_alias/{name}`: the indexes come from the body.
async fn put_named(node: NodeData, name: Path<String>, params: Params, body: Bytes) -> Result<HttpResponse, EsError> {
    add(node, None, Some(name.into_inner()), params, body).await
}

/// Adds an alias; `index`/`indices` and `alias` in the body win over the path.
async fn add(
    node: NodeData,
    index: Option<String>,
    name: Option<String>,
    params: Params,
    body: Bytes,
) -> Result<HttpResponse, EsError> {
    let body = json_body(&body)?;
    let empty = Map::new();
    let map = body.as_object().unwrap_or(&empty);
    let list = |one: &str, many: &str| -> Option<Vec<String>> {
        map.get(one).or_else(|| map.get(many)).map(|v| match v {
            Value::Array(a) => a.iter().map(crate::util::plain).collect(),
            other => vec![crate::util::plain(other)],
        })
    };
    let indices = list("index", "indices")
        .or_else(|| index.map(|i| vec![i]))
        .ok_or_else(|| EsError::validation("index is missing"))?;
    let aliases = list("alias", "aliases")
        .or_else(|| name.map(|n| vec![n]))
        .ok_or_else(|| EsError::validation("alias is missing"))?;
    let definition = definition(map)?;
    let action = AliasAction::Add { indices, aliases, definition, must_exist: false };
    blocking(move || node.update_aliases(&[action])).await?;
    Ok(reply(StatusCode::OK, &json!({"acknowledged": true}), &params))
}

async fn delete(node: NodeData, path: Path<(String, String)>, params: Params) -> Result<HttpResponse, EsError> {
    let (index, name) = path.into_inner();
    let aliases: Vec<String> = name.split(',').map(str::to_owned).collect();
    let action = AliasAction::Remove { indices: vec![index], aliases, must_exist: None };
    blocking(move || node.update_aliases(&[action])).await?;
    Ok(reply(StatusCode::OK, &json!({"acknowledged": true}), &params))
}

/// The GET answer: indexes with their matching aliases; a named alias that
/// matches nothing is a 404 in Elasticsearch's own shape for this API.
fn answer(
    node: &crate::node::Node,
    indices: &str,
    names: Option<&str>,
    params: &Params,
) -> Result<HttpResponse, EsError> {
    let found = node.aliases(indices, names)?;
    let mut body = Map::new();
    let mut any = false;
    for (index, aliases) in found {
        if names.is_some() && aliases.is_empty() {
            continue;
        }
        any |= !aliases.is_empty();
        body.insert(index, json!({ "aliases": aliases }));
    }
    if let Some(names) = names
        && !any
        && !names.contains('*')
    {
        return Ok(reply(
            StatusCode::NOT_FOUND,
            &json!({"error": format!("alias [{names}] missing"), "status": 404}),
            params,
        ));
    }
    Ok(reply(StatusCode::OK, &Value::Object(body), params))
}

async fn get_all(node: NodeData, params: Params) -> Result<HttpResponse, EsError> {
    answer(&node, "_all", None, &params)
}

async fn get_named(node: NodeData, name: Path<String>, params: Params) -> Result<HttpResponse, EsError> {
    answer(&node, "_all", Some(&name), &params)
}

async fn get_index_all(node: NodeData, index: Path<String>, params: Params) -> Result<HttpResponse, EsError> {
    answer(&node, &index, None, &params)
}

async fn get_on_index(node: NodeData, path: Path<(String, String)>, params: Params) -> Result<HttpResponse, EsError> {
    let (index, name) = path.into_inner();
    answer(&node, &index, Some(&name), &params)
}

fn exists(node: &crate::node::Node, indices: &str, name: &str) -> HttpResponse {
    match node.aliases(indices, Some(name)) {
        Ok(found) if found.values().any(|a| !a.is_empty()) => HttpResponse::Ok().finish(),
        _ => HttpResponse::NotFound().finish(),
    }
}

async fn exists_named(node: NodeData, name: Path<String>) -> HttpResponse {
    exists(&node, "_all", &name)
}

async fn exists_on_index(node: NodeData, path: Path<(String, String)>) -> HttpResponse {
    let (index, name) = path.into_inner();
    exists(&node, &index, &name)
}

async fn cat(node: NodeData, name: Option<Path<String>>, params: Params) -> Result<HttpResponse, EsError> {
    let found = node.aliases("_all", name.as_deref().map(String::as_str))?;
    let mut rows = Vec::new();
    for (index, aliases) in found {
        for (alias, def) in aliases {
            let text = |k: &str| def.get(k).map_or_else(|| "-".to_owned(), crate::util::plain);
            rows.push(json!({
                "alias": alias,
                "index": index,
                "filter": "-",
                "routing.index": text("index_routing"),
                "routing.search": text("search_routing"),
                "is_write_index": text("is_write_index"),
            }));
        }
    }
    Ok(cat_table(&rows, &["alias", "index", "filter", "routing.index", "routing.search", "is_write_index"], &params))
}
