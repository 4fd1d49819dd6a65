//! The management core: one use case per operation on organisations,
//! clients, API keys and members, each doing the whole job (validation into domain
//! types, the caller's reach and scopes, the plan, the store write, the
//! local caches, the audit event). The management API (`routes::admin`)
//! and the CLI (`crate::admin`) are adapters over it: they parse, call and
//! render, and share nothing else.

mod actor;
mod api_keys;
mod audit_trail;
mod clients;
pub mod console_sessions;
mod error;
mod federation;
pub(crate) mod fields;
mod organisations;
mod people;
mod records;
mod request_log;
pub mod views;

use std::sync::Arc;

pub use actor::{Actor, Caller};
pub use api_keys::{
    ApiKeyChanges, ApiKeyList, NewApiKey, RolledKey, UsageItem, UsageQuery, UsageSeries,
};
pub use audit_trail::{change as audit_change, event as audit_event, Target as AuditSubject};
pub use clients::{
    ClientChanges, CreatedClient, KeyRegistration, NewClient, RotatedSecret, SecretRotation,
};
pub use error::ManagementError;
pub use federation::{NewFederatedSubject, NewTrustedIssuer};
pub use organisations::{NewOrganisation, OrganisationChanges, UpdatedOrganisation};
pub use people::{password_link, Invitation, NewMember, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
pub use records::AuditFilter;
pub use request_log::RequestFilter;

use crate::crypto::webhook_signing::WebhookSigner;
use crate::crypto::SecretHasher;
use crate::domain::{Change, PlanLimits, RateTiers, WebhookUrlRules};
use crate::services::audit_writer::AuditWriter;
use crate::services::change_feed::CacheInvalidator;
use crate::services::email::EmailOutbox;
use crate::services::trusted_issuers::TrustedIssuers;
use crate::storage::Store;
use crate::time::Clock;

/// Built once by `startup` (the server) or `crate::admin` (the CLI).
pub struct Management {
    pub store: Arc<dyn Store>,
    pub secrets: SecretHasher,
    pub plans: PlanLimits,
    /// The highest `rate_limit_per_minute` a credential may get.
    pub max_rate_limit_per_minute: u32,
    /// The tier limits of credentials without their own, for the views.
    pub rate_tiers: Arc<RateTiers>,
    pub webhook_urls: WebhookUrlRules,
    pub webhook_signer: Arc<WebhookSigner>,
    pub audit: Arc<AuditWriter>,
    /// This node's credential caches; other nodes hear of a change through
    /// the change log. None where nothing is cached (the CLI).
    pub caches: Option<Arc<CacheInvalidator>>,
    /// This node's trusted issuers, reloaded after a change here.
    pub issuers: Option<Arc<TrustedIssuers>>,
    /// Queues emails (invitations) when email is on.
    pub email: Option<Arc<EmailOutbox>>,
    pub clock: Arc<dyn Clock>,
}

impl Management {
    /// Drops what this node caches of a changed credential at once.
    fn forget(&self, change: Change) {
        if let Some(caches) = &self.caches {
            caches.apply(&change);
        }
    }

    fn now(&self) -> i64 {
        self.clock.unix()
    }
}
