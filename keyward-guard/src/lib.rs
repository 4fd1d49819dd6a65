//! A resource server's check of Keyward credentials.
//!
//! [`Guard`] verifies Keyward access tokens offline, as RFC 9068 §4 asks:
//! `typ` `at+jwt`, an algorithm Keyward signs with (ES256, EdDSA, RS256)
//! and the key the `kid` names in the issuer's JWKS (cached; refetched for
//! an unknown `kid` at most once per interval), `iss`, `aud`, and `exp` and
//! `nbf` with a leeway. [`RequiredScope`] then asks for a scope, which `*`
//! grants. A refusal is a [`Denial`], which renders as RFC 6750 §3 asks.
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
//! With the `actix` feature, [`actix::RequireScope`] is the same check as
//! actix-web middleware.

#[cfg(feature = "actix")]
pub mod actix;
mod claims;
mod credential;
mod denial;
mod dpop;
mod dpop_proof;
mod guard;
mod jwks;
mod scope;
mod token_cache;
mod verifier;

pub use claims::{Claims, Confirmation};
pub use credential::{Credential, X_API_KEY};
pub use denial::{Denial, DenialBody};
pub use dpop::{DpopBinding, DpopRequest};
pub use dpop_proof::PROOF_ALGORITHMS;
pub use guard::{ConnectError, Guard, GuardBuilder};
pub use jwks::ALGORITHMS;
pub use scope::{RequiredScope, ScopeError};
