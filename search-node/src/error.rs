//! Errors in Elasticsearch's shape, and their HTTP status: the one place
//! where an error becomes a response.
//!
//! Elasticsearch answers every failure with
//! `{"error":{"root_cause":[{"type":..,"reason":..}],"type":..,"reason":..},"status":N}`;
//! clients (and the conformance tests) match on `type` and `status`, so the
//! variants here carry Elasticsearch's exception names verbatim.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};

/// A failure as Elasticsearch reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {reason}")]
pub struct EsError {
    /// Elasticsearch's exception name (`index_not_found_exception`, ...).
    pub kind: &'static str,
    /// The message for a person.
    pub reason: String,
    /// HTTP status.
    pub status: u16,
    /// The index concerned, reported as `index` like Elasticsearch does.
    pub index: Option<String>,
}

impl EsError {
    fn new(kind: &'static str, status: u16, reason: impl Into<String>) -> EsError {
        EsError { kind, reason: reason.into(), status, index: None }
    }

    /// 404: no such index.
    pub fn index_not_found(index: &str) -> EsError {
        EsError { index: Some(index.to_owned()), ..EsError::new("index_not_found_exception", 404, "no such index") }
            .with_reason(format!("no such index [{index}]"))
    }

    /// 400: the index exists already.
    pub fn index_exists(index: &str) -> EsError {
        EsError {
            index: Some(index.to_owned()),
            ..EsError::new("resource_already_exists_exception", 400, format!("index [{index}] already exists"))
        }
    }

    /// 400: an index name Elasticsearch would refuse.
    pub fn invalid_index_name(index: &str, why: &str) -> EsError {
        EsError {
            index: Some(index.to_owned()),
            ..EsError::new("invalid_index_name_exception", 400, format!("Invalid index name [{index}], {why}"))
        }
    }

    /// 400: an alias name Elasticsearch would refuse.
    pub fn invalid_alias_name(alias: &str, why: &str) -> EsError {
        EsError::new("invalid_alias_name_exception", 400, format!("Invalid alias name [{alias}], {why}"))
    }

    /// 400: a well-formed request that asks for something impossible.
    pub fn illegal_argument(reason: impl Into<String>) -> EsError {
        EsError::new("illegal_argument_exception", 400, reason)
    }

    /// 400: a body that is not the expected JSON, or names unknown parts.
    pub fn parsing(reason: impl Into<String>) -> EsError {
        EsError::new("parsing_exception", 400, reason)
    }

    /// 400: a mapping that cannot be applied.
    pub fn mapper_parsing(reason: impl Into<String>) -> EsError {
        EsError::new("mapper_parsing_exception", 400, reason)
    }

    /// 400: a document whose values do not fit the mapping.
    pub fn document_parsing(reason: impl Into<String>) -> EsError {
        EsError::new("document_parsing_exception", 400, reason)
    }

    /// 400: a new field in an index whose mapping is `dynamic: strict`.
    pub fn strict_dynamic_mapping(reason: impl Into<String>) -> EsError {
        EsError::new("strict_dynamic_mapping_exception", 400, reason)
    }

    /// 400: a value in a request that cannot be read (a date, a number).
    pub fn parse(reason: impl Into<String>) -> EsError {
        EsError::new("parse_exception", 400, reason)
    }

    /// 400: a request that fails validation (`action_request_validation_exception`).
    pub fn validation(reason: impl Into<String>) -> EsError {
        EsError::new("action_request_validation_exception", 400, format!("Validation Failed: 1: {};", reason.into()))
    }

    /// 409: an optimistic-concurrency check failed, or a create met an
    /// existing document.
    pub fn version_conflict(index: &str, reason: impl Into<String>) -> EsError {
        EsError { index: Some(index.to_owned()), ..EsError::new("version_conflict_engine_exception", 409, reason) }
    }

    /// 404: an update of a document that does not exist.
    pub fn document_missing(index: &str, id: &str) -> EsError {
        EsError {
            index: Some(index.to_owned()),
            ..EsError::new("document_missing_exception", 404, format!("[{id}]: document missing"))
        }
    }

    /// 404: a named resource other than an index (a template, an alias).
    pub fn resource_not_found(reason: impl Into<String>) -> EsError {
        EsError::new("resource_not_found_exception", 404, reason)
    }

    /// 400: a query that cannot run against a shard's mapping.
    pub fn query_shard(reason: impl Into<String>) -> EsError {
        EsError::new("query_shard_exception", 400, reason)
    }

    /// 404: aliases to remove that do not exist.
    pub fn aliases_not_found(aliases: &[String]) -> EsError {
        EsError::new("aliases_not_found_exception", 404, format!("aliases [{}] missing", aliases.join(",")))
    }

    /// 400: an index being deleted.
    pub fn index_closed() -> EsError {
        EsError::new("index_closed_exception", 400, "closed")
    }

    /// 404: a write with `require_alias` to something that is not an alias.
    pub fn require_alias(target: &str) -> EsError {
        EsError {
            index: Some(target.to_owned()),
            ..EsError::new(
                "index_not_found_exception",
                404,
                format!(
                    "no such index [{target}] and [require_alias] request flag is [true] and [{target}] is not an alias"
                ),
            )
        }
    }

    /// 429: the node cannot take more work now.
    pub fn rejected(reason: impl Into<String>) -> EsError {
        EsError::new("es_rejected_execution_exception", 429, reason)
    }

    /// 404: a scroll or point in time that expired, was closed, or never was.
    pub fn search_context_missing(id: &str) -> EsError {
        EsError::new("search_context_missing_exception", 404, format!("No search context found for id [{id}]"))
    }

    /// 429: one more scroll than `search.max_open_scroll_context` allows.
    pub fn too_many_scroll_contexts(max: usize) -> EsError {
        EsError::new(
            "too_many_scroll_contexts_exception",
            429,
            format!(
                "Trying to create too many scroll contexts. Must be less than or equal to: [{max}]. This limit can be set by changing the [search.max_open_scroll_context] setting."
            ),
        )
    }

    /// 429: one more point in time than the node keeps open.
    pub fn too_many_pit_contexts(max: usize) -> EsError {
        EsError::new(
            "es_rejected_execution_exception",
            429,
            format!(
                "Trying to create too many point in time contexts. Must be less than or equal to: [{max}]. This limit can be set by changing the [--max-open-pit-contexts] flag of imdb-search-node."
            ),
        )
    }

    /// 500: our fault (I/O on the data folder, a bug).
    pub fn internal(reason: impl Into<String>) -> EsError {
        EsError::new("exception", 500, reason)
    }

    fn with_reason(mut self, reason: String) -> EsError {
        self.reason = reason;
        self
    }

    /// The JSON body Elasticsearch sends for this error.
    pub fn body(&self) -> Value {
        let mut cause = json!({"type": self.kind, "reason": self.reason});
        if let Some(index) = &self.index {
            cause["index"] = json!(index);
            if self.kind == "index_not_found_exception" {
                cause["resource.type"] = json!("index_or_alias");
                cause["resource.id"] = json!(index);
            }
        }
        let mut error = cause.clone();
        error["root_cause"] = json!([cause]);
        json!({"error": error, "status": self.status})
    }
}

impl ResponseError for EsError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(self.body())
    }
}

impl From<tantivy::TantivyError> for EsError {
    fn from(e: tantivy::TantivyError) -> EsError {
        EsError::internal(format!("search library: {e}"))
    }
}

impl From<std::io::Error> for EsError {
    fn from(e: std::io::Error) -> EsError {
        EsError::internal(format!("data folder: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_not_found_has_elasticsearchs_shape() {
        let body = EsError::index_not_found("movies").body();
        assert_eq!(body["status"], 404);
        assert_eq!(body["error"]["type"], "index_not_found_exception");
        assert_eq!(body["error"]["reason"], "no such index [movies]");
        assert_eq!(body["error"]["root_cause"][0]["type"], "index_not_found_exception");
        assert_eq!(body["error"]["index"], "movies");
    }
}
