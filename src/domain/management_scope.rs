//! Keyward's own scopes (`keyward:…`): what a token may do on the
//! management API and the credential-check endpoints. `*` grants none of
//! them; each must be given by name.

pub const PREFIX: &str = "keyward:";
pub const CLIENTS_READ: &str = "keyward:clients:read";
pub const CLIENTS_WRITE: &str = "keyward:clients:write";
pub const KEYS_READ: &str = "keyward:keys:read";
pub const KEYS_WRITE: &str = "keyward:keys:write";
pub const AUDIT_READ: &str = "keyward:audit:read";
/// Invites members and changes their roles; held by organisation owners.
pub const MEMBERS_WRITE: &str = "keyward:members:write";
/// Lets a resource-server client check credentials with a Bearer token.
pub const INTROSPECT: &str = "keyward:introspect";
