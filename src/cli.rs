//! The command line: `serve` (the default), `migrate`, `healthcheck`, and admin commands
//! that work on the configured database and keys directory directly.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "keyward",
    version,
    about = "OAuth 2.0 authorization server for machine-to-machine access"
)]
pub struct Cli {
    /// Settings file (default: keyward.toml in the working directory, if present).
    #[arg(long, global = true, env = "KEYWARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print exactly one JSON object on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Ask the server at the configured listen address for /healthz: exit 0
    /// when it answers 200, 1 otherwise (for a container HEALTHCHECK).
    Healthcheck,
    /// Manage organisations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage the issuers whose tokens sign workloads in (workload
    /// identity federation).
    #[command(subcommand)]
    Issuer(IssuerCommand),
    /// Manage API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage the console's users.
    #[command(subcommand)]
    User(UserCommand),
    /// An organisation's audit trail, newest first.
    AuditEvents(AuditEventsArgs),
    /// What was sent to an organisation's webhook URL, newest first.
    WebhookDeliveries(WebhookDeliveriesArgs),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user to an organisation with a role. A user without a password
    /// gets a single-use link that sets it, printed once; it lasts 24 hours.
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        /// owner, admin or viewer.
        #[arg(long)]
        role: String,
        /// The name shown in the console (default: the email before the @).
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key; the key is printed once.
    Create(ApiKeyCreate),
    /// List an organisation's API keys.
    List {
        #[arg(long)]
        org: String,
        /// Only keys that are active, deactivated or expired now.
        #[arg(long)]
        status: Option<String>,
        /// Only keys that expire within this long (such as 7d, 12h).
        #[arg(long)]
        expiring_within: Option<String>,
    },
    /// Show an API key.
    Get(ApiKeyRef),
    /// Change an API key's settings; what is not given is kept.
    Update(ApiKeyUpdate),
    /// A new key with the same settings; the old one keeps working for the
    /// grace period. The new key is printed once.
    Roll {
        #[command(flatten)]
        key: ApiKeyRef,
        /// How long the old key keeps working (default a day).
        #[arg(long)]
        grace_period_seconds: Option<i64>,
    },
    /// Deactivate an API key: it verifies as DEACTIVATED until reactivated.
    Deactivate(ApiKeyRef),
    /// Reactivate a deactivated API key.
    Activate(ApiKeyRef),
    /// Delete an API key, irreversibly.
    Delete(ApiKeyRef),
    /// An API key's usage per minute, hour or day.
    Usage {
        #[command(flatten)]
        key: ApiKeyRef,
        /// Start (RFC 3339; default a day before --to).
        #[arg(long)]
        from: Option<String>,
        /// End (RFC 3339; default now).
        #[arg(long)]
        to: Option<String>,
        /// minute, hour (the default) or day.
        #[arg(long)]
        granularity: Option<String>,
    },
}

/// An API key, named by its organisation and id (`ak_…`).
#[derive(Debug, Args)]
pub struct ApiKeyRef {
    #[arg(long)]
    pub org: String,
    pub key_id: String,
}

#[derive(Debug, Args)]
pub struct ApiKeyUpdate {
    #[command(flatten)]
    pub key: ApiKeyRef,
    #[arg(long)]
    pub name: Option<String>,
    /// The key's scopes, replacing the old ones; repeat for several.
    #[arg(long = "scope")]
    pub scopes: Option<Vec<String>>,
    /// When the key stops working (RFC 3339).
    #[arg(long, conflicts_with = "no_expiry")]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The key no longer expires.
    #[arg(long)]
    pub no_expiry: bool,
    #[arg(long, conflicts_with = "no_rate_limit")]
    pub rate_limit_per_minute: Option<u32>,
    /// The key has no limit of its own any more: its scopes' tier
    /// (scope_rate_limits) applies, else the default of 60.
    #[arg(long)]
    pub no_rate_limit: bool,
    /// The CIDRs the key may be used from, replacing the old ones.
    #[arg(long = "ip-allow")]
    pub ip_allowlist: Option<Vec<String>>,
    /// The key's metadata, a JSON object, replacing the old one.
    #[arg(long)]
    pub metadata: Option<String>,
}

#[derive(Debug, Args)]
pub struct ApiKeyCreate {
    #[arg(long)]
    pub org: String,
    #[arg(long)]
    pub name: String,
    /// A scope of the key; repeat for several.
    #[arg(long = "scope", required = true)]
    pub scopes: Vec<String>,
    /// When the key stops working (RFC 3339).
    #[arg(long)]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Checks per minute (1 to the max_rate_limit_per_minute setting);
    /// unset, its scopes' tier (scope_rate_limits) applies, else 60.
    #[arg(long)]
    pub rate_limit_per_minute: Option<u32>,
    /// A CIDR the key may be used from; repeat for several.
    #[arg(long = "ip-allow")]
    pub ip_allowlist: Vec<String>,
    /// Metadata of the key, a JSON object.
    #[arg(long)]
    pub metadata: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organisation.
    Create {
        #[arg(long)]
        name: String,
        /// free, starter, professional or enterprise.
        #[arg(long)]
        plan: String,
    },
    /// List organisations.
    List,
    /// Show an organisation.
    Get { org_id: String },
    /// Rename an organisation, change its plan, its webhook URL or its
    /// notification email.
    Update {
        org_id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        plan: Option<String>,
        /// Where webhook events go (https); the first one prints the
        /// signing secret once.
        #[arg(long, conflicts_with = "no_webhook_url")]
        webhook_url: Option<String>,
        /// Stop sending webhook events.
        #[arg(long)]
        no_webhook_url: bool,
        /// Where notification emails go instead of the owners and admins.
        #[arg(long, conflicts_with = "no_notification_email")]
        notification_email: Option<String>,
        /// Send notification emails to the owners and admins again.
        #[arg(long)]
        no_notification_email: bool,
    },
    /// A new webhook signing secret, printed once; the old one stops signing.
    RotateWebhookSecret { org_id: String },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create a client; its secret is printed once.
    Create(ClientCreate),
    /// List clients.
    List {
        /// Only the clients of this organisation.
        #[arg(long)]
        org: Option<String>,
    },
    /// Show a client.
    Get { client_id: String },
    /// Change a client's settings; what is not given is kept.
    Update(ClientUpdate),
    /// A new secret, printed once (or read from standard input); the old
    /// ones keep working for the grace period.
    RotateSecret {
        client_id: String,
        /// How long the old secrets keep working (default a day; 0 ends them now).
        #[arg(long)]
        grace_period_seconds: Option<i64>,
        /// Read the new secret from standard input instead of generating one.
        #[arg(long)]
        secret_stdin: bool,
    },
    /// Deactivate a client: no new tokens, and its live tokens introspect inactive.
    Deactivate { client_id: String },
    /// Reactivate a deactivated client.
    Activate { client_id: String },
    /// Delete a client and its secrets, irreversibly.
    Delete { client_id: String },
    /// Register a public key the client signs private_key_jwt assertions
    /// with: a file holding a PEM `PUBLIC KEY` or a public JWK (JSON).
    AddKey {
        client_id: String,
        #[arg(long)]
        file: std::path::PathBuf,
        /// The key's id, for a PEM (a JWK carries its own); default: its
        /// RFC 7638 thumbprint.
        #[arg(long)]
        kid: Option<String>,
    },
    /// Remove a client's public key; assertions signed with it fail at once.
    RemoveKey { client_id: String, kid: String },
    /// Bind the client to a workload: a platform token of a trusted issuer
    /// for this subject, with these claims, then signs in as the client.
    Bind {
        client_id: String,
        /// A trusted issuer (see `keyward issuer list`).
        #[arg(long)]
        issuer: String,
        /// The token's `sub`, exactly; with `--glob`, a pattern where `*`
        /// stands for any run of characters, matched against the whole `sub`.
        #[arg(long)]
        subject: String,
        #[arg(long)]
        glob: bool,
        /// NAME=VALUE: the claim (or JSON Pointer, `/a/b`) must be this
        /// string; repeat for several.
        #[arg(long = "claim")]
        claims: Vec<String>,
    },
    /// Remove a binding; that workload's tokens no longer sign in.
    Unbind {
        client_id: String,
        subject_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum IssuerCommand {
    /// Trust an issuer's tokens. Its keys come from --jwks-uri, or from
    /// --jwks-file (a JWK Set), or else from its OIDC discovery document.
    Add {
        /// The `iss` of its tokens, exactly.
        #[arg(long)]
        issuer: String,
        #[arg(long, conflicts_with = "jwks_file")]
        jwks_uri: Option<String>,
        #[arg(long)]
        jwks_file: Option<std::path::PathBuf>,
        /// The `aud` its tokens must carry (default: Keyward's issuer).
        #[arg(long)]
        audience: Option<String>,
    },
    /// List the trusted issuers.
    List,
    /// Stop trusting an issuer.
    Remove { issuer_id: String },
}

#[derive(Debug, Args)]
pub struct ClientUpdate {
    pub client_id: String,
    #[arg(long)]
    pub name: Option<String>,
    /// The client's scopes, replacing the old ones; repeat for several.
    #[arg(long = "scope")]
    pub scopes: Option<Vec<String>>,
    /// The client's audiences, replacing the old ones; repeat for several.
    #[arg(long = "audience")]
    pub audiences: Option<Vec<String>>,
    /// When the client stops working (RFC 3339).
    #[arg(long, conflicts_with = "no_expiry")]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The client no longer expires.
    #[arg(long)]
    pub no_expiry: bool,
    #[arg(long, conflicts_with = "no_rate_limit")]
    pub rate_limit_per_minute: Option<u32>,
    /// The client has no limit of its own any more: its scopes' tier
    /// (scope_rate_limits) applies, else token requests are not limited.
    #[arg(long)]
    pub no_rate_limit: bool,
    /// The CIDRs token requests may come from, replacing the old ones.
    #[arg(long = "ip-allow")]
    pub ip_allowlist: Option<Vec<String>>,
    /// Whether the client is a resource server.
    #[arg(long)]
    pub resource_server: Option<bool>,
    /// The one way the client may authenticate: client_secret_basic,
    /// client_secret_post or private_key_jwt.
    #[arg(long, conflicts_with = "any_auth_method")]
    pub auth_method: Option<String>,
    /// The client may authenticate with whatever it holds again.
    #[arg(long)]
    pub any_auth_method: bool,
    /// Where the client publishes its public keys (a JWK Set).
    #[arg(long, conflicts_with = "no_jwks_uri")]
    pub jwks_uri: Option<String>,
    /// The client no longer publishes keys at a URL.
    #[arg(long)]
    pub no_jwks_uri: bool,
    /// Whether every token request must carry a DPoP proof.
    #[arg(long)]
    pub require_dpop: Option<bool>,
}

#[derive(Debug, Args)]
pub struct AuditEventsArgs {
    #[arg(long)]
    pub org: String,
    #[arg(long)]
    pub action: Option<String>,
    #[arg(long)]
    pub target_id: Option<String>,
    /// Events at or after this time (RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// Events before this time (RFC 3339).
    #[arg(long)]
    pub until: Option<String>,
}

#[derive(Debug, Args)]
pub struct WebhookDeliveriesArgs {
    #[arg(long)]
    pub org: String,
    /// Only deliveries that are pending, delivered or failed.
    #[arg(long)]
    pub state: Option<String>,
}

#[derive(Debug, Args)]
pub struct ClientCreate {
    #[arg(long)]
    pub org: String,
    #[arg(long)]
    pub name: String,
    /// An allowed scope; repeat for several.
    #[arg(long = "scope", required = true)]
    pub scopes: Vec<String>,
    /// An allowed audience (resource); repeat for several.
    #[arg(long = "audience")]
    pub audiences: Vec<String>,
    /// When the client stops working (RFC 3339).
    #[arg(long)]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The client is a resource server: it may introspect tokens whose
    /// audience is one of its `--audience` values.
    #[arg(long)]
    pub resource_server: bool,
    /// A CIDR token requests may come from; repeat for several (default: any).
    #[arg(long = "ip-allow")]
    pub ip_allowlist: Vec<String>,
    /// Token requests per minute (1 to max_rate_limit_per_minute); unset,
    /// its scopes' tier (scope_rate_limits) applies, else no limit.
    #[arg(long)]
    pub rate_limit_per_minute: Option<u32>,
    /// Read the client's secret from standard input instead of generating
    /// one: for an integration moving from another server with its secret.
    /// It is stored with argon2id and must be at least 24 characters.
    #[arg(long)]
    pub secret_stdin: bool,
    /// The one way the client may authenticate: client_secret_basic,
    /// client_secret_post or private_key_jwt (default: whatever it holds).
    #[arg(long)]
    pub auth_method: Option<String>,
    /// A file with a public key (PEM or JWK) for private_key_jwt; repeat
    /// for several.
    #[arg(long = "public-key")]
    pub public_keys: Vec<std::path::PathBuf>,
    /// Where the client publishes its public keys (a JWK Set), fetched
    /// when an assertion names a kid not registered.
    #[arg(long)]
    pub jwks_uri: Option<String>,
    /// Refuse token requests without a DPoP proof, so that every token
    /// is bound to the client's key.
    #[arg(long)]
    pub require_dpop: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key; it signs from the next key reload on.
    Rotate,
    /// List keys with their state.
    List,
}
