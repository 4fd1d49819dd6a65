//! Every request gets an id: the caller's `X-Request-Id` when it is sane,
//! else a new UUIDv4. It is in the request's log span, in audit events and
//! in the `X-Request-Id` header of every response, errors included.

use std::fmt;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError};

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
const MAX_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// 1 to 128 of `[A-Za-z0-9._:-]`: safe in logs, headers and JSON as is.
    pub fn parse(value: &str) -> Option<Self> {
        let sane = (1..=MAX_LEN).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
        sane.then(|| Self(value.to_owned()))
    }

    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// The incoming header's id if sane, else a new one.
    pub fn from_header(value: Option<&HeaderValue>) -> Self {
        value
            .and_then(|v| v.to_str().ok())
            .and_then(Self::parse)
            .unwrap_or_else(Self::generate)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id the middleware gave this request.
    pub fn of(req: &HttpRequest) -> Option<Self> {
        req.extensions().get::<Self>().cloned()
    }

    /// Calls `f` with the id of `req` as text (empty outside the
    /// middleware), without copying it.
    pub fn with_text<R>(req: &HttpRequest, f: impl FnOnce(&str) -> R) -> R {
        let extensions = req.extensions();
        f(extensions.get::<Self>().map_or("", Self::as_str))
    }
}

/// Middleware, outermost: assigns the id before anything logs, and answers
/// with it whatever happened inside.
pub async fn assign_request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = RequestId::from_header(req.headers().get(REQUEST_ID_HEADER));
    req.extensions_mut().insert(id.clone());
    let value = HeaderValue::from_str(id.as_str()).expect("a sane id is a valid header value");
    match next.call(req).await {
        Ok(mut response) => {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
            Ok(response)
        }
        // The request is gone by now, so the error carries the header to
        // the response that actix makes of it.
        Err(error) => Err(WithRequestId { error, id: value }.into()),
    }
}

#[derive(Debug)]
struct WithRequestId {
    error: actix_web::Error,
    id: HeaderValue,
}

impl fmt::Display for WithRequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl ResponseError for WithRequestId {
    fn status_code(&self) -> StatusCode {
        self.error.as_response_error().status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = self.error.error_response();
        response
            .headers_mut()
            .insert(REQUEST_ID_HEADER, self.id.clone());
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_kept_and_others_refused() {
        for sane in ["a", "req-1.2_3:4", &"x".repeat(128)] {
            assert_eq!(RequestId::parse(sane).unwrap().as_str(), sane);
        }
        for insane in [
            "",
            "has space",
            "semi;colon",
            "é",
            "new\nline",
            &"x".repeat(129),
        ] {
            assert!(RequestId::parse(insane).is_none(), "{insane:?}");
        }
    }
}
