//! Document APIs: index, create, get, exists, `_source`, delete, update,
//! `_mget`, `_bulk`, and index templates.

use std::collections::{BTreeSet, HashMap};

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes, Path};
use serde_json::{Map, Value, json};

use super::{NodeData, Params, blocking, flag, json_body, reply};
use crate::error::EsError;
use crate::node::Node;
use crate::ops::bulk::{self, Defaults};
use crate::ops::{Action, Item, OpType, conditions};
use crate::search::source_filter::SourceFilter;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/_bulk", web::post().to(bulk))
        .route("/_bulk", web::put().to(bulk))
        .route("/_mget", web::post().to(mget))
        .route("/_mget", web::get().to(mget))
        .route("/_index_template", web::get().to(get_template))
        .route("/_index_template/{name}", web::get().to(get_template))
        .route("/_index_template/{name}", web::head().to(template_exists))
        .route("/_index_template/{name}", web::put().to(put_template))
        .route("/_index_template/{name}", web::post().to(put_template))
        .route("/_index_template/{name}", web::delete().to(delete_template))
        .route("/{index}/_bulk", web::post().to(bulk))
        .route("/{index}/_bulk", web::put().to(bulk))
        .route("/{index}/_mget", web::post().to(mget))
        .route("/{index}/_mget", web::get().to(mget))
        .route("/{index}/_doc", web::post().to(index_auto_id))
        .route("/{index}/_doc/{id}", web::put().to(index_doc))
        .route("/{index}/_doc/{id}", web::post().to(index_doc))
        .route("/{index}/_create/{id}", web::put().to(create_doc))
        .route("/{index}/_create/{id}", web::post().to(create_doc))
        .route("/{index}/_doc/{id}", web::get().to(get_doc))
        .route("/{index}/_doc/{id}", web::head().to(doc_exists))
        .route("/{index}/_source/{id}", web::get().to(get_source))
        .route("/{index}/_source/{id}", web::head().to(doc_exists))
        .route("/{index}/_doc/{id}", web::delete().to(delete_doc))
        .route("/{index}/_update/{id}", web::post().to(update_doc));
}

/// Applies `refresh` (`true`, `wait_for`) to the shards written, as
/// Elasticsearch does: other shards keep their last refresh.
fn refresh_after(
    node: &Node,
    params: &HashMap<String, String>,
    written: &BTreeSet<(String, usize)>,
) -> Result<bool, EsError> {
    let mode = params.get("refresh").map(String::as_str);
    match mode {
        None | Some("false") => Ok(false),
        Some("" | "true") => {
            for (name, shard) in written {
                node.handle(name)?.refresh_shard(*shard)?;
            }
            Ok(true)
        }
        Some("wait_for") => {
            let indexes: BTreeSet<&String> = written.iter().map(|(name, _)| name).collect();
            for name in indexes {
                node.handle(name)?.wait_for_refresh()?;
            }
            Ok(false)
        }
        Some(other) => Err(EsError::illegal_argument(format!("Unknown value for refresh: [{other}]."))),
    }
}

/// The (index, shard) pairs the items wrote to.
fn indexes_of(items: &[Item]) -> BTreeSet<(String, usize)> {
    items.iter().filter_map(|i| Some((i.body["_index"].as_str()?.to_owned(), i.shard?))).collect()
}

/// Executes one action of a single-document API and answers with its item.
async fn single(node: NodeData, action: Action, params: Params) -> Result<HttpResponse, EsError> {
    let (item, forced) = blocking(move || {
        let item = crate::ops::execute(&node, vec![action]).pop().expect("one item");
        let forced = refresh_after(&node, &params, &indexes_of(std::slice::from_ref(&item)))?;
        Ok((item, forced))
    })
    .await?;
    if let Some(e) = item.error {
        return Err(e);
    }
    let mut body = item.body;
    if forced {
        body["forced_refresh"] = json!(true);
    }
    Ok(reply(item.status, &body, &HashMap::new()))
}

fn action_from(
    op: OpType,
    index: String,
    id: Option<String>,
    params: &HashMap<String, String>,
    body: &Bytes,
) -> Action {
    let source = json_body(body).and_then(|v| match v {
        Value::Object(m) => Ok(m),
        _ => Err(EsError::document_parsing("failed to parse: source must be a JSON object")),
    });
    let p = |k: &str| params.get(k).map(|v| Value::String(v.clone()));
    let conditions = conditions(
        p("if_seq_no").as_ref(),
        p("if_primary_term").as_ref(),
        p("version").as_ref(),
        params.get("version_type").map(String::as_str),
    );
    let (conditions, body) = match conditions {
        Ok(c) => (c, source),
        Err(e) => (Default::default(), Err(e)),
    };
    let op = if op == OpType::Index && params.get("op_type").map(String::as_str) == Some("create") {
        OpType::Create
    } else {
        op
    };
    Action {
        op,
        index,
        id,
        routing: params.get("routing").cloned(),
        body,
        conditions,
        retry_on_conflict: params.get("retry_on_conflict").and_then(|v| v.parse().ok()).unwrap_or(0),
        require_alias: flag(params, "require_alias"),
    }
}

async fn index_doc(
    node: NodeData,
    path: Path<(String, String)>,
    params: Params,
    body: Bytes,
) -> Result<HttpResponse, EsError> {
    let (index, id) = path.into_inner();
    let action = action_from(OpType::Index, index, Some(id), &params, &body);
    single(node, action, params).await
}

async fn index_auto_id(
    node: NodeData,
    index: Path<String>,
    params: Params,
    body: Bytes,
) -> Result<HttpResponse, EsError> {
    let action = action_from(OpType::Index, index.into_inner(), None, &params, &body);
    single(node, action, params).await
}

async fn create_doc(
    node: NodeData,
    path: Path<(String, String)>,
    params: Params,
    body: Bytes,
) -> Result<HttpResponse, EsError> {
    let (index, id) = path.into_inner();
    let action = action_from(OpType::Create, index, Some(id), &params, &body);
    single(node, action, params).await
}

async fn delete_doc(node: NodeData, path: Path<(String, String)>, params: Params) -> Result<HttpResponse, EsError> {
    let (index, id) = path.into_inner();
    let action = action_from(OpType::Delete, index, Some(id), &params, &Bytes::new());
    single(node, action, params).await
}

async fn update_doc(
    node: NodeData,
    path: Path<(String, String)>,
    params: Params,
    body: Bytes,
) -> Result<HttpResponse, EsError> {
    let (index, id) = path.into_inner();
    let mut action = action_from(OpType::Update, index, Some(id), &params, &body);
    if let (Ok(body), Some(source)) = (&mut action.body, params.get("_source")) {
        body.entry("_source").or_insert_with(|| match source.as_str() {
            "" | "true" => json!(true),
            "false" => json!(false),
            fields => json!(fields),
        });
    }
    single(node, action, params).await
}

fn source_filter(params: &HashMap<String, String>) -> SourceFilter {
    SourceFilter::from_params(
        params.get("_source").map(String::as_str),
        params.get("_source_includes").or_else(|| params.get("_source_include")).map(String::as_str),
        params.get("_source_excludes").or_else(|| params.get("_source_exclude")).map(String::as_str),
    )
}

/// The get response of one document (found or not).
fn get_body(
    node: &Node,
    index: &str,
    id: &str,
    routing: Option<&str>,
    filter: &SourceFilter,
) -> Result<(bool, Value), EsError> {
    let handle = match node.handles(index, false)?.as_slice() {
        [one] => one.clone(),
        [] => return Err(EsError::index_not_found(index)),
        _ => {
            return Err(EsError::illegal_argument(format!(
                "alias [{index}] has more than one index associated with it, can't execute a single index op"
            )));
        }
    };
    let name = handle.name();
    match handle.get(id, routing)? {
        None => Ok((false, json!({"_index": name, "_id": id, "found": false}))),
        Some(doc) => {
            let mut body = json!({"_index": name, "_id": id, "_version": doc.version, "_seq_no": doc.seq_no, "_primary_term": 1, "found": true});
            if let Some(routing) = &doc.routing {
                body["_routing"] = json!(routing);
            }
            let source: Value = serde_json::from_str(&doc.source).unwrap_or(Value::Null);
            if let Some(filtered) = filter.apply(&source) {
                body["_source"] = filtered;
            }
            Ok((true, body))
        }
    }
}

async fn get_doc(node: NodeData, path: Path<(String, String)>, params: Params) -> Result<HttpResponse, EsError> {
    let (index, id) = path.into_inner();
    let filter = source_filter(&params);
    let routing = params.get("routing").cloned();
    let (found, body) = blocking(move || get_body(&node, &index, &id, routing.as_deref(), &filter)).await?;
    // `version` makes a get conditional, as in Elasticsearch.
    if let (true, Some(wanted)) = (found, params.get("version").and_then(|v| v.parse::<u64>().ok()))
        && body["_version"].as_u64() != Some(wanted)
    {
        let index = body["_index"].as_str().unwrap_or_default();
        return Err(EsError::version_conflict(
            index,
            format!(
                "[{}]: version conflict, current version [{}] is different than the one provided [{wanted}]",
                body["_id"].as_str().unwrap_or_default(),
                body["_version"]
            ),
        ));
    }
    Ok(reply(if found { StatusCode::OK } else { StatusCode::NOT_FOUND }, &body, &params))
}

async fn doc_exists(node: NodeData, path: Path<(String, String)>, params: Params) -> HttpResponse {
    let (index, id) = path.into_inner();
    let routing = params.get("routing").cloned();
    let filter = SourceFilter { disabled: true, ..SourceFilter::default() };
    match blocking(move || get_body(&node, &index, &id, routing.as_deref(), &filter)).await {
        Ok((true, _)) => HttpResponse::Ok().finish(),
        _ => HttpResponse::NotFound().finish(),
    }
}

async fn get_source(node: NodeData, path: Path<(String, String)>, params: Params) -> Result<HttpResponse, EsError> {
    let (index, id) = path.into_inner();
    let filter = source_filter(&params);
    let routing = params.get("routing").cloned();
    let id2 = id.clone();
    let (found, body) = blocking(move || get_body(&node, &index, &id2, routing.as_deref(), &filter)).await?;
    if !found {
        return Err(EsError::resource_not_found(format!(
            "Document not found [{}]/[{id}]",
            body["_index"].as_str().unwrap_or("")
        )));
    }
    Ok(reply(StatusCode::OK, &body["_source"], &params))
}

async fn mget(
    node: NodeData,
    index: Option<Path<String>>,
    params: Params,
    body: Bytes,
) -> Result<HttpResponse, EsError> {
    let body = json_body(&body)?;
    let default_index = index.map(Path::into_inner);
    let default_filter = source_filter(&params);
    let default_routing = params.get("routing").cloned();
    let requests: Vec<(Option<String>, String, Option<String>, SourceFilter)> = match (&body["docs"], &body["ids"]) {
        (Value::Array(docs), Value::Null) => docs
            .iter()
            .map(|d| {
                let id = d.get("_id").map(crate::util::plain).ok_or_else(|| EsError::validation("id is missing"))?;
                let filter = match d.get("_source") {
                    Some(s) => SourceFilter::from_body(s)?,
                    None => default_filter.clone(),
                };
                let routing = d.get("routing").or_else(|| d.get("_routing")).map(crate::util::plain);
                Ok((d.get("_index").map(crate::util::plain), id, routing.or_else(|| default_routing.clone()), filter))
            })
            .collect::<Result<_, EsError>>()?,
        (Value::Null, Value::Array(ids)) => ids
            .iter()
            .map(|id| (None, crate::util::plain(id), default_routing.clone(), default_filter.clone()))
            .collect(),
        _ => return Err(EsError::validation("no documents to get")),
    };
    if requests.is_empty() {
        return Err(EsError::validation("no documents to get"));
    }
    let docs = blocking(move || {
        let mut out = Vec::new();
        for (index, id, routing, filter) in requests {
            let Some(index) = index.or_else(|| default_index.clone()) else {
                return Err(EsError::validation("index is missing"));
            };
            out.push(match get_body(&node, &index, &id, routing.as_deref(), &filter) {
                Ok((_, body)) => body,
                Err(e) => json!({"_index": index, "_id": id, "error": e.body()["error"]}),
            });
        }
        Ok(out)
    })
    .await?;
    Ok(reply(StatusCode::OK, &json!({ "docs": docs }), &params))
}

/// `?_source=`, `?_source_includes=`, `?_source_excludes=` of a bulk
/// request as an update item's `_source` (what its `get` returns).
fn bulk_source(params: &Params) -> Option<Value> {
    let list = |k: &str| params.get(k).map(|v| v.split(',').collect::<Vec<_>>());
    match (params.get("_source").map(String::as_str), list("_source_includes"), list("_source_excludes")) {
        (None, None, None) => None,
        (Some("false"), _, _) => Some(json!(false)),
        (Some("true"), None, None) => Some(json!(true)),
        (source, includes, excludes) => {
            let includes = includes.or_else(|| source.filter(|s| *s != "true").map(|s| s.split(',').collect()));
            let mut filter = serde_json::Map::new();
            if let Some(includes) = includes {
                filter.insert("includes".into(), json!(includes));
            }
            if let Some(excludes) = excludes {
                filter.insert("excludes".into(), json!(excludes));
            }
            Some(Value::Object(filter))
        }
    }
}

async fn bulk(
    node: NodeData,
    index: Option<Path<String>>,
    params: Params,
    body: Bytes,
) -> Result<HttpResponse, EsError> {
    let started = std::time::Instant::now();
    let defaults = Defaults {
        index: index.map(Path::into_inner),
        routing: params.get("routing").cloned(),
        require_alias: flag(&params, "require_alias"),
        source: bulk_source(&params),
    };
    let actions = bulk::parse(&body, &defaults)?;
    let refresh_params = params.clone();
    let (items, _) = blocking(move || {
        let items = crate::ops::execute(&node, actions);
        let forced = refresh_after(&node, &refresh_params, &indexes_of(&items))?;
        Ok((items, forced))
    })
    .await?;
    // A delete of a missing document is not an error of the request.
    let missing_delete = |i: &Item| i.op == OpType::Delete && i.status == StatusCode::NOT_FOUND;
    let errors = items.iter().any(|i| !i.status.is_success() && !missing_delete(i));
    let items: Vec<Value> = items
        .into_iter()
        .map(|i| {
            let mut body = i.body;
            body["status"] = json!(i.status.as_u16());
            let mut wrapped = Map::new();
            wrapped.insert(i.op.name().to_owned(), body);
            Value::Object(wrapped)
        })
        .collect();
    let took = started.elapsed().as_millis() as u64;
    Ok(reply(StatusCode::OK, &json!({"took": took, "errors": errors, "items": items}), &params))
}

async fn put_template(
    node: NodeData,
    name: Path<String>,
    params: Params,
    body: Bytes,
) -> Result<HttpResponse, EsError> {
    let body = json_body(&body)?;
    let create = flag(&params, "create");
    blocking(move || node.templates.put(&name, body, create)).await?;
    Ok(reply(StatusCode::OK, &json!({"acknowledged": true}), &params))
}

async fn get_template(node: NodeData, name: Option<Path<String>>, params: Params) -> Result<HttpResponse, EsError> {
    let pattern = name.map_or_else(|| "*".to_owned(), Path::into_inner);
    let found = node.templates.get(&pattern);
    if found.is_empty() && !pattern.contains('*') {
        return Err(EsError::resource_not_found(format!("index template matching [{pattern}] not found")));
    }
    let list: Vec<Value> = found.into_iter().map(|(n, t)| json!({"name": n, "index_template": t})).collect();
    Ok(reply(StatusCode::OK, &json!({ "index_templates": list }), &params))
}

async fn template_exists(node: NodeData, name: Path<String>) -> HttpResponse {
    if node.templates.get(&name).is_empty() { HttpResponse::NotFound().finish() } else { HttpResponse::Ok().finish() }
}

async fn delete_template(node: NodeData, name: Path<String>, params: Params) -> Result<HttpResponse, EsError> {
    blocking(move || node.templates.delete(&name)).await?;
    Ok(reply(StatusCode::OK, &json!({"acknowledged": true}), &params))
}
