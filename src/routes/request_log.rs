//! The one line logged when a request ends: its id, method, path (never
//! the query string: a query may carry what must not be logged) and
//! status, as fields of one event. The root span that tracing-actix-web
//! opens for the request is at `debug`: building a span for every request
//! at the default `info` level cost more than the line itself.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;

use super::request_id::RequestId;
use crate::telemetry::REQUEST_TARGET;

pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        // Fields are read only when debug is on: nothing is cloned at info.
        tracing::debug_span!(
            "request",
            request_id = request.extensions().get::<RequestId>().map(RequestId::as_str),
            method = %request.method(),
            path = %request.path(),
        )
    }

    fn on_request_end<B: MessageBody>(_: Span, _: &Result<ServiceResponse<B>, Error>) {}
}

/// Logs the request's line once it has an answer, or an error to become one.
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req.extensions().get::<RequestId>().cloned();
    let (method, path) = (req.method().clone(), req.path().to_owned());
    let outcome = next.call(req).await;
    let (status, error) = match &outcome {
        Ok(response) => (response.status(), response.response().error()),
        Err(error) => (error.as_response_error().status_code(), Some(error)),
    };
    let status = status.as_u16();
    match error {
        // The whole cause chain goes to the log; the body stays generic.
        Some(error) if status >= 500 => {
            tracing::error!(request_id = id.as_ref().map(RequestId::as_str), %method, path, status, error = ?error, "request failed")
        }
        _ => {
            tracing::info!(target: REQUEST_TARGET, request_id = id.as_ref().map(RequestId::as_str), %method, path, status, "request finished")
        }
    }
    outcome
}
