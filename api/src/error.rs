//! The API's errors and their one mapping to HTTP: every error leaves as an
//! `application/problem+json` body (RFC 9457) with `type`, `title`,
//! `status` and `detail`, plus `invalid_params` (which parameter, and why)
//! for a bad request.
//!
//! `BadSetting` stops a node at start and never reaches a client.
//! User errors (4xx) say what to change; internal errors (5xx) say what
//! failed without leaking the cluster's answer to the client (it is logged).
//! User input never produces a 5xx: the query builder only emits DSL that
//! the cluster accepts, and a cluster 400 is reported as a 502 because it
//! means the API built something wrong, not that the user did.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use imdb_telemetry::logging::ErrorChain;

use crate::cluster::UpstreamError;

/// An API failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter or path segment with a value the API cannot use.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: String,
        /// Why, and what is accepted.
        reason: String,
    },
    /// A resource that does not exist (a title or person id, a route).
    #[error("{0}")]
    NotFound(String),
    /// A method the resource does not answer.
    #[error("method not allowed: {0}")]
    MethodNotAllowed(String),
    /// The client sent more requests than its rate allows.
    #[error("rate limit exceeded: retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until a request is allowed again.
        retry_after_secs: u64,
    },
    /// The cluster has no index to answer from yet (nothing indexed).
    #[error("nothing is indexed yet")]
    NoIndex,
    /// Too many requests are waiting for the cluster already.
    #[error("the service is at capacity")]
    Overloaded,
    /// The cluster did not answer in time.
    #[error("the search cluster did not answer within {0:?}")]
    UpstreamTimeout(std::time::Duration),
    /// No node of the cluster could be reached.
    #[error("the search cluster is unreachable")]
    Unavailable(#[source] elasticsearch::Error),
    /// The cluster reports its health as red.
    #[error("the search cluster's health is red")]
    ClusterRed,
    /// The cluster answered with an error or something unreadable.
    #[error("the search cluster failed")]
    Upstream(#[from] UpstreamError),
    /// Reading a file of the UI failed inside the server.
    #[error("reading a UI file")]
    UiFile(#[source] actix_web::error::BlockingError),
    /// A setting that cannot work (at start, never in an answer).
    #[error("bad setting: {0}")]
    BadSetting(String),
    /// A search cluster URL that does not parse (at start).
    #[error("search cluster url `{url}`")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// Why it does not parse.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The cluster client could not be built (at start).
    #[error("search cluster client")]
    Client(#[source] elasticsearch::http::transport::BuildError),
}

/// What a client can tell apart: each code is one row of [`Code::row`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// A bad parameter (400).
    InvalidParameter,
    /// No such resource (404).
    NotFound,
    /// Wrong method (405).
    MethodNotAllowed,
    /// Over the rate limit (429).
    RateLimited,
    /// At capacity, here or in the cluster (503).
    Overloaded,
    /// Nothing indexed yet (503).
    NoIndex,
    /// The cluster was too slow (504).
    UpstreamTimeout,
    /// The cluster cannot be reached or is red (503).
    UpstreamUnavailable,
    /// The cluster failed (502).
    UpstreamError,
    /// A fault of this server (500).
    Internal,
}

impl Code {
    /// The table: status, the problem type's short name (also its `type`
    /// URI's last part) and title. One row per code.
    pub const fn row(self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Code::InvalidParameter => (StatusCode::BAD_REQUEST, "invalid-parameter", "Invalid request parameter"),
            Code::NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Code::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed"),
            Code::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many requests"),
            Code::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded", "Service overloaded"),
            Code::NoIndex => (StatusCode::SERVICE_UNAVAILABLE, "no-index", "No data indexed yet"),
            Code::UpstreamTimeout => (StatusCode::GATEWAY_TIMEOUT, "upstream-timeout", "Search cluster timeout"),
            Code::UpstreamUnavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "upstream-unavailable", "Search cluster unavailable")
            }
            Code::UpstreamError => (StatusCode::BAD_GATEWAY, "upstream-error", "Search cluster error"),
            Code::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        }
    }
}

impl ApiError {
    /// A bad value for `name`.
    pub fn invalid(name: impl Into<String>, reason: impl Into<String>) -> ApiError {
        ApiError::InvalidParameter { name: name.into(), reason: reason.into() }
    }

    /// Its code.
    pub fn code(&self) -> Code {
        match self {
            ApiError::InvalidParameter { .. } => Code::InvalidParameter,
            ApiError::NotFound(_) => Code::NotFound,
            ApiError::MethodNotAllowed(_) => Code::MethodNotAllowed,
            ApiError::RateLimited { .. } => Code::RateLimited,
            ApiError::Overloaded => Code::Overloaded,
            // The cluster pushing back is the service at capacity.
            ApiError::Upstream(e) if e.is_pushback() => Code::Overloaded,
            ApiError::NoIndex => Code::NoIndex,
            ApiError::UpstreamTimeout(_) => Code::UpstreamTimeout,
            ApiError::Unavailable(_) | ApiError::ClusterRed => Code::UpstreamUnavailable,
            ApiError::Upstream(_) => Code::UpstreamError,
            ApiError::UiFile(_) | ApiError::BadSetting(_) | ApiError::BadUrl { .. } | ApiError::Client(_) => {
                Code::Internal
            }
        }
    }

    /// What the client is told. Server-side failures say what failed, not
    /// the cluster's or the system's own words (those are logged).
    fn detail(&self) -> String {
        match self.code() {
            Code::UpstreamError => "the search cluster answered with an error; it has been logged".to_owned(),
            Code::UpstreamUnavailable => "the search cluster cannot be reached or is not serving".to_owned(),
            Code::Overloaded => "the service is at capacity; retry shortly".to_owned(),
            Code::Internal => "internal error".to_owned(),
            _ => self.to_string(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code().row().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, kind, title) = self.code().row();
        // Every server-side failure is logged here, once, with what the
        // client is not told.
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), error = %ErrorChain(self), "request failed");
        }
        let mut body = json!({
            "type": format!("urn:imdb-search:problem:{kind}"),
            "title": title,
            "status": status.as_u16(),
            "detail": self.detail(),
        });
        if let ApiError::InvalidParameter { name, reason } = self {
            body["invalid_params"] = json!([{"name": name, "reason": reason}]);
        }
        let mut response = HttpResponse::build(status);
        response.content_type("application/problem+json");
        if let ApiError::RateLimited { retry_after_secs } = self {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from(*retry_after_secs)));
        }
        response.body(body.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body(e: &ApiError) -> serde_json::Value {
        let bytes = e.error_response().into_body().try_into_bytes().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn a_bad_parameter_is_a_400_problem_naming_it() {
        let e = ApiError::invalid("size", "must be between 1 and 100");
        assert_eq!(e.status_code(), 400);
        assert_eq!(e.error_response().headers().get("content-type").unwrap(), "application/problem+json");
        let b = body(&e);
        assert_eq!(b["status"], 400);
        assert_eq!(b["type"], "urn:imdb-search:problem:invalid-parameter");
        assert_eq!(b["invalid_params"][0]["name"], "size");
        assert_eq!(b["invalid_params"][0]["reason"], "must be between 1 and 100");
    }

    #[test]
    fn cluster_details_do_not_leak_and_statuses_are_mapped_once() {
        let error =
            crate::cluster::ClusterError::from_body(r#"{"error":{"type":"x","reason":"index [secret] blew up"}}"#);
        let e = ApiError::Upstream(UpstreamError::Status { call: "search", status: 500, error });
        assert_eq!(e.status_code(), 502);
        assert!(!body(&e).to_string().contains("secret"));
        let pushback = UpstreamError::Status { call: "search", status: 429, error: Default::default() };
        assert_eq!(ApiError::Upstream(pushback).status_code(), 503, "the cluster's 429 is our capacity");
        assert_eq!(ApiError::Overloaded.status_code(), 503);
        assert_eq!(ApiError::UpstreamTimeout(std::time::Duration::from_secs(1)).status_code(), 504);
        let limited = ApiError::RateLimited { retry_after_secs: 2 }.error_response();
        assert_eq!(limited.status(), 429);
        assert_eq!(limited.headers().get("retry-after").unwrap(), "2");
    }

    #[test]
    fn every_code_has_its_own_type_and_a_status_of_its_class() {
        let codes = [
            Code::InvalidParameter,
            Code::NotFound,
            Code::MethodNotAllowed,
            Code::RateLimited,
            Code::Overloaded,
            Code::NoIndex,
            Code::UpstreamTimeout,
            Code::UpstreamUnavailable,
            Code::UpstreamError,
            Code::Internal,
        ];
        let kinds: std::collections::BTreeSet<&str> = codes.iter().map(|c| c.row().1).collect();
        assert_eq!(kinds.len(), codes.len(), "problem types are unique");
        for code in codes {
            let user =
                matches!(code, Code::InvalidParameter | Code::NotFound | Code::MethodNotAllowed | Code::RateLimited);
            assert_eq!(code.row().0.is_client_error(), user, "{code:?}");
        }
    }
}
