//! The stored form of a response, and the middleware's own answers.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::REPLAYED_HEADER;

/// Headers that describe the result; others (dates, rate limits, cookies,
/// request ids) belong to the original exchange and are not replayed.
/// Content-Encoding goes with the body as it was captured.
const REPLAYED_HEADERS: &[header::HeaderName] = &[
    header::CONTENT_TYPE,
    header::CONTENT_ENCODING,
    header::LOCATION,
    header::CONTENT_LOCATION,
    header::ETAG,
    header::LAST_MODIFIED,
    header::CACHE_CONTROL,
    header::LINK,
];

/// What is sealed: status, the headers worth replaying and the body.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StoredResponse {
    pub status: u16,
    headers: Vec<(String, String)>,
    /// Base64.
    body: String,
}

impl StoredResponse {
    pub fn capture(head: &HttpResponse<()>, body: &[u8]) -> Self {
        let headers = REPLAYED_HEADERS
            .iter()
            .flat_map(|name| {
                head.headers().get_all(name).filter_map(move |value| {
                    Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
                })
            })
            .collect();
        Self {
            status: head.status().as_u16(),
            headers,
            body: STANDARD.encode(body),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a stored response serialises")
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }

    /// The response again, marked as a replay; `None` if it is malformed.
    pub fn into_replay(self) -> Option<HttpResponse> {
        let status = StatusCode::from_u16(self.status).ok()?;
        let body = STANDARD.decode(&self.body).ok()?;
        let mut response = HttpResponse::build(status);
        for header in self.headers {
            response.append_header(header);
        }
        response.insert_header((REPLAYED_HEADER, "true"));
        Some(response.body(body))
    }
}

/// The management API's problem answer.
pub(super) fn problem(status: StatusCode, code: &'static str, detail: &str) -> HttpResponse {
    let problem = crate::routes::admin::problem::Problem::new(status, code, detail.to_owned());
    actix_web::ResponseError::error_response(&problem)
}

pub(super) fn unavailable() -> HttpResponse {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
        "the service is temporarily unavailable; retry later",
    )
}

pub(super) fn internal_error() -> HttpResponse {
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL",
        "the request could not be completed",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_status_chosen_headers_and_body() {
        let head = HttpResponse::Created()
            .content_type("application/json")
            .insert_header((header::LOCATION, "/admin/v1/things/1"))
            .insert_header((header::DATE, "Tue, 24 Nov 2026 10:00:00 GMT"))
            .finish()
            .drop_body();
        let stored = StoredResponse::capture(&head, b"{\"secret\":\"s\"}");
        let decoded = StoredResponse::decode(&stored.encode()).unwrap();
        let replay = decoded.into_replay().unwrap();
        assert_eq!(replay.status(), StatusCode::CREATED);
        let headers = replay.headers();
        assert_eq!(
            headers.get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
        assert_eq!(headers.get(header::LOCATION).unwrap(), "/admin/v1/things/1");
        assert_eq!(headers.get(REPLAYED_HEADER).unwrap(), "true");
        assert!(!headers.contains_key(header::DATE));
    }

    #[test]
    fn problems_are_problem_json() {
        let response = problem(StatusCode::CONFLICT, "IDEMPOTENCY_KEY_IN_USE", "busy");
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/problem+json"
        );
    }
}
