//! Errors in Elasticsearch's shape, and their HTTP status: the one place
//! where an error becomes a response.
//!
//! Elasticsearch answers every failure with
//! `{"error":{"root_cause":[{"type":..,"reason":..}],"type":..,"reason":..},"status":N}`;
//! clients (and the conformance tests) match on `type` and `status`, so
//! [`ErrorKind::row`], the one table from a kind to both, carries
//! Elasticsearch's exception names verbatim. Code branches on the kind,
//! never on the text; an error caused by another (I/O, tantivy, JSON)
//! keeps it as its source.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};

/// What failed, as Elasticsearch classifies it. [`ErrorKind::row`] is the
/// one table from a kind to its HTTP status and exception name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No such index (or a `require_alias` write to something else).
    IndexNotFound,
    /// The index exists already.
    ResourceAlreadyExists,
    /// An index name Elasticsearch would refuse.
    InvalidIndexName,
    /// An alias name Elasticsearch would refuse.
    InvalidAliasName,
    /// A well-formed request that asks for something impossible.
    IllegalArgument,
    /// A body that is not the expected JSON, or names unknown parts.
    Parsing,
    /// A mapping that cannot be applied.
    MapperParsing,
    /// A document whose values do not fit the mapping.
    DocumentParsing,
    /// A new field under `dynamic: strict`.
    StrictDynamicMapping,
    /// A value in a request that cannot be read (a date, a number).
    Parse,
    /// A request that fails validation.
    Validation,
    /// An optimistic-concurrency check failed.
    VersionConflict,
    /// An update of a missing document.
    DocumentMissing,
    /// A named resource other than an index (a template, an alias).
    ResourceNotFound,
    /// A query that cannot run against a shard's mapping.
    QueryShard,
    /// Aliases to remove that do not exist.
    AliasesNotFound,
    /// An index being deleted.
    IndexClosed,
    /// The node cannot take more work now.
    Rejected,
    /// A scroll or point in time that expired, was closed, or never was.
    SearchContextMissing,
    /// One more scroll than allowed.
    TooManyScrollContexts,
    /// Our fault (I/O on the data folder, a bug).
    Internal,
}

impl ErrorKind {
    /// The HTTP status and Elasticsearch's exception name (`type`).
    pub const fn row(self) -> (StatusCode, &'static str) {
        match self {
            ErrorKind::IndexNotFound => (StatusCode::NOT_FOUND, "index_not_found_exception"),
            ErrorKind::ResourceAlreadyExists => (StatusCode::BAD_REQUEST, "resource_already_exists_exception"),
            ErrorKind::InvalidIndexName => (StatusCode::BAD_REQUEST, "invalid_index_name_exception"),
            ErrorKind::InvalidAliasName => (StatusCode::BAD_REQUEST, "invalid_alias_name_exception"),
            ErrorKind::IllegalArgument => (StatusCode::BAD_REQUEST, "illegal_argument_exception"),
            ErrorKind::Parsing => (StatusCode::BAD_REQUEST, "parsing_exception"),
            ErrorKind::MapperParsing => (StatusCode::BAD_REQUEST, "mapper_parsing_exception"),
            ErrorKind::DocumentParsing => (StatusCode::BAD_REQUEST, "document_parsing_exception"),
            ErrorKind::StrictDynamicMapping => (StatusCode::BAD_REQUEST, "strict_dynamic_mapping_exception"),
            ErrorKind::Parse => (StatusCode::BAD_REQUEST, "parse_exception"),
            ErrorKind::Validation => (StatusCode::BAD_REQUEST, "action_request_validation_exception"),
            ErrorKind::VersionConflict => (StatusCode::CONFLICT, "version_conflict_engine_exception"),
            ErrorKind::DocumentMissing => (StatusCode::NOT_FOUND, "document_missing_exception"),
            ErrorKind::ResourceNotFound => (StatusCode::NOT_FOUND, "resource_not_found_exception"),
            ErrorKind::QueryShard => (StatusCode::BAD_REQUEST, "query_shard_exception"),
            ErrorKind::AliasesNotFound => (StatusCode::NOT_FOUND, "aliases_not_found_exception"),
            ErrorKind::IndexClosed => (StatusCode::BAD_REQUEST, "index_closed_exception"),
            ErrorKind::Rejected => (StatusCode::TOO_MANY_REQUESTS, "es_rejected_execution_exception"),
            ErrorKind::SearchContextMissing => (StatusCode::NOT_FOUND, "search_context_missing_exception"),
            ErrorKind::TooManyScrollContexts => (StatusCode::TOO_MANY_REQUESTS, "too_many_scroll_contexts_exception"),
            ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "exception"),
        }
    }

    /// The HTTP status.
    pub const fn status(self) -> StatusCode {
        self.row().0
    }

    /// Elasticsearch's exception name (`index_not_found_exception`, ...).
    pub const fn es_type(self) -> &'static str {
        self.row().1
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.es_type())
    }
}

/// The error a failure came from (the data folder's I/O, tantivy, JSON).
pub type Source = Arc<dyn std::error::Error + Send + Sync>;

/// A failure as Elasticsearch reports it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}: {reason}")]
pub struct EsError {
    /// What failed; gives the HTTP status and Elasticsearch's `type`.
    pub kind: ErrorKind,
    /// The message for a person.
    pub reason: String,
    /// The index concerned, reported as `index` like Elasticsearch does.
    pub index: Option<String>,
    /// The error this one comes from, kept for logs; `reason` already says
    /// it in words for the client.
    #[source]
    pub source: Option<Source>,
}

impl PartialEq for EsError {
    /// Equal as a client sees them: the source is not compared.
    fn eq(&self, other: &EsError) -> bool {
        (self.kind, &self.reason, &self.index) == (other.kind, &other.reason, &other.index)
    }
}

impl EsError {
    fn new(kind: ErrorKind, reason: impl Into<String>) -> EsError {
        EsError { kind, reason: reason.into(), index: None, source: None }
    }

    /// This error, caused by `source`.
    #[must_use]
    pub fn caused_by(mut self, source: impl std::error::Error + Send + Sync + 'static) -> EsError {
        self.source = Some(Arc::new(source));
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// Elasticsearch's exception name.
    pub fn es_type(&self) -> &'static str {
        self.kind.es_type()
    }

    /// 404: no such index.
    pub fn index_not_found(index: &str) -> EsError {
        EsError { index: Some(index.to_owned()), ..EsError::new(ErrorKind::IndexNotFound, "no such index") }
            .with_reason(format!("no such index [{index}]"))
    }

    /// 400: the index exists already.
    pub fn index_exists(index: &str) -> EsError {
        EsError {
            index: Some(index.to_owned()),
            ..EsError::new(ErrorKind::ResourceAlreadyExists, format!("index [{index}] already exists"))
        }
    }

    /// 400: an index name Elasticsearch would refuse.
    pub fn invalid_index_name(index: &str, why: &str) -> EsError {
        EsError {
            index: Some(index.to_owned()),
            ..EsError::new(ErrorKind::InvalidIndexName, format!("Invalid index name [{index}], {why}"))
        }
    }

    /// 400: an alias name Elasticsearch would refuse.
    pub fn invalid_alias_name(alias: &str, why: &str) -> EsError {
        EsError::new(ErrorKind::InvalidAliasName, format!("Invalid alias name [{alias}], {why}"))
    }

    /// 400: a well-formed request that asks for something impossible.
    pub fn illegal_argument(reason: impl Into<String>) -> EsError {
        EsError::new(ErrorKind::IllegalArgument, reason)
    }

    /// 400: a body that is not the expected JSON, or names unknown parts.
    pub fn parsing(reason: impl Into<String>) -> EsError {
        EsError::new(ErrorKind::Parsing, reason)
    }

    /// 400: a mapping that cannot be applied.
    pub fn mapper_parsing(reason: impl Into<String>) -> EsError {
        EsError::new(ErrorKind::MapperParsing, reason)
    }

    /// 400: a document whose values do not fit the mapping.
    pub fn document_parsing(reason: impl Into<String>) -> EsError {
        EsError::new(ErrorKind::DocumentParsing, reason)
    }

    /// 400: a new field in an index whose mapping is `dynamic: strict`.
    pub fn strict_dynamic_mapping(reason: impl Into<String>) -> EsError {
        EsError::new(ErrorKind::StrictDynamicMapping, reason)
    }

    /// 400: a value in a request that cannot be read (a date, a number).
    pub fn parse(reason: impl Into<String>) -> EsError {
        EsError::new(ErrorKind::Parse, reason)
    }

    /// 400: a request that fails validation (`action_request_validation_exception`).
    pub fn validation(reason: impl Into<String>) -> EsError {
        EsError::new(ErrorKind::Validation, format!("Validation Failed: 1: {};", reason.into()))
    }

    /// 409: an optimistic-concurrency check failed, or a create met an
    /// existing document.
    pub fn version_conflict(index: &str, reason: impl Into<String>) -> EsError {
        EsError { index: Some(index.to_owned()), ..EsError::new(ErrorKind::VersionConflict, reason) }
    }

    /// 404: an update of a document that does not exist.
    pub fn document_missing(index: &str, id: &str) -> EsError {
        EsError {
            index: Some(index.to_owned()),
            ..EsError::new(ErrorKind::DocumentMissing, format!("[{id}]: document missing"))
        }
    }

    /// 404: a named resource other than an index (a template, an alias).
    pub fn resource_not_found(reason: impl Into<String>) -> EsError {
        EsError::new(ErrorKind::ResourceNotFound, reason)
    }

    /// 400: a query that cannot run against a shard's mapping.
    pub fn query_shard(reason: impl Into<String>) -> EsError {
        EsError::new(ErrorKind::QueryShard, reason)
    }

    /// 404: aliases to remove that do not exist.
    pub fn aliases_not_found(aliases: &[String]) -> EsError {
        EsError::new(ErrorKind::AliasesNotFound, format!("aliases [{}] missing", aliases.join(",")))
    }

    /// 400: an index being deleted.
    pub fn index_closed() -> EsError {
        EsError::new(ErrorKind::IndexClosed, "closed")
    }

    /// 404: a write with `require_alias` to something that is not an alias.
    pub fn require_alias(target: &str) -> EsError {
        EsError {
            index: Some(target.to_owned()),
            ..EsError::new(
                ErrorKind::IndexNotFound,
                format!(
                    "no such index [{target}] and [require_alias] request flag is [true] and [{target}] is not an alias"
                ),
            )
        }
    }

    /// 429: the node cannot take more work now.
    pub fn rejected(reason: impl Into<String>) -> EsError {
        EsError::new(ErrorKind::Rejected, reason)
    }

    /// 404: a scroll or point in time that expired, was closed, or never was.
    pub fn search_context_missing(id: &str) -> EsError {
        EsError::new(ErrorKind::SearchContextMissing, format!("No search context found for id [{id}]"))
    }

    /// 429: one more scroll than `search.max_open_scroll_context` allows.
    pub fn too_many_scroll_contexts(max: usize) -> EsError {
        EsError::new(
            ErrorKind::TooManyScrollContexts,
            format!(
                "Trying to create too many scroll contexts. Must be less than or equal to: [{max}]. This limit can be set by changing the [search.max_open_scroll_context] setting."
            ),
        )
    }

    /// 429: one more point in time than the node keeps open.
    pub fn too_many_pit_contexts(max: usize) -> EsError {
        EsError::new(
            ErrorKind::Rejected,
            format!(
                "Trying to create too many point in time contexts. Must be less than or equal to: [{max}]. This limit can be set by changing the [--max-open-pit-contexts] flag of imdb-search-node."
            ),
        )
    }

    /// 500: our fault (I/O on the data folder, a bug).
    pub fn internal(reason: impl Into<String>) -> EsError {
        EsError::new(ErrorKind::Internal, reason)
    }

    fn with_reason(mut self, reason: String) -> EsError {
        self.reason = reason;
        self
    }

    /// The JSON body Elasticsearch sends for this error.
    pub fn body(&self) -> Value {
        let mut cause = json!({"type": self.es_type(), "reason": self.reason});
        if let Some(index) = &self.index {
            cause["index"] = json!(index);
            if self.kind == ErrorKind::IndexNotFound {
                cause["resource.type"] = json!("index_or_alias");
                cause["resource.id"] = json!(index);
            }
        }
        let mut error = cause.clone();
        error["root_cause"] = json!([cause]);
        json!({"error": error, "status": self.status().as_u16()})
    }
}

impl ResponseError for EsError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(self.body())
    }
}

impl From<tantivy::TantivyError> for EsError {
    fn from(e: tantivy::TantivyError) -> EsError {
        EsError::internal(format!("search library: {e}")).caused_by(e)
    }
}

impl From<std::io::Error> for EsError {
    fn from(e: std::io::Error) -> EsError {
        EsError::internal(format!("data folder: {e}")).caused_by(e)
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

    #[test]
    fn the_status_and_type_come_from_the_kind() {
        let e = EsError::version_conflict("movies", "[1]: version conflict");
        assert_eq!((e.status(), e.es_type()), (StatusCode::CONFLICT, "version_conflict_engine_exception"));
        assert_eq!(e.body()["status"], 409);
        assert_eq!(e.to_string(), "version_conflict_engine_exception: [1]: version conflict");
        // Two exception names share a kind's row on purpose: a missing
        // write alias is an index_not_found_exception, too many points in
        // time an es_rejected_execution_exception.
        assert_eq!(EsError::require_alias("a").kind, ErrorKind::IndexNotFound);
        assert_eq!(EsError::too_many_pit_contexts(1).status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(EsError::internal("x").error_response().status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn internal_errors_keep_their_source() {
        use std::error::Error as _;
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let e = EsError::from(io);
        assert_eq!((e.kind, e.reason.as_str()), (ErrorKind::Internal, "data folder: denied"));
        // The I/O error itself, behind the shared pointer that keeps the
        // error cloneable: its message and its own sources.
        assert_eq!(e.source().expect("the I/O error is kept").to_string(), "denied");
    }
}
