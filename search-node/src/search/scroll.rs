//! Scroll: one search served a page per request, every page from the
//! snapshot the first request took (`POST /{index}/_search?scroll=1m`, then
//! `POST /_search/scroll`, then `DELETE /_search/scroll`).
//!
//! Contract:
//! - [`start`] refuses what Elasticsearch refuses in a scroll context
//!   (`from`, `search_after`, `size: 0`, `track_total_hits: false`,
//!   `pit`), answers the first page with `_scroll_id`, and opens the
//!   context, even when the page is empty, as Elasticsearch does.
//! - [`next`] answers the page after the last one served: the same `sort`,
//!   `size`, `_source` and total as the first page, no aggregations, and no
//!   document written since the scroll opened. Each page resumes after the
//!   previous page's last hit (sort key, then index, shard, segment and
//!   document), so no hit is served twice or skipped, even among equal
//!   keys; after the last page, pages are empty until the scroll is cleared
//!   or expires.
//! - [`clear`] answers `{"succeeded": true, "num_freed": N}`, with a 404
//!   when nothing was freed, like Elasticsearch.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use super::collector::After;
use super::contexts::{Contexts, Cursor, Kind, ReaderContext};
use super::request::{SearchRequest, TrackTotal};
use super::snapshot::Snapshot;
use super::{Paging, run};
use crate::error::EsError;
use crate::storage::index::IndexHandle;

fn validate(req: &SearchRequest) -> Result<(), EsError> {
    let refusal = if req.from > 0 {
        "using [from] is not allowed in a scroll context"
    } else if req.size == 0 {
        "[size] cannot be [0] in a scroll context"
    } else if req.search_after.is_some() {
        "[search_after] cannot be used in a scroll context"
    } else if req.track_total_hits == TrackTotal::Off {
        "disabling [track_total_hits] is not allowed in a scroll context"
    } else if req.pit.is_some() {
        "using [point in time] is not allowed in a scroll context"
    } else {
        return Ok(());
    };
    Err(EsError::validation(refusal))
}

/// Opens a scroll over `handles` (`req.scroll` is its keep-alive) and
/// answers its first page.
pub fn start(contexts: &Contexts, handles: &[Arc<IndexHandle>], mut req: SearchRequest) -> Result<Value, EsError> {
    let keep_alive = req.scroll.ok_or_else(|| EsError::internal("a scroll without a keep-alive"))?;
    validate(&req)?;
    contexts.check_keep_alive(keep_alive)?;
    // A scroll's total is exact, as in Elasticsearch.
    req.track_total_hits = TrackTotal::All;
    let snapshot = Snapshot::take(handles);
    let page = run(&snapshot, &req, &Paging::default())?;
    let mut body = page.body;
    let cursor =
        Cursor { total: body["hits"].get("total").cloned(), after: page.last.as_ref().map(After::hit), request: req };
    let context = ReaderContext { kind: Kind::Scroll, snapshot, cursor: Some(Mutex::new(cursor)) };
    body["_scroll_id"] = json!(contexts.open(context, keep_alive)?);
    Ok(body)
}

/// The next page of scroll `id`, keeping it `keep_alive` longer when given.
pub fn next(contexts: &Contexts, id: &str, keep_alive: Option<Duration>, total_as_int: bool) -> Result<Value, EsError> {
    let context = contexts.get(id, Kind::Scroll, keep_alive)?;
    let cursor = context.cursor.as_ref().ok_or_else(|| EsError::internal("a scroll without a cursor"))?;
    let mut cursor = cursor.lock().map_err(|_| EsError::internal("a scroll's page failed before"))?;
    let paging = Paging { resume: cursor.after.clone(), tiebreak: false, skip_aggs: true };
    let page = run(&context.snapshot, &cursor.request, &paging)?;
    if let Some(last) = &page.last {
        cursor.after = Some(After::hit(last));
    }
    let mut body = page.body;
    match &cursor.total {
        Some(total) if total_as_int && !cursor.request.total_as_int => body["hits"]["total"] = total["value"].clone(),
        Some(total) => body["hits"]["total"] = total.clone(),
        None => {}
    }
    body["_scroll_id"] = json!(id);
    Ok(body)
}

/// Clears scrolls (`_all`: every one); returns the body and status.
pub fn clear(contexts: &Contexts, ids: &[String]) -> Result<(Value, StatusCode), EsError> {
    let freed = if ids.iter().any(|id| id == "_all") {
        contexts.close_all(Kind::Scroll)
    } else {
        contexts.close(ids, Kind::Scroll)?
    };
    Ok((
        json!({"succeeded": true, "num_freed": freed}),
        if freed == 0 { StatusCode::NOT_FOUND } else { StatusCode::OK },
    ))
}
