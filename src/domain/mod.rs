//! Domain types and rules. Nothing here knows about HTTP or SQL.

pub mod audience;
pub mod change;
pub mod client;
mod ids;
pub mod organisation;
pub mod scope;
pub mod scope_policy;

pub use audience::{Audience, InvalidAudience};
pub use change::Change;
pub use client::{Client, ClientCredentials, ClientId, ClientSecret, ClientStatus, SecretHash};
pub use ids::InvalidId;
pub use organisation::{InvalidName, Name, OrgId, Organisation, Plan, UnknownPlan};
pub use scope::{Scope, ScopeError, ScopeSet};
pub use scope_policy::ScopePolicy;
