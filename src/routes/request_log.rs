//! The root span of each request, and the one line logged when it ends.
//! The span names the path without its query string: a query may carry
//! what must not be logged.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;

use super::request_id::RequestId;

pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let id = request
            .extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(RequestId::generate);
        tracing::info_span!(
            "request",
            request_id = %id.as_str(),
            method = %request.method(),
            path = %request.path(),
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let _entered = span.enter();
        let (status, error) = match outcome {
            Ok(response) => (response.status(), response.response().error()),
            Err(error) => (error.as_response_error().status_code(), Some(error)),
        };
        let status = status.as_u16();
        match error {
            // The whole cause chain goes to the log; the body stays generic.
            Some(error) if status >= 500 => {
                tracing::error!(status, error = ?error, "request failed")
            }
            _ => tracing::info!(status, "request finished"),
        }
    }
}
