//! Why a management use case refused, for each adapter to render: RFC 9457
//! problems on the management API, a message on the CLI.

use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum ManagementError {
    /// Input that does not parse or breaks a rule; `field` names it as the
    /// management API's JSON does.
    #[error("{field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    /// No such resource, or not within the caller's reach.
    #[error("no such resource, or not visible to this caller")]
    NotFound,
    #[error("this operation needs scope {needed}")]
    InsufficientScope { needed: String, granted: String },
    #[error("only the operator's root token may do this")]
    OperatorOnly,
    #[error("the organisation's plan has no API access")]
    ApiAccessNotAvailable,
    #[error(
        "the organisation's plan allows no more usable API keys \
         (keys in a roll's grace period count until it ends)"
    )]
    PlanLimitReached,
    #[error("a deactivated key does not roll; activate it first")]
    KeyDeactivated,
    #[error("an expired key does not roll; create a new one")]
    KeyExpired,
    #[error("the resource changed or already exists")]
    Conflict,
    #[error(transparent)]
    Storage(StorageError),
}

impl ManagementError {
    pub fn invalid(field: &'static str, reason: impl std::fmt::Display) -> Self {
        Self::InvalidField {
            field,
            reason: reason.to_string(),
        }
    }
}

impl From<StorageError> for ManagementError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::NotFound => Self::NotFound,
            StorageError::Conflict => Self::Conflict,
            StorageError::LimitReached => Self::PlanLimitReached,
            other => Self::Storage(other),
        }
    }
}
