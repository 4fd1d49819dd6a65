//! RFC 9457 problem details, the one error shape of the management API:
//! `application/problem+json` with a stable machine `code`.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Map, Value};

use crate::management::ManagementError;
use crate::storage::StorageError;

#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: Cow<'static, str>,
    /// Extension members, such as `field`, `required` and `actual`.
    pub extra: Map<String, Value>,
}

impl Problem {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            extra: Map::new(),
        }
    }

    /// 400 for input that does not parse or breaks a rule; `field` names it.
    pub fn invalid_field(field: &str, detail: impl fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            format!("{field}: {detail}"),
        )
        .with("field", field)
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no such resource, or not visible to this caller",
        )
    }

    pub fn unauthorized(detail: &'static str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", detail)
    }

    pub fn insufficient_scope(required: &str, actual: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "INSUFFICIENT_SCOPE",
            format!("this operation needs scope {required}"),
        )
        .with("required", required)
        .with("actual", actual)
    }

    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(name.to_owned(), value.into());
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl From<StorageError> for Problem {
    fn from(err: StorageError) -> Self {
        ManagementError::from(err).into()
    }
}

/// A storage failure that is not about the request.
fn storage_failure(err: StorageError) -> Problem {
    if let StorageError::Unavailable(_) = err {
        tracing::error!(error = %crate::error::error_chain(&err), "database unavailable");
        return Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "the service is temporarily unavailable; retry later",
        );
    }
    tracing::error!(error = %crate::error::error_chain(&err), "storage failed");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL",
        "internal error",
    )
}

impl From<ManagementError> for Problem {
    fn from(err: ManagementError) -> Self {
        let detail = err.to_string();
        let refused = |status, code| Problem::new(status, code, detail.clone());
        match err {
            ManagementError::InvalidField { field, reason } => {
                Problem::invalid_field(field, reason)
            }
            ManagementError::NotFound => Problem::not_found(),
            ManagementError::InsufficientScope { needed, granted } => {
                Problem::insufficient_scope(&needed, &granted)
            }
            ManagementError::OperatorOnly => refused(StatusCode::FORBIDDEN, "ROOT_REQUIRED"),
            ManagementError::ApiAccessNotAvailable => {
                refused(StatusCode::FORBIDDEN, "API_ACCESS_NOT_AVAILABLE")
            }
            ManagementError::PlanLimitReached => {
                refused(StatusCode::FORBIDDEN, "PLAN_LIMIT_REACHED")
            }
            ManagementError::KeyDeactivated => refused(StatusCode::CONFLICT, "API_KEY_DEACTIVATED"),
            ManagementError::KeyExpired => refused(StatusCode::CONFLICT, "API_KEY_EXPIRED"),
            ManagementError::Conflict => refused(StatusCode::CONFLICT, "CONFLICT"),
            ManagementError::Storage(e) => storage_failure(e),
        }
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        if let Value::Object(members) = &mut body {
            members.extend(self.extra.clone());
        }
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"keyward-admin\""),
            ));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, "5"));
        }
        response
            .content_type("application/problem+json")
            .body(body.to_string())
    }
}
