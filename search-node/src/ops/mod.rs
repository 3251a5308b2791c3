//! The operations layer: document writes as the REST APIs state them,
//! run on a [`Node`]; [`bulk`] reads `_bulk` bodies into them.
//!
//! This module itself: document operations as the REST APIs state them (index, create, update,
//! delete), executed in order, with Elasticsearch's per-item results.
//!
//! Contract: [`execute`] returns one item per action, in input order;
//! a failed item never stops the others. Index/create/delete actions that
//! follow each other are written together (one translog sync per shard);
//! an update is a read-modify-write checked by sequence number, retried
//! `retry_on_conflict` times, and acts as a barrier so that a later action
//! on the same document sees its result. A write to a missing index creates
//! it (Elasticsearch's `action.auto_create_index`), from the matching
//! index templates.

pub mod bulk;

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::error::{ErrorKind, EsError};
use crate::node::Node;
use crate::search::source_filter::SourceFilter;
use crate::storage::index::{DocWrite, IndexHandle};
use crate::storage::shard::{Conditions, StoredDoc, WriteResult, Written};

/// Which document operation; serialised as its name in bulk lines and
/// items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpType {
    /// Create or replace.
    Index,
    /// Create; fail if it exists.
    Create,
    /// Partial update.
    Update,
    /// Delete.
    Delete,
}

impl OpType {
    const ALL: [OpType; 4] = [OpType::Index, OpType::Create, OpType::Update, OpType::Delete];

    /// The name used in bulk lines and items.
    pub fn name(self) -> &'static str {
        match self {
            OpType::Index => "index",
            OpType::Create => "create",
            OpType::Update => "update",
            OpType::Delete => "delete",
        }
    }

    /// The operation of a bulk action line's name.
    pub fn parse(name: &str) -> Option<OpType> {
        OpType::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// One document action.
#[derive(Debug, Clone)]
pub struct Action {
    /// The operation.
    pub op: OpType,
    /// Target index or alias.
    pub index: String,
    /// Document id (generated for index/create when absent).
    pub id: Option<String>,
    /// Custom routing.
    pub routing: Option<String>,
    /// The source (index/create) or the update body; an error for a body
    /// that could not be read, reported on this item only.
    pub body: Result<Map<String, Value>, EsError>,
    /// Optimistic concurrency and versioning.
    pub conditions: Conditions,
    /// Update retries on a version conflict.
    pub retry_on_conflict: u32,
    /// Fail unless `index` is an alias (`require_alias`).
    pub require_alias: bool,
}

/// One item's outcome: HTTP status and the item body.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The operation.
    pub op: OpType,
    /// HTTP status of the item.
    pub status: StatusCode,
    /// The item body, as Elasticsearch reports it.
    pub body: Value,
    /// The error of a failed item.
    pub error: Option<EsError>,
    /// The shard a successful write went to.
    pub shard: Option<usize>,
}

impl Item {
    fn ok(op: OpType, written: &Written, body: Value) -> Item {
        Item { op, status: written.result.status(), body, error: None, shard: Some(written.shard) }
    }

    fn failed(op: OpType, index: &str, id: Option<&str>, e: EsError) -> Item {
        Item { op, status: e.status(), body: error_body(index, id, &e), error: Some(e), shard: None }
    }
}

/// Reads the concurrency-control parameters of a write (`if_seq_no`,
/// `if_primary_term`, `version`, `version_type`).
pub fn conditions(
    if_seq_no: Option<&Value>,
    if_primary_term: Option<&Value>,
    version: Option<&Value>,
    version_type: Option<&str>,
) -> Result<Conditions, EsError> {
    let number = |name: &str, v: Option<&Value>| -> Result<Option<u64>, EsError> {
        match v {
            None => Ok(None),
            Some(v) => v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).map(Some).ok_or_else(|| {
                EsError::illegal_argument(format!(
                    "[{name}] must be a non-negative number, got [{}]",
                    crate::util::plain(v)
                ))
            }),
        }
    };
    let mut conditions = Conditions::default();
    match (number("if_seq_no", if_seq_no)?, number("if_primary_term", if_primary_term)?) {
        (Some(s), Some(t)) => conditions.if_seq_no = Some((s, t)),
        (None, None) => {}
        (Some(_), None) => return Err(EsError::validation("ifSeqNo is set, but primary term is [0]")),
        (None, Some(_)) => return Err(EsError::validation("ifSeqNo is unassigned, but primary term is [1]")),
    }
    if let Some(v) = number("version", version)? {
        match version_type.unwrap_or("internal") {
            "external" => conditions.external = Some((v, false)),
            "external_gte" => conditions.external = Some((v, true)),
            "internal" => {
                return Err(EsError::validation(
                    "internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and `if_primary_term` instead",
                ));
            }
            other => return Err(EsError::illegal_argument(format!("No version type match [{other}]"))),
        }
    }
    Ok(conditions)
}

/// A new document id: 20 URL-safe characters, unique on this node.
pub fn auto_id() -> String {
    crate::util::new_uuid()[..20].to_owned()
}

/// Elasticsearch's limit on `_id`.
const MAX_ID_BYTES: usize = 512;

/// Checks an id given by a request the way Elasticsearch does.
pub fn check_id(id: &str) -> Result<(), EsError> {
    if id.is_empty() {
        return Err(EsError::illegal_argument("if _id is specified it must not be empty"));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(EsError::validation(format!(
            "id [{id}] is too long, must be no longer than 512 bytes but was: {}",
            id.len()
        )));
    }
    Ok(())
}

fn shards_json(handle: &IndexHandle, successful: u64) -> Value {
    let meta = handle.meta();
    json!({"total": 1 + meta.replicas(), "successful": successful, "failed": 0})
}

/// The item body of a successful write.
pub fn written_body(handle: &IndexHandle, id: &str, w: &Written) -> Value {
    let ok = w.result != WriteResult::NoOp;
    json!({
        "_index": handle.name(),
        "_id": id,
        "_version": w.version,
        "result": w.result,
        "_shards": shards_json(handle, u64::from(ok)),
        "_seq_no": w.seq_no,
        "_primary_term": 1
    })
}

/// The item body of a failed action.
pub fn error_body(index: &str, id: Option<&str>, e: &EsError) -> Value {
    let mut error =
        json!({"type": e.es_type(), "reason": e.reason, "index": e.index.clone().unwrap_or_else(|| index.to_owned())});
    if matches!(e.kind, ErrorKind::DocumentParsing | ErrorKind::StrictDynamicMapping) {
        error["caused_by"] = json!({"type": "illegal_argument_exception", "reason": e.reason});
    }
    json!({"_index": index, "_id": id, "status": e.status().as_u16(), "error": error})
}

/// Merges `patch` into `target` the way a partial update does: objects
/// merge key by key, anything else is replaced. Returns whether anything
/// changed.
pub fn merge(target: &mut Map<String, Value>, patch: &Map<String, Value>) -> bool {
    let mut changed = false;
    for (key, value) in patch {
        match (target.get_mut(key), value) {
            (Some(Value::Object(inner)), Value::Object(p)) => changed |= merge(inner, p),
            (Some(existing), v) if existing == v => {}
            _ => {
                target.insert(key.clone(), value.clone());
                changed = true;
            }
        }
    }
    changed
}

/// The index a write goes to, created if missing.
pub fn write_index(node: &Node, target: &str) -> Result<Arc<IndexHandle>, EsError> {
    if let Some(handle) = node.write_target(target)? {
        return Ok(handle);
    }
    match node.create(target, &json!({})) {
        Ok(handle) => Ok(handle),
        // Created meanwhile by a concurrent request.
        Err(e) if e.kind == ErrorKind::ResourceAlreadyExists => node.handle(target),
        Err(e) => Err(e),
    }
}

/// Executes actions in order on a node; one item per action.
pub fn execute(node: &Node, actions: Vec<Action>) -> Vec<Item> {
    let mut items: Vec<Option<Item>> = actions.iter().map(|_| None).collect();
    let mut run: Vec<(usize, Action)> = Vec::new();
    for (i, action) in actions.into_iter().enumerate() {
        if action.op == OpType::Update {
            write_run(node, std::mem::take(&mut run), &mut items);
            items[i] = Some(update(node, action));
        } else {
            run.push((i, action));
        }
    }
    write_run(node, run, &mut items);
    items.into_iter().map(|i| i.expect("every action has an item")).collect()
}

fn write_run(node: &Node, run: Vec<(usize, Action)>, items: &mut [Option<Item>]) {
    // Per index: the handle, each write's (item position, op, id), the writes.
    type Batch = (Arc<IndexHandle>, Vec<(usize, OpType, String)>, Vec<DocWrite>);
    let mut by_index: BTreeMap<String, Batch> = BTreeMap::new();
    for (i, action) in run {
        let op = action.op;
        if let Some(Err(e)) = action.id.as_deref().map(check_id) {
            items[i] = Some(Item::failed(op, &action.index, action.id.as_deref(), e));
            continue;
        }
        if action.require_alias && !node.is_alias(&action.index) {
            let e = EsError::require_alias(&action.index);
            items[i] = Some(Item::failed(op, &action.index, action.id.as_deref(), e));
            continue;
        }
        // Deletes never create an index.
        let target = if action.op == OpType::Delete {
            node.write_target(&action.index).and_then(|h| h.ok_or_else(|| EsError::index_not_found(&action.index)))
        } else {
            write_index(node, &action.index)
        };
        let handle = match target {
            Ok(h) => h,
            Err(e) => {
                items[i] = Some(Item::failed(op, &action.index, action.id.as_deref(), e));
                continue;
            }
        };
        let write = match (action.op, action.body) {
            (OpType::Delete, _) => {
                if let Some(id) = action.id.clone() {
                    DocWrite::Delete { id, routing: action.routing, conditions: action.conditions }
                } else {
                    items[i] = Some(Item::failed(op, &action.index, None, EsError::validation("id is missing")));
                    continue;
                }
            }
            (_, Err(e)) => {
                items[i] = Some(Item::failed(op, &handle.name(), action.id.as_deref(), e));
                continue;
            }
            (op_type, Ok(source)) => {
                let mut conditions = action.conditions;
                conditions.create |= op_type == OpType::Create;
                DocWrite::Index { id: action.id.unwrap_or_else(auto_id), source, routing: action.routing, conditions }
            }
        };
        let id = match &write {
            DocWrite::Index { id, .. } | DocWrite::Delete { id, .. } => id.clone(),
        };
        let entry = by_index.entry(handle.name()).or_insert_with(|| (handle.clone(), Vec::new(), Vec::new()));
        entry.1.push((i, op, id));
        entry.2.push(write);
    }
    for (_, (handle, positions, writes)) in by_index {
        let results = handle.write(writes);
        for ((i, op, id), result) in positions.into_iter().zip(results) {
            items[i] = Some(match result {
                Ok(w) => Item::ok(op, &w, written_body(&handle, &id, &w)),
                Err(e) => Item::failed(op, &handle.name(), Some(&id), e),
            });
        }
    }
}

fn update(node: &Node, action: Action) -> Item {
    let op = OpType::Update;
    let fail = |index: &str, e: EsError| Item::failed(op, index, action.id.as_deref(), e);
    let Some(id) = action.id.clone() else {
        return fail(&action.index, EsError::validation("id is missing"));
    };
    let body = match &action.body {
        Ok(b) => b,
        Err(e) => return fail(&action.index, e.clone()),
    };
    let handle = match write_index(node, &action.index) {
        Ok(h) => h,
        Err(e) => return fail(&action.index, e),
    };
    let request = match UpdateRequest::parse(body) {
        Ok(r) => r,
        Err(e) => return fail(&handle.name(), e),
    };
    let mut attempt = 0;
    loop {
        match try_update(&handle, &id, &action, &request) {
            Err(e)
                if e.kind == ErrorKind::VersionConflict
                    && attempt < action.retry_on_conflict
                    && action.conditions.if_seq_no.is_none() =>
            {
                attempt += 1;
            }
            Err(e) => return fail(&handle.name(), e),
            Ok(item) => return item,
        }
    }
}

fn try_update(handle: &IndexHandle, id: &str, action: &Action, request: &UpdateRequest) -> Result<Item, EsError> {
    let current = handle.get(id, action.routing.as_deref())?;
    let (source, conditions) = if let Some(doc) = &current {
        if let Some((seq_no, term)) = action.conditions.if_seq_no
            && (doc.seq_no != seq_no || term != 1)
        {
            return Err(EsError::version_conflict(
                &handle.name(),
                format!(
                    "[{id}]: version conflict, required seqNo [{seq_no}], primary term [{term}]. current document has seqNo [{}] and primary term [1]",
                    doc.seq_no
                ),
            ));
        }
        let mut source: Map<String, Value> = serde_json::from_str(&doc.source).unwrap_or_default();
        let changed = match &request.doc {
            Some(patch) => merge(&mut source, patch),
            None => false,
        };
        if !changed && request.detect_noop {
            let shard = handle.shard_of(id, action.routing.as_deref());
            let w = Written { result: WriteResult::NoOp, version: doc.version, seq_no: doc.seq_no, shard };
            return Ok(update_item(handle, id, &w, Some(doc), request));
        }
        (source, Conditions { if_seq_no: Some((doc.seq_no, 1)), ..Conditions::default() })
    } else {
        let source = match (&request.upsert, &request.doc) {
            (Some(upsert), _) => upsert.clone(),
            (None, Some(doc)) if request.doc_as_upsert => doc.clone(),
            _ => return Err(EsError::document_missing(&handle.name(), id)),
        };
        (source, Conditions { create: true, ..Conditions::default() })
    };
    let write =
        DocWrite::Index { id: id.to_owned(), source: source.clone(), routing: action.routing.clone(), conditions };
    let written = handle.write(vec![write]).pop().expect("one result")?;
    let stored = StoredDoc {
        id: id.to_owned(),
        source: Value::Object(source).to_string().into(),
        version: written.version,
        seq_no: written.seq_no,
        routing: action.routing.clone(),
    };
    Ok(update_item(handle, id, &written, Some(&stored), request))
}

fn update_item(handle: &IndexHandle, id: &str, w: &Written, doc: Option<&StoredDoc>, request: &UpdateRequest) -> Item {
    let mut body = written_body(handle, id, w);
    if let (Some(filter), Some(doc)) = (&request.source, doc) {
        let source: Value = serde_json::from_str(&doc.source).unwrap_or(Value::Null);
        let mut get = json!({"_seq_no": doc.seq_no, "_primary_term": 1, "found": true});
        if let Some(filtered) = filter.apply(&source) {
            get["_source"] = filtered;
        }
        body["get"] = get;
    }
    Item::ok(OpType::Update, w, body)
}

/// An `_update` body.
#[derive(Debug, Clone, Default)]
pub struct UpdateRequest {
    /// Partial document.
    pub doc: Option<Map<String, Value>>,
    /// Document to create when missing.
    pub upsert: Option<Map<String, Value>>,
    /// Create from `doc` when missing.
    pub doc_as_upsert: bool,
    /// Skip the write when nothing changes (default true).
    pub detect_noop: bool,
    /// `_source` to return in `get`.
    pub source: Option<SourceFilter>,
}

impl UpdateRequest {
    /// Reads an update body; scripts are refused by name.
    pub fn parse(body: &Map<String, Value>) -> Result<UpdateRequest, EsError> {
        let mut request = UpdateRequest { detect_noop: true, ..UpdateRequest::default() };
        let object = |key: &str, v: &Value| match v {
            Value::Object(m) => Ok(m.clone()),
            _ => Err(EsError::parsing(format!("[update] failed to parse field [{key}]: must be an object"))),
        };
        for (key, value) in body {
            match key.as_str() {
                "doc" => request.doc = Some(object(key, value)?),
                "upsert" => request.upsert = Some(object(key, value)?),
                "doc_as_upsert" => request.doc_as_upsert = value.as_bool().unwrap_or(false),
                "detect_noop" => request.detect_noop = value.as_bool().unwrap_or(true),
                "_source" if request.source.is_none() => request.source = Some(SourceFilter::from_body(value)?),
                "_source" => {}
                "script" | "scripted_upsert" => {
                    return Err(EsError::illegal_argument(
                        "imdb-search-node does not support scripts in updates; send a partial [doc]",
                    ));
                }
                other => {
                    let known =
                        ["doc", "upsert", "doc_as_upsert", "detect_noop", "_source", "script", "scripted_upsert"];
                    let hint = crate::util::did_you_mean(other, &known)
                        .map(|k| format!(" did you mean [{k}]?"))
                        .unwrap_or_default();
                    return Err(EsError::parsing(format!("[UpdateRequest] unknown field [{other}]{hint}")));
                }
            }
        }
        if request.doc.is_none() && request.upsert.is_none() {
            return Err(EsError::validation("script or doc is missing"));
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_updates_merge_objects_and_replace_the_rest() {
        let mut target = json!({"a": 1, "o": {"x": 1, "y": 2}, "l": [1, 2]}).as_object().unwrap().clone();
        assert!(merge(&mut target, json!({"o": {"y": 3}, "l": [3]}).as_object().unwrap()));
        assert_eq!(Value::Object(target.clone()), json!({"a": 1, "o": {"x": 1, "y": 3}, "l": [3]}));
        assert!(!merge(&mut target, json!({"a": 1}).as_object().unwrap()));
    }

    #[test]
    fn op_types_and_results_go_on_the_wire_as_elasticsearch_names_them() {
        for op in OpType::ALL {
            assert_eq!(OpType::parse(op.name()), Some(op));
            assert_eq!(json!(op), json!(op.name()));
        }
        assert_eq!(OpType::parse("upsert"), None);
        let results = [
            WriteResult::Created,
            WriteResult::Updated,
            WriteResult::Deleted,
            WriteResult::NoOp,
            WriteResult::NotFound,
        ];
        let wire: Vec<(Value, u16)> = results.iter().map(|r| (json!(r), r.status().as_u16())).collect();
        assert_eq!(
            wire,
            [
                (json!("created"), 201),
                (json!("updated"), 200),
                (json!("deleted"), 200),
                (json!("noop"), 200),
                (json!("not_found"), 404)
            ]
        );
    }

    #[test]
    fn auto_ids_are_twenty_url_safe_characters_and_differ() {
        let a = auto_id();
        assert_eq!(a.len(), 20);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(a, auto_id());
    }
}
