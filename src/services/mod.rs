//! Application services: the domain rules wired to stores, caches and keys.

pub mod client_auth;
pub mod registry;
pub mod token_issuer;

pub use client_auth::{AuthenticatedClient, ClientAuthError, ClientAuthenticator};
pub use token_issuer::{IssuedToken, TokenError, TokenIssuer, TokenRequest};
