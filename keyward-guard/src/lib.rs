//! A resource server's check of Keyward credentials.
//!
//! [`Guard`] verifies Keyward access tokens offline, as RFC 9068 §4 asks:
//! `typ` `at+jwt`, an algorithm Keyward signs with (ES256, EdDSA, RS256)
//! and the key the `kid` names in the issuer's JWKS (cached; refetched for
//! an unknown `kid` at most once per interval), `iss`, `aud`, and `exp` and
//! `nbf` with a leeway. Or, in introspection mode ([`Introspection`]), it
//! asks Keyward's `/oauth/introspect` and caches active answers briefly, so
//! revocations and deactivations count within that time to live.
//! [`RequiredScope`] then asks for a scope, which `*` grants. A refusal is a
//! [`Denial`], which renders as RFC 6750 §3 asks.
//! [`Guard::authorize_request`] also takes DPoP-bound tokens with their
//! proofs (RFC 9449 §7). Verified tokens are remembered until they expire.
//!
//! ```no_run
//! use keyward_guard::{Credential, Guard, RequiredScope};
//!
//! # async fn run(authorization: Option<&str>, x_api_key: Option<&str>) -> Result<(), Box<dyn std::error::Error>> {
//! let guard = Guard::builder("https://keyward.example.test", "https://api.example.test")
//!     .connect()
//!     .await?;
//! let payouts_read = RequiredScope::parse("payouts:read")?;
//! match guard.authorize(Credential::find(authorization, x_api_key), &payouts_read).await {
//!     Ok(claims) => println!("{} may read payouts", claims.sub),
//!     Err(denial) => println!("{} {:?}", denial.status(), denial.challenge(guard.realm())),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! API keys (`kw_…`) are checked by asking Keyward's `/v1/keys/verify`
//! once [`GuardBuilder::api_keys`] gives the guard a resource-server
//! client; a `VALID` verdict is reused for a short TTL (2 s unless set by
//! [`GuardBuilder::api_key_cache_ttl`]), which bounds how late a
//! deactivation is followed, and the requests it serves are reported to
//! Keyward so that each counts once in the key's usage and rate limit.
//!
//! With the `actix` feature, [`actix::RequireScope`] is the same check as
//! actix-web middleware; with the `tower` feature,
//! [`tower::RequireScopeLayer`] is the same as a tower layer, for axum.

#[cfg(feature = "actix")]
pub mod actix;
mod api_keys;
mod claims;
mod credential;
mod denial;
mod dpop;
mod dpop_proof;
mod guard;
mod introspection;
mod jwks;
#[cfg(any(feature = "actix", feature = "tower"))]
mod render;
mod scope;
mod token_cache;
mod token_check;
#[cfg(feature = "tower")]
pub mod tower;
mod verifier;

pub use api_keys::ResourceServerCredentials;
pub use claims::{Claims, Confirmation};
pub use credential::{Credential, X_API_KEY};
pub use denial::{Denial, DenialBody};
pub use dpop::{DpopBinding, RequestParts};
pub use dpop_proof::PROOF_ALGORITHMS;
pub use guard::{ConnectError, Guard, GuardBuilder};
pub use introspection::Introspection;
pub use jwks::ALGORITHMS;
pub use scope::{RequiredScope, ScopeError};
