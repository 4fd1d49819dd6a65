//! Row structs shared by both backends, and their conversion to domain types.

use crate::domain::{
    ApiKey, ApiKeyCredentials, ApiKeyId, ApiKeyStatus, Audience, AuditEvent, AuditTarget,
    AuthMethod, Change, Client, ClientCredentials, ClientId, ClientKeys, ClientStatus,
    DeliveryState, EmailDelivery, ExpiringCredential, FederatedSubjects, IpAllowlist, IssuerKeys,
    MailAddress, Name, OrgId, Organisation, ScopeSet, SecretHash, SecretOrigin, TrustedIssuer,
    WebhookDelivery,
};

use crate::domain::{ConsoleSession, Email, Membership, Role, User, UserId};

use super::StorageError;

#[derive(sqlx::FromRow)]
pub(super) struct OrganisationRow {
    pub id: String,
    pub name: String,
    pub plan: String,
    pub created_at: i64,
    pub webhook_url: Option<String>,
    pub webhook_signing_nonce: Option<String>,
    pub notification_email: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(super) struct ClientRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub scopes: String,
    pub audiences: String,
    pub status: String,
    pub resource_server: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: Option<i64>,
    pub ip_allowlist: String,
    pub rate_limit_per_minute: Option<i64>,
    pub last_used_at: Option<i64>,
    pub request_count: i64,
    pub token_endpoint_auth_method: Option<String>,
    pub public_keys: String,
    pub jwks_uri: Option<String>,
    pub dpop_bound_access_tokens: bool,
    pub federated_subjects: String,
}

#[derive(sqlx::FromRow)]
pub(super) struct TrustedIssuerRow {
    pub id: String,
    pub issuer: String,
    pub jwks_uri: Option<String>,
    pub jwks: Option<String>,
    pub audience: Option<String>,
    pub created_at: i64,
}

/// The `jwks_uri` and `jwks` columns of an issuer's key source.
pub(super) fn issuer_key_columns(keys: &IssuerKeys) -> (Option<&str>, Option<String>) {
    match keys {
        IssuerKeys::Discovery => (None, None),
        IssuerKeys::JwksUri(uri) => (Some(uri), None),
        IssuerKeys::Static(set) => (None, Some(set.to_string())),
    }
}

impl TryFrom<TrustedIssuerRow> for TrustedIssuer {
    type Error = StorageError;

    fn try_from(row: TrustedIssuerRow) -> Result<Self, Self::Error> {
        let keys = match (row.jwks_uri, row.jwks) {
            (None, None) => IssuerKeys::Discovery,
            (Some(uri), None) => IssuerKeys::JwksUri(uri),
            (None, Some(set)) => IssuerKeys::Static(
                serde_json::from_str(&set).map_err(|e| corrupt("trusted issuer jwks", e))?,
            ),
            (Some(_), Some(_)) => return Err(corrupt("trusted issuer", "two key sources")),
        };
        Ok(TrustedIssuer {
            id: row.id,
            issuer: row.issuer,
            keys,
            audience: row.audience,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ClientWithPlanRow {
    #[sqlx(flatten)]
    pub client: ClientRow,
    pub plan: String,
}

#[derive(sqlx::FromRow)]
pub(super) struct ChangeRow {
    pub seq: i64,
    pub kind: String,
    pub subject: String,
    pub expires_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
pub(super) struct ClientSecretsRow {
    #[sqlx(flatten)]
    pub client: ClientWithPlanRow,
    /// The secret columns are NULL when the client has no live secret.
    pub hash: Option<String>,
    pub origin: Option<String>,
    pub secret_expires_at: Option<i64>,
}

fn corrupt(what: &str, err: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(format!("{what}: {err}"))
}

fn mail_address(raw: Option<String>) -> Result<Option<MailAddress>, StorageError> {
    raw.map(|raw| MailAddress::parse(&raw).map_err(|e| corrupt("notification email", e)))
        .transpose()
}

impl TryFrom<OrganisationRow> for Organisation {
    type Error = StorageError;

    fn try_from(row: OrganisationRow) -> Result<Self, Self::Error> {
        Ok(Organisation {
            id: OrgId::parse(&row.id).map_err(|e| corrupt("organisation id", e))?,
            name: Name::parse(&row.name).map_err(|e| corrupt("organisation name", e))?,
            plan: row.plan.parse().map_err(|e| corrupt("plan", e))?,
            created_at: row.created_at,
            webhook_url: row.webhook_url,
            webhook_signing_nonce: row.webhook_signing_nonce,
            notification_email: mail_address(row.notification_email)?,
        })
    }
}

impl TryFrom<ClientRow> for Client {
    type Error = StorageError;

    fn try_from(row: ClientRow) -> Result<Self, Self::Error> {
        let audiences = row
            .audiences
            .split(' ')
            .filter(|a| !a.is_empty())
            .map(Audience::parse)
            .collect::<Result<_, _>>()
            .map_err(|e| corrupt("client audiences", e))?;
        Ok(Client {
            id: ClientId::parse(&row.id).map_err(|e| corrupt("client id", e))?,
            org_id: OrgId::parse(&row.org_id).map_err(|e| corrupt("client org id", e))?,
            name: Name::parse(&row.name).map_err(|e| corrupt("client name", e))?,
            scopes: ScopeSet::parse(&row.scopes).map_err(|e| corrupt("client scopes", e))?,
            audiences,
            status: ClientStatus::parse(&row.status)
                .ok_or_else(|| corrupt("client status", &row.status))?,
            resource_server: row.resource_server,
            created_at: row.created_at,
            updated_at: row.updated_at,
            expires_at: row.expires_at,
            ip_allowlist: IpAllowlist::parse(row.ip_allowlist.split_whitespace())
                .map_err(|e| corrupt("client IP allowlist", e))?,
            rate_limit_per_minute: row
                .rate_limit_per_minute
                .map(u32::try_from)
                .transpose()
                .map_err(|e| corrupt("client rate limit", e))?,
            last_used_at: row.last_used_at,
            request_count: row.request_count,
            auth_method: row
                .token_endpoint_auth_method
                .map(|m| AuthMethod::parse(&m).ok_or_else(|| corrupt("client auth method", m)))
                .transpose()?,
            public_keys: ClientKeys::from_stored(&row.public_keys)
                .map_err(|e| corrupt("client public keys", e))?,
            jwks_uri: row.jwks_uri,
            dpop_bound_access_tokens: row.dpop_bound_access_tokens,
            federated_subjects: FederatedSubjects::from_stored(&row.federated_subjects)
                .map_err(|e| corrupt("client federated subjects", e))?,
        })
    }
}

/// Clients with their plans and live secrets, from the rows of one query
/// ordered by client: a row per live secret, in the order they are to be
/// tried, or one row with NULL secret columns for a client without any.
pub(super) fn clients_credentials(
    rows: Vec<ClientSecretsRow>,
) -> Result<Vec<ClientCredentials>, StorageError> {
    let mut clients: Vec<ClientCredentials> = Vec::new();
    for row in rows {
        let secret = match (row.hash, row.origin) {
            (Some(phc), Some(origin)) => Some(SecretHash {
                phc,
                origin: SecretOrigin::parse(&origin)
                    .ok_or_else(|| corrupt("client secret origin", origin))?,
                expires_at: row.secret_expires_at,
            }),
            _ => None,
        };
        match clients.last_mut() {
            Some(last) if last.client.id.as_str() == row.client.client.id => {
                last.secret_hashes.extend(secret);
            }
            _ => clients.push(ClientCredentials {
                plan: row.client.plan.parse().map_err(|e| corrupt("plan", e))?,
                client: row.client.client.try_into()?,
                secret_hashes: secret.into_iter().collect(),
            }),
        }
    }
    Ok(clients)
}

/// How many ids a read of `count` binds: a few sizes, the last id repeated
/// to fill, so that each connection prepares four statements rather than
/// one per size.
pub(super) fn padded_len(count: usize) -> usize {
    [1, 4, 16, 64]
        .into_iter()
        .find(|size| *size >= count)
        .unwrap_or(count)
}

/// `$first, $first+1, …`: the placeholders of `count` values from `first` on.
pub(super) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `rows` rows of `width` placeholders: `($1, $2), ($3, $4), …` on
/// PostgreSQL, `(?, ?), (?, ?), …` on SQLite, which binds a numbered
/// parameter by searching every name, so a flush's cost would grow with the
/// square of its parameters.
pub(crate) fn value_rows(backend: &str, rows: usize, width: usize) -> String {
    let row = |first: usize| match backend {
        "sqlite" => vec!["?"; width].join(", "),
        _ => placeholders(first, width),
    };
    (0..rows)
        .map(|n| format!("({})", row(n * width + 1)))
        .collect::<Vec<_>>()
        .join(", ")
}

impl ChangeRow {
    pub(super) fn into_logged(self) -> super::LoggedChange {
        super::LoggedChange {
            seq: self.seq,
            change: Change::from_parts(&self.kind, &self.subject, self.expires_at),
        }
    }
}

/// Audiences are stored space-separated: an audience holds no spaces.
pub(super) fn join_audiences(audiences: &[Audience]) -> String {
    audiences
        .iter()
        .map(Audience::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(sqlx::FromRow)]
pub(super) struct ApiKeyRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub scopes: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: Option<i64>,
    pub rate_limit_per_minute: Option<i64>,
    pub ip_allowlist: String,
    pub metadata: String,
    pub last_used_at: Option<i64>,
    pub request_count: i64,
}

#[derive(sqlx::FromRow)]
pub(super) struct ApiKeyCredentialsRow {
    #[sqlx(flatten)]
    pub key: ApiKeyRow,
    pub hash: String,
    pub plan: String,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StorageError;

    fn try_from(row: ApiKeyRow) -> Result<Self, Self::Error> {
        let metadata = match serde_json::from_str(&row.metadata) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return Err(corrupt("API key metadata", "not a JSON object")),
        };
        Ok(ApiKey {
            id: ApiKeyId::parse(&row.id).map_err(|e| corrupt("API key id", e))?,
            org_id: OrgId::parse(&row.org_id).map_err(|e| corrupt("API key org id", e))?,
            name: Name::parse(&row.name).map_err(|e| corrupt("API key name", e))?,
            scopes: ScopeSet::parse(&row.scopes).map_err(|e| corrupt("API key scopes", e))?,
            status: ApiKeyStatus::parse(&row.status)
                .ok_or_else(|| corrupt("API key status", &row.status))?,
            created_at: row.created_at,
            updated_at: row.updated_at,
            expires_at: row.expires_at,
            rate_limit_per_minute: row
                .rate_limit_per_minute
                .map(u32::try_from)
                .transpose()
                .map_err(|e| corrupt("API key rate limit", e))?,
            ip_allowlist: IpAllowlist::parse(row.ip_allowlist.split_whitespace())
                .map_err(|e| corrupt("API key IP allowlist", e))?,
            metadata,
            last_used_at: row.last_used_at,
            request_count: row.request_count,
        })
    }
}

impl TryFrom<ApiKeyCredentialsRow> for ApiKeyCredentials {
    type Error = StorageError;

    fn try_from(row: ApiKeyCredentialsRow) -> Result<Self, Self::Error> {
        Ok(ApiKeyCredentials {
            plan: row.plan.parse().map_err(|e| corrupt("plan", e))?,
            key: row.key.try_into()?,
            phc: row.hash,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct IdempotencyRow {
    pub state: String,
    pub fingerprint: String,
    pub response: Option<Vec<u8>>,
}

impl TryFrom<IdempotencyRow> for super::ClaimOutcome {
    type Error = StorageError;

    fn try_from(row: IdempotencyRow) -> Result<Self, Self::Error> {
        match (row.state.as_str(), row.response) {
            ("in_flight", _) => Ok(Self::InFlight),
            ("completed", Some(sealed_response)) => Ok(Self::Completed {
                fingerprint: row.fingerprint,
                sealed_response,
            }),
            (state, _) => Err(corrupt("idempotency entry state", state)),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditEventRow {
    pub id: String,
    pub org_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub occurred_at: i64,
    pub source_ip: Option<String>,
    pub request_id: String,
    pub changes: String,
}

impl TryFrom<AuditEventRow> for AuditEvent {
    type Error = StorageError;

    fn try_from(row: AuditEventRow) -> Result<Self, Self::Error> {
        let changes = match serde_json::from_str(&row.changes) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return Err(corrupt("audit changes", "not a JSON object")),
        };
        Ok(AuditEvent {
            id: row.id,
            org_id: row
                .org_id
                .map(|id| OrgId::parse(&id))
                .transpose()
                .map_err(|e| corrupt("audit org id", e))?,
            actor: row.actor,
            action: row.action,
            target: match (row.target_type, row.target_id) {
                (Some(kind), Some(id)) => Some(AuditTarget { kind, id }),
                _ => None,
            },
            occurred_at: row.occurred_at,
            source_ip: row.source_ip,
            request_id: row.request_id,
            changes,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ExpiringCredentialRow {
    pub kind: String,
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub expires_at: i64,
    pub org_name: String,
    pub webhook_url: Option<String>,
    pub notification_email: Option<String>,
}

impl TryFrom<ExpiringCredentialRow> for ExpiringCredential {
    type Error = StorageError;

    fn try_from(row: ExpiringCredentialRow) -> Result<Self, Self::Error> {
        Ok(ExpiringCredential {
            kind: match row.kind.as_str() {
                "api_key" => "api_key",
                _ => "client",
            },
            id: row.id,
            org_id: OrgId::parse(&row.org_id).map_err(|e| corrupt("org id", e))?,
            name: row.name,
            expires_at: row.expires_at,
            org_name: row.org_name,
            webhook_url: row.webhook_url,
            notification_email: mail_address(row.notification_email)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct WebhookDeliveryRow {
    pub id: String,
    pub org_id: String,
    pub event_type: String,
    pub url: String,
    pub payload: String,
    pub state: String,
    pub attempts: i64,
    pub created_at: i64,
    pub next_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
}

impl TryFrom<WebhookDeliveryRow> for WebhookDelivery {
    type Error = StorageError;

    fn try_from(row: WebhookDeliveryRow) -> Result<Self, Self::Error> {
        Ok(WebhookDelivery {
            id: row.id,
            org_id: OrgId::parse(&row.org_id).map_err(|e| corrupt("org id", e))?,
            event_type: row.event_type,
            url: row.url,
            payload: row.payload,
            state: DeliveryState::parse(&row.state)
                .ok_or_else(|| corrupt("delivery state", &row.state))?,
            attempts: row.attempts,
            created_at: row.created_at,
            next_attempt_at: row.next_attempt_at,
            last_attempt_at: row.last_attempt_at,
            last_status: row.last_status,
            last_error: row.last_error,
            delivered_at: row.delivered_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct EmailDeliveryRow {
    pub id: String,
    pub org_id: String,
    pub event_type: String,
    pub recipient: String,
    pub subject: String,
    pub body: Vec<u8>,
    pub state: String,
    pub attempts: i64,
    pub created_at: i64,
    pub next_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
}

impl TryFrom<EmailDeliveryRow> for EmailDelivery {
    type Error = StorageError;

    fn try_from(row: EmailDeliveryRow) -> Result<Self, Self::Error> {
        Ok(EmailDelivery {
            id: row.id,
            org_id: OrgId::parse(&row.org_id).map_err(|e| corrupt("org id", e))?,
            event_type: row.event_type,
            recipient: row.recipient,
            subject: row.subject,
            body: row.body,
            state: DeliveryState::parse(&row.state)
                .ok_or_else(|| corrupt("delivery state", &row.state))?,
            attempts: row.attempts,
            created_at: row.created_at,
            next_attempt_at: row.next_attempt_at,
            last_attempt_at: row.last_attempt_at,
            last_status: row.last_status,
            last_error: row.last_error,
            delivered_at: row.delivered_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub created_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StorageError;

    fn try_from(row: UserRow) -> Result<Self, Self::Error> {
        Ok(User {
            id: UserId::parse(&row.id).map_err(|e| corrupt("user id", e))?,
            email: Email::parse(&row.email).map_err(|e| corrupt("user email", e))?,
            display_name: Name::parse(&row.display_name).map_err(|e| corrupt("user name", e))?,
            password_hash: row.password_hash,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct MemberRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub role: String,
    pub member_since: i64,
}

impl MemberRow {
    pub fn into_member(self, org: &OrgId) -> Result<(User, Membership), StorageError> {
        let user = User::try_from(self.user)?;
        let membership = Membership {
            user_id: user.id.clone(),
            org_id: org.clone(),
            role: Role::parse(&self.role).map_err(|e| corrupt("role", e))?,
            created_at: self.member_since,
        };
        Ok((user, membership))
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct MembershipRow {
    pub user_id: String,
    pub org_id: String,
    pub role: String,
    pub created_at: i64,
}

impl TryFrom<MembershipRow> for Membership {
    type Error = StorageError;

    fn try_from(row: MembershipRow) -> Result<Self, Self::Error> {
        Ok(Membership {
            user_id: UserId::parse(&row.user_id).map_err(|e| corrupt("member id", e))?,
            org_id: OrgId::parse(&row.org_id).map_err(|e| corrupt("membership org", e))?,
            role: Role::parse(&row.role).map_err(|e| corrupt("role", e))?,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    pub id_digest: String,
    pub user_id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

impl TryFrom<SessionRow> for ConsoleSession {
    type Error = StorageError;

    fn try_from(row: SessionRow) -> Result<Self, Self::Error> {
        Ok(ConsoleSession {
            id_digest: row.id_digest,
            user_id: UserId::parse(&row.user_id).map_err(|e| corrupt("session user", e))?,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            expires_at: row.expires_at,
        })
    }
}
