//! Cluster, cat and index-management APIs: `GET /`, `_cluster/health`,
//! `_cat/indices`, create / delete / get / exists index, mappings,
//! `_refresh`, `_forcemerge`.

use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes, Path};
use serde_json::{Value, json};

use super::{NodeData, Params, blocking, flag, json_body, reply, unsupported_api};
use crate::error::EsError;
use crate::mapping::meta::VERSION;
use crate::storage::index::IndexHandle;

/// Routes that start with `_` and so must come before `/{index}`.
pub(super) fn configure_cluster(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(info))
        .route("/", web::head().to(|| async { HttpResponse::Ok().finish() }))
        .route("/_cluster/health", web::get().to(health))
        .route("/_cluster/health/{index}", web::get().to(health))
        .route("/_cat/indices", web::get().to(cat_indices))
        .route("/_cat/indices/{index}", web::get().to(cat_indices))
        .route("/_mapping", web::get().to(get_mapping))
        .route("/_settings", web::get().to(get_settings))
        .route("/_refresh", web::post().to(refresh))
        .route("/_refresh", web::get().to(refresh))
        .route("/_flush", web::post().to(refresh))
        .route("/_forcemerge", web::post().to(force_merge));
}

/// Index-level routes.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/{index}", web::put().to(create_index))
        .route("/{index}", web::head().to(index_exists))
        .route("/{index}", web::get().to(get_index))
        .route("/{index}", web::delete().to(delete_index))
        .route("/{index}/_mapping", web::get().to(get_mapping))
        .route("/{index}/_mapping", web::put().to(put_mapping))
        .route("/{index}/_mapping", web::post().to(put_mapping))
        .route("/{index}/_settings", web::get().to(get_settings))
        .route("/{index}/_settings/{name}", web::get().to(get_settings_named))
        .route("/{index}/_refresh", web::post().to(refresh))
        .route("/{index}/_refresh", web::get().to(refresh))
        .route("/{index}/_flush", web::post().to(refresh))
        .route("/{index}/_forcemerge", web::post().to(force_merge));
}

async fn info(params: Params) -> HttpResponse {
    let body = json!({
        "name": "imdb-search-node",
        "cluster_name": "imdb-search",
        "cluster_uuid": "imdb-search-single-node",
        "version": {
            "number": VERSION,
            "build_flavor": "default",
            "build_type": "imdb-search",
            "lucene_version": "9.8.0",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0"
        },
        "tagline": "You Know, for Search"
    });
    reply(StatusCode::OK, &body, &params)
}

/// Green when every shard is assigned; a single node never assigns
/// replicas, so any index with replicas makes it yellow.
async fn health(node: NodeData, index: Option<Path<String>>, params: Params) -> Result<HttpResponse, EsError> {
    let metas = match index {
        Some(expr) => node.get(&expr, false)?,
        None => node.all(),
    };
    let primaries: u64 = metas.iter().map(|m| m.shards()).sum();
    let unassigned: u64 = metas.iter().map(|m| m.shards() * m.replicas()).sum();
    let status = if unassigned > 0 { "yellow" } else { "green" };
    let total = primaries + unassigned;
    let percent = if total == 0 { 100.0 } else { primaries as f64 * 100.0 / total as f64 };
    let body = json!({
        "cluster_name": "imdb-search",
        "status": status,
        "timed_out": false,
        "number_of_nodes": 1,
        "number_of_data_nodes": 1,
        "active_primary_shards": primaries,
        "active_shards": primaries,
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": unassigned,
        "delayed_unassigned_shards": 0,
        "number_of_pending_tasks": 0,
        "number_of_in_flight_fetch": 0,
        "task_max_waiting_in_queue_millis": 0,
        "active_shards_percent_as_number": percent
    });
    let mut body = body;
    let level = params.get("level").map(String::as_str);
    if matches!(level, Some("indices" | "shards")) {
        let indices: serde_json::Map<String, Value> = metas
            .iter()
            .map(|m| {
                let unassigned = m.shards() * m.replicas();
                let entry = json!({
                    "status": if unassigned > 0 { "yellow" } else { "green" },
                    "number_of_shards": m.shards(),
                    "number_of_replicas": m.replicas(),
                    "active_primary_shards": m.shards(),
                    "active_shards": m.shards(),
                    "relocating_shards": 0,
                    "initializing_shards": 0,
                    "unassigned_shards": unassigned,
                    "shards": (0..if level == Some("shards") { m.shards() } else { 0 }).map(|n| (n.to_string(), json!({
                        "status": if m.replicas() > 0 { "yellow" } else { "green" },
                        "primary_active": true,
                        "active_shards": 1,
                        "relocating_shards": 0,
                        "initializing_shards": 0,
                        "unassigned_shards": m.replicas()
                    }))).collect::<serde_json::Map<String, Value>>()
                });
                let mut entry = entry;
                if level != Some("shards") {
                    entry.as_object_mut().expect("object").remove("shards");
                }
                (m.name.clone(), entry)
            })
            .collect();
        body["indices"] = Value::Object(indices);
    }
    Ok(reply(StatusCode::OK, &body, &params))
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["b", "kb", "mb", "gb", "tb"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes}b") } else { format!("{value:.1}{}", UNITS[unit]) }
}

/// Short names `_cat` APIs accept for their columns.
const COLUMN_ALIASES: [(&str, &str); 16] = [
    ("h", "health"),
    ("s", "status"),
    ("i", "index"),
    ("idx", "index"),
    ("id", "uuid"),
    ("p", "pri"),
    ("shards.primary", "pri"),
    ("r", "rep"),
    ("shards.replica", "rep"),
    ("dc", "docs.count"),
    ("dd", "docs.deleted"),
    ("ss", "store.size"),
    ("cd", "creation.date"),
    ("cds", "creation.date.string"),
    ("a", "alias"),
    ("iwi", "is_write_index"),
];

fn column_name(name: &str) -> &str {
    COLUMN_ALIASES.iter().find(|(short, _)| *short == name).map_or(name, |(_, long)| long)
}

/// A `_cat` table: JSON rows with `format=json`, else aligned text with a
/// header under `v`. `h` picks columns, `s` sorts rows (`col:desc`).
pub(super) fn cat_table(rows: &[Value], default_columns: &[&str], params: &HashMap<String, String>) -> HttpResponse {
    let picked: Vec<String> = match params.get("h") {
        Some(h) => h.split(',').map(|c| column_name(c.trim()).to_owned()).collect(),
        None => default_columns.iter().map(|c| (*c).to_owned()).collect(),
    };
    let columns: Vec<&str> = picked.iter().map(String::as_str).collect();
    let mut rows: Vec<Value> = rows.to_vec();
    if let Some(sort) = params.get("s") {
        let keys: Vec<(String, bool)> = sort
            .split(',')
            .map(|k| match k.split_once(':') {
                Some((c, o)) => (column_name(c).to_owned(), o == "desc"),
                None => (column_name(k).to_owned(), false),
            })
            .collect();
        rows.sort_by(|a, b| {
            for (key, desc) in &keys {
                let (x, y) = (crate::util::plain(&a[key]), crate::util::plain(&b[key]));
                let ord = match (x.parse::<f64>(), y.parse::<f64>()) {
                    (Ok(x), Ok(y)) => x.total_cmp(&y),
                    _ => x.cmp(&y),
                };
                let ord = if *desc { ord.reverse() } else { ord };
                if ord != std::cmp::Ordering::Equal {
                    return ord;
                }
            }
            std::cmp::Ordering::Equal
        });
    }
    if params.get("format").map(String::as_str) == Some("json") {
        let projected: Vec<Value> = rows
            .iter()
            .map(|r| Value::Object(columns.iter().map(|c| ((*c).to_owned(), r[*c].clone())).collect()))
            .collect();
        return reply(StatusCode::OK, &Value::Array(projected), params);
    }
    let columns = columns.as_slice();
    let cells: Vec<Vec<String>> =
        rows.iter().map(|r| columns.iter().map(|c| r[*c].as_str().unwrap_or("").to_owned()).collect()).collect();
    let header = flag(params, "v");
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| cells.iter().map(|r| r[i].len()).chain(header.then(|| columns[i].len())).max().unwrap_or(0))
        .collect();
    let line = |values: Vec<&str>| {
        let padded: Vec<String> = values.iter().zip(&widths).map(|(v, w)| format!("{v:<w$}")).collect();
        padded.join(" ").trim_end().to_owned() + "\n"
    };
    let mut text = String::new();
    if header {
        text.push_str(&line(columns.to_vec()));
    }
    for row in &cells {
        text.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    HttpResponse::Ok().content_type("text/plain; charset=UTF-8").body(text)
}

async fn cat_indices(node: NodeData, index: Option<Path<String>>, params: Params) -> Result<HttpResponse, EsError> {
    let handles = match index {
        Some(expr) => node.handles(&expr, false)?,
        None => node.all_handles(),
    };
    let health = params.get("health").map(String::as_str);
    if let Some(h) = health
        && !matches!(h, "green" | "yellow" | "red")
    {
        return Err(EsError::illegal_argument(format!("Invalid health status [{h}]: expected green, yellow or red")));
    }
    let rows: Vec<Value> = handles
        .iter()
        .map(|h| {
            let m = h.meta();
            let size = human_bytes(h.size_bytes());
            json!({
                "creation.date": m.creation_date.to_string(),
                "creation.date.string": crate::mapping::date::format_iso(m.creation_date as i64),
                "health": if m.replicas() > 0 { "yellow" } else { "green" },
                "status": "open",
                "index": m.name,
                "uuid": m.uuid,
                "pri": m.shards().to_string(),
                "rep": m.replicas().to_string(),
                "docs.count": h.doc_count().to_string(),
                "docs.deleted": "0",
                "store.size": size,
                "pri.store.size": size,
                "dataset.size": size,
            })
        })
        .filter(|row: &Value| health.is_none_or(|h| row["health"] == h))
        .collect();
    let columns = [
        "health",
        "status",
        "index",
        "uuid",
        "pri",
        "rep",
        "docs.count",
        "docs.deleted",
        "store.size",
        "pri.store.size",
    ];
    Ok(cat_table(&rows, &columns, &params))
}

async fn create_index(
    node: NodeData,
    index: Path<String>,
    params: Params,
    body: Bytes,
) -> Result<HttpResponse, EsError> {
    let body = json_body(&body)?;
    let name = index.into_inner();
    let created = blocking(move || node.create(&name, &body).map(|h| h.name())).await?;
    Ok(reply(StatusCode::OK, &json!({"acknowledged": true, "shards_acknowledged": true, "index": created}), &params))
}

async fn index_exists(node: NodeData, index: Path<String>) -> HttpResponse {
    match node.resolve(&index, false) {
        Ok(names) if !names.is_empty() => HttpResponse::Ok().finish(),
        _ => HttpResponse::NotFound().finish(),
    }
}

async fn get_index(node: NodeData, index: Path<String>, params: Params) -> Result<HttpResponse, EsError> {
    if index.starts_with('_') {
        return Err(unsupported_api("GET", &format!("/{index}")));
    }
    let metas = node.get(&index, flag(&params, "ignore_unavailable"))?;
    let body: serde_json::Map<String, Value> = metas
        .into_iter()
        .map(|m| {
            let entry = json!({"aliases": m.aliases, "mappings": m.mappings, "settings": m.settings_json()});
            (m.name.clone(), entry)
        })
        .collect();
    Ok(reply(StatusCode::OK, &Value::Object(body), &params))
}

/// `settings` of the indexes named, optionally only those matching `name`.
fn settings_body(
    node: &crate::node::Node,
    index: &str,
    name: Option<&str>,
    params: &HashMap<String, String>,
) -> Result<Value, EsError> {
    let metas = node.get(index, flag(params, "ignore_unavailable"))?;
    let mut body = serde_json::Map::new();
    for m in metas {
        let mut settings = m.settings_json();
        if let Some(pattern) = name {
            let flat = flatten_settings("", &settings);
            let kept: serde_json::Map<String, Value> =
                flat.into_iter().filter(|(k, _)| pattern.split(',').any(|p| crate::util::glob_match(p, k))).collect();
            settings = Value::Object(kept);
        } else if flag(params, "flat_settings") {
            settings = Value::Object(flatten_settings("", &settings).into_iter().collect());
        }
        body.insert(m.name.clone(), json!({ "settings": settings }));
    }
    Ok(Value::Object(body))
}

fn flatten_settings(prefix: &str, value: &Value) -> Vec<(String, Value)> {
    match value {
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| {
                flatten_settings(&if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, v)
            })
            .collect(),
        other => vec![(prefix.to_owned(), other.clone())],
    }
}

async fn get_settings(node: NodeData, index: Option<Path<String>>, params: Params) -> Result<HttpResponse, EsError> {
    let index = index.map_or_else(|| "_all".to_owned(), Path::into_inner);
    Ok(reply(StatusCode::OK, &settings_body(&node, &index, None, &params)?, &params))
}

async fn get_settings_named(
    node: NodeData,
    path: Path<(String, String)>,
    params: Params,
) -> Result<HttpResponse, EsError> {
    let (index, name) = path.into_inner();
    Ok(reply(StatusCode::OK, &settings_body(&node, &index, Some(&name), &params)?, &params))
}

async fn delete_index(node: NodeData, index: Path<String>, params: Params) -> Result<HttpResponse, EsError> {
    let expression = index.into_inner();
    let ignore = flag(&params, "ignore_unavailable");
    blocking(move || node.delete(&expression, ignore)).await?;
    Ok(reply(StatusCode::OK, &json!({"acknowledged": true}), &params))
}

async fn get_mapping(node: NodeData, index: Option<Path<String>>, params: Params) -> Result<HttpResponse, EsError> {
    let metas = match &index {
        Some(expr) => node.get(expr, flag(&params, "ignore_unavailable"))?,
        None => node.all(),
    };
    if metas.is_empty()
        && params.get("allow_no_indices").map(String::as_str) == Some("false")
        && let Some(expr) = &index
    {
        return Err(EsError::index_not_found(expr));
    }
    let body: serde_json::Map<String, Value> =
        metas.into_iter().map(|m| (m.name.clone(), json!({"mappings": m.mappings}))).collect();
    Ok(reply(StatusCode::OK, &Value::Object(body), &params))
}

async fn put_mapping(
    node: NodeData,
    index: Path<String>,
    params: Params,
    body: Bytes,
) -> Result<HttpResponse, EsError> {
    let mapping = json_body(&body)?;
    let expression = index.into_inner();
    blocking(move || node.put_mapping(&expression, &mapping)).await?;
    Ok(reply(StatusCode::OK, &json!({"acknowledged": true}), &params))
}

/// `_forcemerge`: each shard's segments merged into `max_num_segments`
/// (1 when not given: a search then opens one segment per shard, which is
/// what a user asks for after a bulk load). Answers once merged.
async fn force_merge(node: NodeData, index: Option<Path<String>>, params: Params) -> Result<HttpResponse, EsError> {
    let max_segments = match params.get("max_num_segments") {
        None => 1,
        Some(v) => v.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
            EsError::illegal_argument(format!("[max_num_segments] must be a whole number of at least 1, not [{v}]"))
        })?,
    };
    on_every_shard(&node, index, &params, move |h| h.force_merge(max_segments)).await
}

async fn refresh(node: NodeData, index: Option<Path<String>>, params: Params) -> Result<HttpResponse, EsError> {
    on_every_shard(&node, index, &params, IndexHandle::refresh).await
}

/// Runs `op` on every index `index` names (all without one), off the HTTP
/// threads; answers with the `_shards` summary.
async fn on_every_shard(
    node: &NodeData,
    index: Option<Path<String>>,
    params: &Params,
    op: impl Fn(&IndexHandle) -> Result<(), EsError> + Send + 'static,
) -> Result<HttpResponse, EsError> {
    let handles = match index {
        Some(expr) => node.handles(&expr, flag(params, "ignore_unavailable"))?,
        None => node.all_handles(),
    };
    let shards: u64 = handles.iter().map(|h| h.shards().len() as u64).sum();
    let total: u64 = handles.iter().map(|h| h.meta().shards() * (1 + h.meta().replicas())).sum();
    blocking(move || handles.iter().try_for_each(|h| op(h))).await?;
    Ok(reply(StatusCode::OK, &json!({"_shards": {"total": total, "successful": shards, "failed": 0}}), params))
}
