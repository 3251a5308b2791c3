//! The search cluster's answers as types: what the API reads of a search,
//! a count, a get and an error, and the ways an answer can be unusable.
//!
//! Contract: an answer either deserialises into the type the call expects
//! or is an [`UpstreamError`]; nothing downstream indexes into untyped
//! JSON. A search answer with failed shards or a cluster-side timeout is
//! not an answer ([`UpstreamError::Partial`]): served, and cached, it would
//! look complete. Documents are read as the model's own types
//! ([`imdb_model::TitleDoc`], [`imdb_model::PersonDoc`]), whose defaults
//! fill what a `_source` filter left out.

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Why an answer of the cluster cannot be used. Internal: the client gets a
/// 5xx without these details (they are logged).
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The cluster answered with an error status.
    #[error("{call}: HTTP {status}: {error}")]
    Status {
        /// The call (`search`, `count`, ...).
        call: &'static str,
        /// The HTTP status.
        status: u16,
        /// The error object of the answer.
        error: ClusterError,
    },
    /// Some shards failed, or the cluster stopped at its own timeout.
    #[error("{call}: partial results: {failed} of {total} shards failed, timed out: {timed_out}")]
    Partial {
        /// The call.
        call: &'static str,
        /// Shards that failed.
        failed: u64,
        /// Shards asked.
        total: u64,
        /// Whether the cluster stopped at its timeout.
        timed_out: bool,
    },
    /// The answer is not the JSON this call expects.
    #[error("{call}: unexpected answer")]
    Decode {
        /// The call.
        call: &'static str,
        /// The parse failure.
        #[source]
        source: serde_json::Error,
    },
    /// The answer could not be read off the connection.
    #[error("{call}: reading the answer")]
    Read {
        /// The call.
        call: &'static str,
        /// The transport failure.
        #[source]
        source: elasticsearch::Error,
    },
    /// A multi-search answered a different number of searches than sent.
    #[error("msearch: {answers} answers to {searches} searches")]
    Answers {
        /// Answers received.
        answers: usize,
        /// Searches sent.
        searches: usize,
    },
}

impl UpstreamError {
    /// The cluster pushes back (429, 503): too much load, not a fault.
    pub fn is_pushback(&self) -> bool {
        matches!(self, UpstreamError::Status { status: 429 | 503, .. })
    }

    /// Another attempt, on another node or a moment later, may well
    /// succeed: a 5xx (a node lost mid-search, a shard relocating; 503 is
    /// also a search whose every shard copy failed) or shards that failed.
    /// 429 is the cluster asking for less load, a cluster-side timeout a
    /// slow cluster, a 4xx or an unreadable answer would fail again.
    pub fn is_transient(&self) -> bool {
        match self {
            UpstreamError::Status { status, .. } => matches!(status, 500 | 502 | 503 | 504),
            UpstreamError::Partial { timed_out, .. } => !timed_out,
            UpstreamError::Decode { .. } | UpstreamError::Read { .. } | UpstreamError::Answers { .. } => false,
        }
    }
}

/// The `error` object of a cluster's error answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClusterError {
    /// Its `type`.
    #[serde(rename = "type", default)]
    pub kind: ErrorType,
    /// Its `reason`.
    #[serde(default)]
    pub reason: Option<String>,
    /// What caused it, when the cluster says.
    #[serde(default)]
    pub caused_by: Option<Box<ClusterError>>,
}

impl ClusterError {
    /// The error object of an error answer's body; a body that has none (a
    /// proxy's HTML page, a truncated answer) is kept as the reason.
    pub fn from_body(body: &str) -> ClusterError {
        #[derive(Deserialize)]
        struct Envelope {
            error: ClusterError,
        }
        serde_json::from_str::<Envelope>(body).map_or_else(
            |_| ClusterError {
                kind: ErrorType::Unknown,
                reason: Some(body.chars().take(2000).collect()),
                caused_by: None,
            },
            |e| e.error,
        )
    }
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(reason) = &self.reason {
            write!(f, ": {reason}")?;
        }
        if let Some(cause) = &self.caused_by {
            write!(f, " (caused by {cause})")?;
        }
        Ok(())
    }
}

/// The error types the API treats apart; any other is kept by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum ErrorType {
    /// The index or alias does not exist (nothing indexed yet).
    IndexNotFound,
    /// Any other type.
    Other(String),
    /// The answer had no error object.
    #[default]
    Unknown,
}

impl From<String> for ErrorType {
    fn from(kind: String) -> ErrorType {
        match kind.as_str() {
            "index_not_found_exception" => ErrorType::IndexNotFound,
            _ => ErrorType::Other(kind),
        }
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorType::IndexNotFound => f.write_str("index_not_found_exception"),
            ErrorType::Other(kind) => f.write_str(kind),
            ErrorType::Unknown => f.write_str("unknown"),
        }
    }
}

/// What every search and count answer says of its shards.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct Shards {
    /// Shards asked.
    #[serde(default)]
    pub total: u64,
    /// Shards that failed.
    #[serde(default)]
    pub failed: u64,
}

/// An answer that can be partial.
pub trait Complete {
    /// `Err(Partial)` when some shards failed or the cluster timed out.
    fn complete(&self, call: &'static str) -> Result<(), UpstreamError>;
}

fn check(call: &'static str, shards: Shards, timed_out: bool) -> Result<(), UpstreamError> {
    if shards.failed > 0 || timed_out {
        return Err(UpstreamError::Partial { call, failed: shards.failed, total: shards.total, timed_out });
    }
    Ok(())
}

/// A search answer with documents of type `T` and aggregations `A`.
#[derive(Debug, Deserialize)]
#[serde(bound = "T: DeserializeOwned, A: DeserializeOwned + Default")]
pub struct SearchAnswer<T, A = Unread> {
    /// The hits.
    pub hits: Hits<T>,
    /// The aggregations asked for.
    #[serde(default)]
    pub aggregations: A,
    /// The shards' outcome.
    #[serde(default, rename = "_shards")]
    pub shards: Shards,
    /// Whether the cluster stopped at its timeout.
    #[serde(default)]
    pub timed_out: bool,
}

impl<T, A> Complete for SearchAnswer<T, A> {
    fn complete(&self, call: &'static str) -> Result<(), UpstreamError> {
        check(call, self.shards, self.timed_out)
    }
}

impl<T, A> SearchAnswer<T, A> {
    /// The total hit count and whether it is exact.
    pub fn total(&self) -> (u64, bool) {
        self.hits.total.as_ref().map_or((0, true), |t| (t.value, t.relation != Relation::Gte))
    }

    /// The last hit's sort values (for the next cursor).
    pub fn last_sort(&self) -> Option<&[Value]> {
        self.hits.hits.last()?.sort.as_deref()
    }
}

/// A part of an answer not read (no aggregations asked for, no hits).
#[derive(Debug, Default, Deserialize)]
pub struct Unread {}

/// The hits part of a search answer.
#[derive(Debug, Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
pub struct Hits<T> {
    /// How many match.
    #[serde(default)]
    pub total: Option<Total>,
    /// The page of hits.
    #[serde(default = "Vec::new")]
    pub hits: Vec<Hit<T>>,
}

/// A hit count: `{"value", "relation"}`, or a bare number (exact) as
/// `rest_total_hits_as_int` and Elasticsearch 6 answer it.
#[derive(Debug, Deserialize)]
#[serde(from = "TotalForm")]
pub struct Total {
    /// The count.
    pub value: u64,
    /// Exact or a lower bound.
    pub relation: Relation,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum TotalForm {
    Object { value: u64, relation: Relation },
    Number(u64),
}

impl From<TotalForm> for Total {
    fn from(form: TotalForm) -> Total {
        match form {
            TotalForm::Object { value, relation } => Total { value, relation },
            TotalForm::Number(value) => Total { value, relation: Relation::Eq },
        }
    }
}

/// Whether a hit count is exact.
#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Relation {
    /// Exactly `value`.
    Eq,
    /// At least `value`.
    Gte,
}

/// One hit.
#[derive(Debug, Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
pub struct Hit<T> {
    /// The document id.
    #[serde(rename = "_id")]
    pub id: String,
    /// The document (as filtered by `_source`).
    #[serde(rename = "_source")]
    pub source: T,
    /// Highlighted fragments by field.
    #[serde(default)]
    pub highlight: HashMap<String, Vec<String>>,
    /// The sort values (with a sort).
    #[serde(default)]
    pub sort: Option<Vec<Value>>,
}

/// A `terms`, `range` or `histogram` aggregation's buckets.
#[derive(Debug, Default, Deserialize)]
pub struct Buckets {
    /// The buckets, in the aggregation's order.
    #[serde(default)]
    pub buckets: Vec<Bucket>,
}

/// One bucket: its key (a string, or a number for a histogram) and count.
#[derive(Debug, Deserialize)]
pub struct Bucket {
    /// The key.
    pub key: Value,
    /// Documents in it.
    pub doc_count: u64,
}

/// A metric aggregation's value (`null` over no documents).
#[derive(Debug, Default, Deserialize)]
pub struct Metric {
    /// The value.
    #[serde(default)]
    pub value: Option<f64>,
}

/// A count answer.
#[derive(Debug, Deserialize)]
pub struct CountAnswer {
    /// The count.
    pub count: u64,
    /// The shards' outcome.
    #[serde(default, rename = "_shards")]
    pub shards: Shards,
}

impl Complete for CountAnswer {
    fn complete(&self, call: &'static str) -> Result<(), UpstreamError> {
        check(call, self.shards, false)
    }
}

/// A get answer: the document if found.
#[derive(Debug, Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
pub struct GetAnswer<T> {
    /// Whether the document exists.
    #[serde(default)]
    pub found: bool,
    /// The document.
    #[serde(rename = "_source", default = "Option::default")]
    pub source: Option<T>,
}

impl<T> Complete for GetAnswer<T> {
    fn complete(&self, _: &'static str) -> Result<(), UpstreamError> {
        Ok(())
    }
}

/// A cluster health answer.
#[derive(Debug, Deserialize)]
pub struct HealthAnswer {
    /// `green`, `yellow` or `red`.
    pub status: String,
}

impl Complete for HealthAnswer {
    fn complete(&self, _: &'static str) -> Result<(), UpstreamError> {
        Ok(())
    }
}

/// A multi-search answer: one entry per search, an answer or an error.
#[derive(Debug, Deserialize)]
pub struct MsearchAnswer {
    /// The answers in the order of the searches.
    pub responses: Vec<Value>,
}

/// The failed searches of a multi-search: a missing index is an empty
/// answer, any other failure fails the call.
impl Complete for MsearchAnswer {
    fn complete(&self, call: &'static str) -> Result<(), UpstreamError> {
        for answer in &self.responses {
            if answer.get("error").is_none() {
                continue;
            }
            let item = serde_json::from_value::<MsearchItemError>(answer.clone())
                .map_err(|source| UpstreamError::Decode { call, source })?;
            if item.error.kind != ErrorType::IndexNotFound {
                return Err(UpstreamError::Status { call, status: item.status, error: item.error });
            }
        }
        Ok(())
    }
}

/// One search of a multi-search: its error, if it failed.
#[derive(Debug, Deserialize)]
pub struct MsearchItemError {
    /// The error object.
    pub error: ClusterError,
    /// Its status.
    #[serde(default)]
    pub status: u16,
}

#[cfg(test)]
mod tests {
    use imdb_model::TitleDoc;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_search_answer_reads_into_the_model_types() {
        let body = json!({
            "took": 3, "timed_out": false, "_shards": {"total": 2, "successful": 2, "skipped": 0, "failed": 0},
            "hits": {"total": {"value": 7, "relation": "gte"}, "max_score": 1.0, "hits": [
                {"_index": "t", "_id": "tt1", "_score": 1.0, "_source": {"tconst": "tt1", "primary_title": "Up"},
                 "highlight": {"primary_title": ["<em>Up</em>"]}, "sort": [1.0, "tt1"]}
            ]}
        });
        let answer: SearchAnswer<TitleDoc> = serde_json::from_value(body).unwrap();
        assert!(answer.complete("search").is_ok());
        assert_eq!(answer.total(), (7, false));
        assert_eq!(answer.hits.hits[0].source.primary_title, "Up");
        assert_eq!(answer.hits.hits[0].source.num_votes, None, "a filtered-out field is its default");
        assert_eq!(answer.last_sort(), Some(&[json!(1.0), json!("tt1")][..]));
    }

    #[test]
    fn a_total_may_be_a_bare_number() {
        let answer: SearchAnswer<TitleDoc> = serde_json::from_value(json!({"hits": {"total": 4, "hits": []}})).unwrap();
        assert_eq!(answer.total(), (4, true));
    }

    #[test]
    fn failed_shards_or_a_timeout_make_a_partial_answer() {
        let partial = json!({"timed_out": false, "_shards": {"total": 3, "failed": 1}, "hits": {"hits": []}});
        let answer: SearchAnswer<TitleDoc> = serde_json::from_value(partial).unwrap();
        let e = answer.complete("search").unwrap_err();
        assert!(matches!(e, UpstreamError::Partial { failed: 1, total: 3, timed_out: false, .. }));
        assert!(e.is_transient());
        let late = json!({"timed_out": true, "hits": {"hits": []}});
        let answer: SearchAnswer<TitleDoc> = serde_json::from_value(late).unwrap();
        let e = answer.complete("search").unwrap_err();
        assert!(!e.is_transient(), "a slow cluster is not asked again");
    }

    #[test]
    fn error_bodies_are_typed_and_unparsable_ones_kept() {
        let body = r#"{"error":{"type":"search_phase_execution_exception","reason":"","caused_by":{"type":"node_not_connected_exception","reason":"[node-2] Node not connected"}},"status":500}"#;
        let e = ClusterError::from_body(body);
        assert_eq!(e.kind, ErrorType::Other("search_phase_execution_exception".into()));
        assert!(e.to_string().contains("caused by node_not_connected_exception"));
        let missing =
            ClusterError::from_body(r#"{"error":{"type":"index_not_found_exception","reason":"no such index"}}"#);
        assert_eq!(missing.kind, ErrorType::IndexNotFound);
        let html = ClusterError::from_body("<html>bad gateway</html>");
        assert_eq!(html.kind, ErrorType::Unknown);
        assert_eq!(html.reason.as_deref(), Some("<html>bad gateway</html>"));
    }

    #[test]
    fn only_server_faults_and_partial_answers_are_transient() {
        let status = |status| UpstreamError::Status { call: "search", status, error: ClusterError::default() };
        for s in [500, 502, 503, 504] {
            assert!(status(s).is_transient(), "{s}");
        }
        for s in [400, 404, 429] {
            assert!(!status(s).is_transient(), "{s}");
        }
        assert!(status(429).is_pushback() && status(503).is_pushback() && !status(500).is_pushback());
        let decode = serde_json::from_str::<Value>("{").unwrap_err();
        assert!(!UpstreamError::Decode { call: "search", source: decode }.is_transient());
    }
}
