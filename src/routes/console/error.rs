//! What a console request that cannot be served gets: a page saying why in
//! plain words, or the way to sign-in. Never a secret, never a stack.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use maud::html;

use super::layout;
use crate::management::ManagementError;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("sign-in required")]
    SignInRequired,
    #[error("the operator's sign-in required")]
    OperatorSignInRequired,
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the database is unavailable")]
    Unavailable,
}

impl From<ManagementError> for ConsoleError {
    fn from(err: ManagementError) -> Self {
        match err {
            ManagementError::InvalidField { field, reason } => {
                Self::Invalid(format!("{}: {reason}", field.replace('_', " ")))
            }
            ManagementError::NotFound => Self::NotFound,
            ManagementError::InsufficientScope { .. } | ManagementError::OperatorOnly => {
                Self::Forbidden("Your role in this organisation does not allow this.".into())
            }
            ManagementError::Conflict => {
                Self::Conflict("It changed meanwhile or exists already; reload and retry.".into())
            }
            ManagementError::Storage(e) => {
                tracing::error!(error = %crate::error::error_chain(&e), "console storage failure");
                Self::Unavailable
            }
            other => Self::Invalid(other.to_string()),
        }
    }
}

impl ConsoleError {
    /// What a form shows above itself when it is sent again: the status and
    /// why, for input the member can correct or a role's refusal; any
    /// other error is its own page.
    pub fn for_form(self) -> Result<(StatusCode, String), Self> {
        match self {
            Self::Invalid(_) | Self::Forbidden(_) => Ok((self.status_code(), self.to_string())),
            other => Err(other),
        }
    }
}

impl From<crate::storage::StorageError> for ConsoleError {
    fn from(err: crate::storage::StorageError) -> Self {
        ManagementError::from(err).into()
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignInRequired | Self::OperatorSignInRequired => StatusCode::SEE_OTHER,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let sign_in = match self {
            Self::SignInRequired => Some("/console/sign-in"),
            Self::OperatorSignInRequired => Some("/console/operator/sign-in"),
            _ => None,
        };
        if let Some(location) = sign_in {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish();
        }
        let title = match self {
            Self::Forbidden(_) => "Not allowed",
            Self::NotFound => "Not found",
            Self::Invalid(_) => "That did not work",
            Self::Conflict(_) => "Changed meanwhile",
            _ => "Unavailable",
        };
        let message = match self {
            Self::NotFound => "There is nothing here, or it is not yours to see.".to_owned(),
            Self::Unavailable => "The database is unavailable; try again shortly.".to_owned(),
            other => other.to_string(),
        };
        let body = html! {
            h1 { (title) }
            div.notice.error role="alert" { (message) }
            p { a href="/console" { "Back to the console" } }
        };
        layout::respond(self.status_code(), layout::bare(title, body))
    }
}

pub async fn not_found() -> Result<HttpResponse, ConsoleError> {
    Err(ConsoleError::NotFound)
}
