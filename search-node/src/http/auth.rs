//! Optional authentication: HTTP basic credentials and/or an Elasticsearch
//! API key, checked on every request when configured. Without either, the
//! node must listen on loopback only (see `main.rs`).
//!
//! A request without valid credentials gets Elasticsearch's 401
//! `security_exception` with a `WWW-Authenticate` challenge, so official
//! clients report it as an authentication error.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use serde_json::json;

/// Accepted credentials.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    /// `Basic <base64(user:password)>`.
    basic: Option<String>,
    /// `ApiKey <key>` (the encoded key clients send).
    api_key: Option<String>,
}

/// Standard base64 with padding, for the basic-auth header value.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Auth {
    /// From `user:password` and an API key, either optional.
    pub fn new(basic: Option<&str>, api_key: Option<&str>) -> Auth {
        Auth {
            basic: basic.map(|b| format!("Basic {}", base64(b.as_bytes()))),
            api_key: api_key.map(|k| format!("ApiKey {k}")),
        }
    }

    /// Whether any check is configured.
    pub fn is_enabled(&self) -> bool {
        self.basic.is_some() || self.api_key.is_some()
    }

    fn accepts(&self, header_value: Option<&str>) -> bool {
        let Some(given) = header_value.map(str::trim) else { return false };
        // Constant-time over the expected value's length, so timing does not
        // reveal how much of a guess matched.
        let same = |expected: &String| {
            expected.len() == given.len()
                && expected.bytes().zip(given.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
        };
        self.basic.as_ref().is_some_and(same) || self.api_key.as_ref().is_some_and(same)
    }
}

/// Middleware: refuses requests without accepted credentials when an
/// [`Auth`] with checks is registered as app data.
pub async fn check(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let auth = req.app_data::<web::Data<Auth>>().cloned();
    if let Some(auth) = auth.filter(|a| a.is_enabled()) {
        let given = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if !auth.accepts(given) {
            let reason = format!("missing authentication credentials for REST request [{}]", req.path());
            let body = json!({
                "error": {"root_cause": [{"type": "security_exception", "reason": reason}], "type": "security_exception", "reason": reason},
                "status": 401
            });
            let response = HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"security\" charset=\"UTF-8\", ApiKey"))
                .json(body);
            return Ok(req.into_response(response).map_into_boxed_body());
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials() {
        assert_eq!(base64(b"elastic:changeme"), "ZWxhc3RpYzpjaGFuZ2VtZQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        let auth = Auth::new(Some("elastic:changeme"), Some("c2VjcmV0"));
        assert!(auth.accepts(Some("Basic ZWxhc3RpYzpjaGFuZ2VtZQ==")));
        assert!(auth.accepts(Some("ApiKey c2VjcmV0")));
        assert!(!auth.accepts(Some("Basic ZWxhc3RpYzpjaGFuZ2VtZA==")));
        assert!(!auth.accepts(None));
        assert!(!Auth::new(None, None).is_enabled());
    }
}
