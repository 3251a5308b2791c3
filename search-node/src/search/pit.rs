//! Point in time (Elasticsearch 8): indexes frozen under an id
//! (`POST /{index}/_pit?keep_alive=1m`), searched any number of times with
//! `{"pit": {"id": ..., "keep_alive": ...}}` and no index in the path, and
//! closed with `DELETE /_pit`.
//!
//! Contract:
//! - Every search of one point in time sees the documents of the moment it
//!   opened, whatever was written since.
//! - Its sort gets `_shard_doc` (ascending) as a last, unique criterion
//!   unless it names `_shard_doc` itself, and every hit shows its sort
//!   values, tiebreaker included, as Elasticsearch does: passing the last
//!   hit's `sort` as `search_after` gives the next page exactly.
//! - The answer carries `pit_id`; [`close`] answers
//!   `{"succeeded": true, "num_freed": N}`, with a 404 when nothing was
//!   freed.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use super::contexts::{Contexts, Kind, ReaderContext};
use super::request::SearchRequest;
use super::snapshot::Snapshot;
use super::{Paging, run};
use crate::error::EsError;
use crate::storage::index::IndexHandle;

/// Opens a point in time over `handles`; returns the body with its id.
pub fn open(contexts: &Contexts, handles: &[Arc<IndexHandle>], keep_alive: Duration) -> Result<Value, EsError> {
    let snapshot = Snapshot::take(handles);
    let shards = snapshot.shard_count();
    let id = contexts.open(ReaderContext { kind: Kind::PointInTime, snapshot, cursor: None }, keep_alive)?;
    Ok(json!({"id": id, "_shards": {"total": shards, "successful": shards, "skipped": 0, "failed": 0}}))
}

/// Runs a search whose `pit` names an open point in time.
pub fn search(contexts: &Contexts, req: &SearchRequest) -> Result<Value, EsError> {
    let pit = req.pit.as_ref().ok_or_else(|| EsError::internal("a point-in-time search without [pit]"))?;
    if req.scroll.is_some() {
        return Err(EsError::validation("using [point in time] is not allowed in a scroll context"));
    }
    let context = contexts.get(&pit.id, Kind::PointInTime, pit.keep_alive)?;
    let page = run(&context.snapshot, req, &Paging { tiebreak: true, ..Paging::default() })?;
    let mut body = page.body;
    body["pit_id"] = json!(pit.id);
    Ok(body)
}

/// Closes points in time; returns the body and status.
pub fn close(contexts: &Contexts, ids: &[String]) -> Result<(Value, StatusCode), EsError> {
    let freed = contexts.close(ids, Kind::PointInTime)?;
    Ok((
        json!({"succeeded": true, "num_freed": freed}),
        if freed == 0 { StatusCode::NOT_FOUND } else { StatusCode::OK },
    ))
}
