//! Application services: the domain rules wired to stores, caches and keys.

pub mod access_tokens;
pub mod api_keys;
pub mod audit_writer;
pub mod auth_failure_tally;
pub mod batch_loader;
pub mod change_feed;
pub mod client_assertion;
pub mod client_auth;
pub mod credential_reads;
pub mod dpop;
pub mod email;
pub mod expiry_warnings;
pub mod failure_gate;
pub mod federated_assertion;
pub mod feed_sync;
pub mod introspection;
pub mod metering;
pub mod one_time_values;
pub mod outbound_http;
pub mod outbox;
pub mod rate_limit;
pub mod record_cache;
pub mod redis_link;
pub mod remote_jwks;
pub mod request_records;
pub mod revocation;
pub mod revocation_list;
pub mod root_token;
mod thread_group_commit;
pub mod token_issuer;
pub mod trusted_issuers;
pub mod usage;
pub mod webhooks;

pub use access_tokens::AccessTokenVerifier;
pub use api_keys::{ApiKeyVerifier, CheckedKey, KeyRejection, KeyVerdict};
pub use client_auth::{
    AssertionChecks, Authenticated, AuthenticatedClient, ClientAuthError, ClientAuthenticator,
    ClientProof, FederatedSignIn,
};
pub use introspection::{Caller, Introspection, Introspector};
pub use revocation::Revoker;
pub use revocation_list::RevocationList;
pub use token_issuer::{IssuedToken, TokenError, TokenIssuer, TokenRequest};
