//! Indexes for the search tests: a node in a temporary folder, and an
//! index written in batches with a refresh after each, so that each shard
//! holds several segments.

use std::sync::Arc;

use serde_json::Value;

use crate::node::Node;
use crate::ops::{Action, OpType};

/// A node on a fresh temporary folder (dropped with it).
pub(super) fn node() -> (tempfile::TempDir, Arc<Node>) {
    let dir = tempfile::tempdir().unwrap();
    let node = Arc::new(Node::open(dir.path()).unwrap());
    (dir, node)
}

/// Creates `index` with `settings` and writes `docs` (id, source) into it,
/// `batch` at a time, refreshing after each batch.
pub(super) fn index_in_batches(node: &Node, index: &str, settings: &Value, docs: Vec<(String, Value)>, batch: usize) {
    node.create(index, settings).unwrap();
    for chunk in docs.chunks(batch) {
        let actions = chunk
            .iter()
            .map(|(id, source)| Action {
                op: OpType::Index,
                index: index.into(),
                id: Some(id.clone()),
                routing: None,
                body: Ok(source.as_object().unwrap().clone()),
                conditions: Default::default(),
                retry_on_conflict: 0,
                require_alias: false,
            })
            .collect();
        assert!(crate::ops::execute(node, actions).iter().all(|i| i.status.is_success()));
        node.handle(index).unwrap().refresh().unwrap();
    }
}
