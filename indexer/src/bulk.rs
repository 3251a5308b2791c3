//! The bulk API's answer, typed, and what becomes of each document.
//!
//! Contract: an item is indexed (2xx), to be retried (a [`transient`]
//! status: 408, 429, 5xx: the engine timed out, is busy or down) or
//! rejected for its content (any other status: a mapping error), with the
//! engine's error type and reason. [`outcome`] decides from the item alone.

use serde::Deserialize;

use crate::error::transient;

/// The answer to `POST /_bulk`: one item per action, in order.
#[derive(Debug, Deserialize)]
pub struct BulkResponse {
    /// True when at least one item failed.
    #[serde(default)]
    pub errors: bool,
    /// One per action sent.
    #[serde(default)]
    pub items: Vec<BulkItem>,
}

/// One action's result, under the action's name.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BulkItem {
    /// `{"index": {...}}`.
    Index(ItemResult),
    /// `{"create": {...}}`.
    Create(ItemResult),
    /// `{"update": {...}}`.
    Update(ItemResult),
    /// `{"delete": {...}}`.
    Delete(ItemResult),
}

impl BulkItem {
    /// The result, whatever the action.
    pub fn result(&self) -> &ItemResult {
        match self {
            BulkItem::Index(r) | BulkItem::Create(r) | BulkItem::Update(r) | BulkItem::Delete(r) => r,
        }
    }
}

/// The result of one action.
#[derive(Debug, Deserialize)]
pub struct ItemResult {
    /// The document id.
    #[serde(rename = "_id", default)]
    pub id: Option<String>,
    /// The action's HTTP status.
    pub status: u16,
    /// Why it failed, when it did.
    #[serde(default)]
    pub error: Option<ItemError>,
}

/// The engine's error object of a failed action.
#[derive(Debug, Deserialize)]
pub struct ItemError {
    /// `document_parsing_exception`, `es_rejected_execution_exception`, ...
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// The engine's words.
    #[serde(default)]
    pub reason: Option<String>,
}

/// What became of one document of a bulk request.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Indexed.
    Indexed,
    /// The engine could not take it now: send it again later.
    Retry(String),
    /// The engine refuses it for its content.
    Rejected(String),
}

/// The fate of one document from its bulk item.
pub fn outcome(item: &BulkItem) -> Outcome {
    let result = item.result();
    if result.status < 300 {
        return Outcome::Indexed;
    }
    let error = result.error.as_ref();
    let reason = format!(
        "{} {}: {}",
        result.status,
        error.and_then(|e| e.kind.as_deref()).unwrap_or("error"),
        error.and_then(|e| e.reason.as_deref()).unwrap_or("")
    );
    if transient(result.status) { Outcome::Retry(reason) } else { Outcome::Rejected(reason) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(json: &str) -> BulkItem {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn items_are_classified_by_status() {
        assert_eq!(outcome(&item(r#"{"index": {"_id": "tt1", "status": 201}}"#)), Outcome::Indexed);
        assert_eq!(outcome(&item(r#"{"create": {"status": 200}}"#)), Outcome::Indexed);
        for status in [408, 429, 500, 503] {
            let answer = format!(
                r#"{{"index": {{"status": {status}, "error": {{"type": "es_rejected_execution_exception"}}}}}}"#
            );
            assert!(matches!(outcome(&item(&answer)), Outcome::Retry(_)), "{status}");
        }
        let rejected = outcome(&item(
            r#"{"index": {"status": 400, "error": {"type": "document_parsing_exception", "reason": "failed to parse field [start_year]"}}}"#,
        ));
        assert_eq!(
            rejected,
            Outcome::Rejected("400 document_parsing_exception: failed to parse field [start_year]".into())
        );
        assert_eq!(outcome(&item(r#"{"delete": {"status": 404}}"#)), Outcome::Rejected("404 error: ".into()));
    }

    #[test]
    fn a_whole_answer_reads_in_order_with_ids() {
        let answer: BulkResponse = serde_json::from_str(
            r#"{"took": 3, "errors": true, "items": [
                {"index": {"_index": "imdb-titles-drama", "_id": "tt1", "status": 201, "result": "created"}},
                {"index": {"_index": "imdb-titles-drama", "_id": "tt2", "status": 429, "error": {"type": "x", "reason": null}}}
            ]}"#,
        )
        .unwrap();
        assert!(answer.errors);
        let ids: Vec<_> = answer.items.iter().map(|i| i.result().id.as_deref()).collect();
        assert_eq!(ids, [Some("tt1"), Some("tt2")]);
        let outcomes: Vec<_> = answer.items.iter().map(outcome).collect();
        assert_eq!(outcomes, [Outcome::Indexed, Outcome::Retry("429 x: ".into())]);
    }

    #[test]
    fn an_item_without_a_status_or_action_does_not_parse() {
        assert!(serde_json::from_str::<BulkItem>(r#"{"index": {"_id": "tt1"}}"#).is_err());
        assert!(serde_json::from_str::<BulkItem>(r#"{"frobnicate": {"status": 200}}"#).is_err());
    }
}
