//! Domain types and rules. Nothing here knows about HTTP or SQL.

pub mod api_key;
pub mod audience;
pub mod audit;
pub mod bounds;
pub mod change;
pub mod client;
pub mod client_keys;
pub mod email;
pub mod federation;
pub mod idempotency_key;
mod ids;
pub mod imported_secret;
pub mod ip_allowlist;
pub mod management_scope;
pub mod organisation;
pub mod outbound_address;
pub mod public_jwk;
pub mod rate_tiers;
pub mod request_record;
pub mod scope;
pub mod scope_policy;
pub mod trusted_proxies;
pub mod user;
pub mod webhook;

pub use api_key::{ApiKey, ApiKeyCredentials, ApiKeyId, ApiKeySecret, ApiKeyStatus, InvalidApiKey};
pub use audience::{Audience, InvalidAudience};
pub use audit::{AuditEvent, AuditTarget};
pub use change::Change;
pub use client::{
    Client, ClientCredentials, ClientId, ClientSecret, ClientStatus, SecretHash, SecretOrigin,
    Unusable,
};
pub use client_keys::{AuthMethod, ClientKeyError, ClientKeys};
pub use email::{EmailDelivery, InvalidMailAddress, MailAddress, MailContent, SmtpServer, SmtpTls};
pub use federation::{
    FederatedSubject, FederatedSubjectError, FederatedSubjects, IssuerKeys, SubjectMatch,
    TrustedIssuer,
};
pub use idempotency_key::{IdempotencyKey, InvalidIdempotencyKey};
pub use ids::InvalidId;
pub use imported_secret::{ImportedSecret, WeakSecret};
pub use ip_allowlist::{InvalidAllowlist, IpAllowlist};
pub use organisation::{
    InvalidName, Name, OrgId, Organisation, Plan, PlanLimit, PlanLimits, UnknownPlan,
};
pub use public_jwk::{JwkError, JwsAlgorithm, PublicJwk};
pub use rate_tiers::{EffectiveRateLimit, RateLimitSource, RateTiers, ScopeRateLimits};
pub use request_record::{RequestEntry, RequestRecord};
pub use scope::{Scope, ScopeError, ScopeSet};
pub use scope_policy::ScopePolicy;
pub use trusted_proxies::{client_ip, TrustedProxies};
pub use user::{
    ConsoleSession, Email, InvalidEmail, Membership, PasswordLink, Role, UnknownRole, User, UserId,
    PASSWORD_LINK_SECONDS,
};
pub use webhook::{
    DeliveryAttempt, DeliveryState, ExpiringCredential, InvalidWebhookUrl, RetryPolicy,
    WebhookDelivery, WebhookUrlRules,
};
