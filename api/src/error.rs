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
    /// The cluster could not be reached.
    #[error("the search cluster is unreachable: {0}")]
    Unavailable(String),
    /// The cluster answered with an error or something unreadable.
    #[error("the search cluster failed: {0}")]
    Upstream(String),
    /// A setting that cannot work (at start, never in an answer).
    #[error("bad setting: {0}")]
    BadSetting(String),
}

impl ApiError {
    /// A bad value for `name`.
    pub fn invalid(name: impl Into<String>, reason: impl Into<String>) -> ApiError {
        ApiError::InvalidParameter { name: name.into(), reason: reason.into() }
    }

    /// The problem type's short name, also its `type` URI's last part.
    fn kind(&self) -> &'static str {
        match self {
            ApiError::InvalidParameter { .. } => "invalid-parameter",
            ApiError::NotFound(_) => "not-found",
            ApiError::MethodNotAllowed(_) => "method-not-allowed",
            ApiError::RateLimited { .. } => "rate-limited",
            ApiError::Overloaded => "overloaded",
            ApiError::NoIndex => "no-index",
            ApiError::UpstreamTimeout(_) => "upstream-timeout",
            ApiError::Unavailable(_) => "upstream-unavailable",
            ApiError::Upstream(_) => "upstream-error",
            ApiError::BadSetting(_) => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::InvalidParameter { .. } => "Invalid request parameter",
            ApiError::NotFound(_) => "Not found",
            ApiError::MethodNotAllowed(_) => "Method not allowed",
            ApiError::RateLimited { .. } => "Too many requests",
            ApiError::Overloaded => "Service overloaded",
            ApiError::NoIndex => "No data indexed yet",
            ApiError::UpstreamTimeout(_) => "Search cluster timeout",
            ApiError::Unavailable(_) => "Search cluster unavailable",
            ApiError::Upstream(_) => "Search cluster error",
            ApiError::BadSetting(_) => "Internal error",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::InvalidParameter { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Overloaded | ApiError::NoIndex | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::BadSetting(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        // Every server-side failure is logged here, once, with what the
        // client is not told.
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), error = %self, "request failed");
        }
        let detail = match self {
            // The cluster's own words stay in the log.
            ApiError::Upstream(_) => "the search cluster answered with an error; it has been logged".to_owned(),
            ApiError::Unavailable(_) => "the search cluster cannot be reached".to_owned(),
            ApiError::BadSetting(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        let mut body = json!({
            "type": format!("urn:imdb-search:problem:{}", self.kind()),
            "title": self.title(),
            "status": status.as_u16(),
            "detail": detail,
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
        let e = ApiError::Upstream("index [secret] blew up".into());
        assert_eq!(e.status_code(), 502);
        assert!(!body(&e)["detail"].as_str().unwrap().contains("secret"));
        assert_eq!(ApiError::Overloaded.status_code(), 503);
        assert_eq!(ApiError::UpstreamTimeout(std::time::Duration::from_secs(1)).status_code(), 504);
        let limited = ApiError::RateLimited { retry_after_secs: 2 }.error_response();
        assert_eq!(limited.status(), 429);
        assert_eq!(limited.headers().get("retry-after").unwrap(), "2");
    }
}
