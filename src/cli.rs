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
    /// Manage API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key; the key is printed once.
    Create(ApiKeyCreate),
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
    /// Checks per minute (1 to the max_rate_limit_per_minute setting, 10000).
    #[arg(long, default_value_t = crate::domain::api_key::DEFAULT_KEY_RATE_LIMIT)]
    pub rate_limit_per_minute: u32,
    /// A CIDR the key may be used from; repeat for several.
    #[arg(long = "ip-allow")]
    pub ip_allowlist: Vec<String>,
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
    /// Deactivate a client: no new tokens, and its live tokens introspect inactive.
    Deactivate { client_id: String },
    /// Reactivate a deactivated client.
    Activate { client_id: String },
    /// Delete a client and its secrets, irreversibly.
    Delete { client_id: String },
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
    /// Token requests per minute (1 to max_rate_limit_per_minute); unlimited when unset.
    #[arg(long)]
    pub rate_limit_per_minute: Option<u32>,
    /// Read the client's secret from standard input instead of generating
    /// one: for an integration moving from another server with its secret.
    /// It is stored with argon2id and must be at least 24 characters.
    #[arg(long)]
    pub secret_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key; it signs from the next key reload on.
    Rotate,
    /// List keys with their state.
    List,
}
