//! Store traits, one per aggregate, and the SQLite and PostgreSQL backends.
//! Each atomic step is one trait method, so no transaction crosses the trait.

mod credential_queries;
mod error;
mod postgres;
mod postgres_statistics;
mod rows;
mod sole_connection;
mod sql;
mod sql_api_keys;
mod sql_audit;
mod sql_changes;
mod sql_clients;
mod sql_email;
mod sql_idempotency;
mod sql_notifications;
mod sql_one_time_values;
mod sql_people;
mod sql_request_log;
mod sql_secret_hashes;
mod sql_trusted_issuers;
mod sql_usage;
mod sqlite;
mod sqlite_one_time;
mod sqlite_one_time_file;
mod sqlite_reads;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{
    ApiKey, ApiKeyCredentials, ApiKeyId, AuditEvent, Change, Client, ClientCredentials, ClientId,
    ClientStatus, ConsoleSession, DeliveryAttempt, DeliveryState, Email, EmailDelivery,
    ExpiringCredential, Membership, OrgId, Organisation, PasswordLink, RequestEntry, RequestRecord,
    Role, SecretHash, TrustedIssuer, User, UserId, WebhookDelivery,
};
use crate::metrics::Counters;

pub use error::StorageError;

#[async_trait]
pub trait OrganisationStore {
    async fn insert_organisation(&self, org: &Organisation) -> Result<(), StorageError>;
    async fn get_organisation(&self, id: &OrgId) -> Result<Organisation, StorageError>;
    async fn list_organisations(
        &self,
        page: &PageRequest,
    ) -> Result<Vec<Organisation>, StorageError>;
    /// Writes the name, plan, webhook URL, signing nonce and notification
    /// email and logs the change, which reaches every cached credential of the organisation;
    /// `NotFound` without it.
    async fn update_organisation(&self, org: &Organisation, now: i64) -> Result<(), StorageError>;
}

#[async_trait]
pub trait ClientStore {
    /// Inserts a client together with its first secret hash.
    async fn insert_client(&self, client: &Client, secret: &SecretHash)
        -> Result<(), StorageError>;
    /// Each of `ids` that exists, with its organisation's plan and its
    /// secrets that have not expired, in one read.
    async fn clients_credentials(
        &self,
        ids: &[ClientId],
        now: i64,
    ) -> Result<Vec<ClientCredentials>, StorageError>;
    /// `clients_credentials` of one client.
    async fn client_credentials(
        &self,
        id: &ClientId,
        now: i64,
    ) -> Result<Option<ClientCredentials>, StorageError> {
        let found = self
            .clients_credentials(std::slice::from_ref(id), now)
            .await?;
        Ok(found.into_iter().next())
    }
    async fn list_clients(
        &self,
        org: Option<&OrgId>,
        page: &PageRequest,
    ) -> Result<Vec<Client>, StorageError>;
    /// `NotFound` unless the client exists in `org`.
    async fn get_client(&self, org: &OrgId, id: &ClientId) -> Result<Client, StorageError>;
    /// Writes every setting of the client and logs the change.
    async fn update_client(&self, client: &Client) -> Result<(), StorageError>;
    /// Adds `secret` and ends the client's other secrets at `old_until`
    /// (sooner if they end sooner), and logs the change.
    async fn rotate_client_secret(
        &self,
        id: &ClientId,
        secret: &SecretHash,
        old_until: i64,
        now: i64,
    ) -> Result<(), StorageError>;
    /// Sets a client's status and logs the change; `NotFound` without such a client.
    async fn set_client_status(
        &self,
        id: &ClientId,
        status: ClientStatus,
        now: i64,
    ) -> Result<(), StorageError>;
    /// Deletes a client with its secrets and logs the change.
    async fn delete_client(&self, id: &ClientId, now: i64) -> Result<(), StorageError>;
}

/// Rewrites of stored secret hashes into the current scheme, on a check
/// that succeeded; each replaces `old` only if it is still stored, so
/// replicas upgrading the same hash at once agree.
#[async_trait]
pub trait SecretHashStore {
    async fn replace_client_secret_hash(
        &self,
        client: &ClientId,
        old: &str,
        new: &str,
    ) -> Result<bool, StorageError>;
    async fn replace_api_key_hash(
        &self,
        key: &ApiKeyId,
        old: &str,
        new: &str,
    ) -> Result<bool, StorageError>;
    /// The key id of every stored digest, with how many use it.
    async fn digest_key_ids(&self) -> Result<Vec<(String, i64)>, StorageError>;
}

/// A page of a list ordered by creation: at most `limit` items after the
/// (created_at, id) of the last item of the previous page.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: i64,
    pub after: Option<(i64, String)>,
}

impl PageRequest {
    /// The (created_at, id) to list after; before everything on page one.
    pub fn after_or_start(&self) -> (i64, &str) {
        match &self.after {
            Some((created, id)) => (*created, id.as_str()),
            None => (i64::MIN, ""),
        }
    }

    /// One page holding everything, for the CLI's lists.
    pub fn everything() -> Self {
        Self {
            limit: i64::MAX,
            after: None,
        }
    }
}

/// Which API keys of an organisation to list.
#[derive(Debug, Clone)]
pub struct ApiKeyQuery {
    pub page: PageRequest,
    /// `active`, `deactivated` or `expired`, as of `now`.
    pub status: Option<&'static str>,
    /// Only keys that expire within this many seconds of `now`.
    pub expiring_within: Option<i64>,
    pub now: i64,
}

#[async_trait]
pub trait ApiKeyStore {
    /// Inserts a key unless its organisation already holds `max_keys`
    /// (`LimitReached`); `NotFound` without such an organisation.
    async fn insert_api_key(
        &self,
        key: &ApiKey,
        phc: &str,
        max_keys: Option<u32>,
    ) -> Result<(), StorageError>;
    /// Each of `ids` that exists, with its organisation's plan and its
    /// hash, for checking it, in one read.
    async fn api_keys_credentials(
        &self,
        ids: &[ApiKeyId],
    ) -> Result<Vec<ApiKeyCredentials>, StorageError>;
    /// `api_keys_credentials` of one key.
    async fn api_key_credentials(
        &self,
        id: &ApiKeyId,
    ) -> Result<Option<ApiKeyCredentials>, StorageError> {
        let found = self.api_keys_credentials(std::slice::from_ref(id)).await?;
        Ok(found.into_iter().next())
    }
    /// `NotFound` unless the key exists in `org`.
    async fn get_api_key(&self, org: &OrgId, id: &ApiKeyId) -> Result<ApiKey, StorageError>;
    async fn list_api_keys(
        &self,
        org: &OrgId,
        query: &ApiKeyQuery,
    ) -> Result<Vec<ApiKey>, StorageError>;
    /// Writes every setting of the key (not its usage) and logs the change.
    /// With `room_under`, only while the organisation's other usable
    /// (unexpired) keys are fewer than that (`LimitReached`): for a change
    /// that makes the key usable for longer.
    async fn update_api_key(
        &self,
        key: &ApiKey,
        room_under: Option<u32>,
    ) -> Result<(), StorageError>;
    async fn delete_api_key(
        &self,
        org: &OrgId,
        id: &ApiKeyId,
        now: i64,
    ) -> Result<(), StorageError>;
    /// Inserts `new` and writes `old`'s shortened expiry, in one
    /// transaction. `new` replaces `old`, so it is outside the plan's count,
    /// but usable keys (`old` among them) must be fewer than
    /// `room_under` (`LimitReached`), which bounds chains of rolls.
    async fn roll_api_key(
        &self,
        old: &ApiKey,
        new: &ApiKey,
        phc: &str,
        room_under: Option<u32>,
    ) -> Result<(), StorageError>;
}

/// Which audit events of an organisation to list, newest first.
#[derive(Debug, Clone)]
pub struct AuditQuery {
    /// `after` is the (occurred_at, id) of the last event of the previous
    /// page; the next page holds older events.
    pub page: PageRequest,
    pub action: Option<String>,
    pub target_id: Option<String>,
    /// Events at or after this time.
    pub since: Option<i64>,
    /// Events before this time.
    pub until: Option<i64>,
}

/// The audit trail: append-only, apart from the retention purge.
#[async_trait]
pub trait AuditStore {
    async fn append_audit_event(&self, event: &AuditEvent) -> Result<(), StorageError>;
    /// Appends `events` in one transaction.
    async fn append_audit_events(&self, events: &[AuditEvent]) -> Result<(), StorageError>;
    async fn list_audit_events(
        &self,
        org: &OrgId,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEvent>, StorageError>;
    /// Deletes the events that occurred before `before`; returns how many.
    async fn purge_audit_events(&self, before: i64) -> Result<u64, StorageError>;
}

/// Expiry warnings and the webhooks that carry them. All but the list run in
/// background tasks, counted apart from request SQL.
#[async_trait]
pub trait NotificationStore {
    /// Active API keys and clients that expire in `(now, until]` and have not
    /// been warned about that expiry date.
    async fn expiring_credentials(
        &self,
        now: i64,
        until: i64,
    ) -> Result<Vec<ExpiringCredential>, StorageError>;
    /// Claims the warning about `credential` at its expiry date and, with
    /// the claim, appends `event` and queues `delivery` and `emails`, in one
    /// transaction. False when a warning about that date was claimed
    /// already (by any node).
    async fn claim_expiry_warning(
        &self,
        credential: &ExpiringCredential,
        now: i64,
        event: &AuditEvent,
        delivery: Option<&WebhookDelivery>,
        emails: &[EmailDelivery],
    ) -> Result<bool, StorageError>;
    /// Pending deliveries whose next attempt is due and that no node holds.
    async fn due_webhook_deliveries(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<WebhookDelivery>, StorageError>;
    /// Holds a due delivery for this node until `until`; false when another
    /// node holds it or it is no longer pending.
    async fn lease_webhook_delivery(
        &self,
        id: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StorageError>;
    /// Records an attempt and releases the lease.
    async fn record_delivery_attempt(
        &self,
        id: &str,
        attempt: &DeliveryAttempt,
    ) -> Result<(), StorageError>;
    /// An organisation's deliveries in order of creation.
    async fn list_webhook_deliveries(
        &self,
        org: &OrgId,
        state: Option<DeliveryState>,
        page: &PageRequest,
    ) -> Result<Vec<WebhookDelivery>, StorageError>;
}

/// Queued emails and the state of their delivery, as `NotificationStore`
/// keeps webhooks'. All but the queue and the list run in background tasks.
#[async_trait]
pub trait EmailStore {
    /// Queues `emails` in one transaction.
    async fn queue_emails(&self, emails: &[EmailDelivery]) -> Result<(), StorageError>;
    /// Pending emails whose next attempt is due and that no node holds.
    async fn due_email_deliveries(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<EmailDelivery>, StorageError>;
    /// Holds a due email for this node until `until`; false when another
    /// node holds it or it is no longer pending.
    async fn lease_email_delivery(
        &self,
        id: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StorageError>;
    /// Records an attempt and releases the lease.
    async fn record_email_attempt(
        &self,
        id: &str,
        attempt: &DeliveryAttempt,
    ) -> Result<(), StorageError>;
    /// How many emails about `org` were queued at or after `since`.
    async fn count_emails_since(&self, org: &OrgId, since: i64) -> Result<i64, StorageError>;
    /// An organisation's emails in order of creation.
    async fn list_email_deliveries(
        &self,
        org: &OrgId,
        state: Option<DeliveryState>,
        page: &PageRequest,
    ) -> Result<Vec<EmailDelivery>, StorageError>;
}

/// The console's users, memberships, password links and sessions.
#[async_trait]
pub trait PeopleStore {
    /// Inserts a new user with a first membership and, when given, a
    /// password link, in one transaction. `Conflict` when the email is
    /// taken; `NotFound` without the organisation.
    async fn insert_user(
        &self,
        user: &User,
        membership: &Membership,
        link: Option<&PasswordLink>,
    ) -> Result<(), StorageError>;
    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StorageError>;
    async fn get_user(&self, id: &UserId) -> Result<User, StorageError>;
    /// Adds an existing user to an organisation, with a password link when
    /// given; `Conflict` when a member already.
    async fn insert_membership(
        &self,
        membership: &Membership,
        link: Option<&PasswordLink>,
    ) -> Result<(), StorageError>;
    /// A user's memberships, oldest first.
    async fn memberships_of(&self, user: &UserId) -> Result<Vec<Membership>, StorageError>;
    /// Gives a member of `org` another role, or (`None`) removes them; never
    /// the last owner's owner role. False when nothing changed: no such
    /// member, or the last owner.
    async fn change_membership(
        &self,
        org: &OrgId,
        user: &UserId,
        role: Option<Role>,
    ) -> Result<bool, StorageError>;
    /// An organisation's members with their memberships, oldest first.
    async fn members(&self, org: &OrgId) -> Result<Vec<(User, Membership)>, StorageError>;
    /// The user of an unused, unexpired link.
    async fn password_link_user(
        &self,
        token_digest: &str,
        now: i64,
    ) -> Result<Option<UserId>, StorageError>;
    /// Uses an unused, unexpired link: sets the user's password hash and
    /// ends their sessions, in one transaction; `NotFound` for any other link.
    async fn use_password_link(
        &self,
        token_digest: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<UserId, StorageError>;
    async fn insert_session(&self, session: &ConsoleSession) -> Result<(), StorageError>;
    async fn console_session(
        &self,
        id_digest: &str,
    ) -> Result<Option<ConsoleSession>, StorageError>;
    async fn touch_session(&self, id_digest: &str, now: i64) -> Result<(), StorageError>;
    async fn end_session(&self, id_digest: &str) -> Result<(), StorageError>;
    /// Ends every session of `user`; how many there were.
    async fn end_user_sessions(&self, user: &UserId) -> Result<u64, StorageError>;
    async fn insert_operator_session(
        &self,
        id_digest: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StorageError>;
    /// Whether the operator's session is live (before its end, and seen
    /// since `idle_before`); a live one is marked seen `now`.
    async fn touch_operator_session(
        &self,
        id_digest: &str,
        now: i64,
        idle_before: i64,
    ) -> Result<bool, StorageError>;
    async fn end_operator_session(&self, id_digest: &str) -> Result<(), StorageError>;
    /// Deletes sessions past their end or idle since before `idle_before`,
    /// and password links that expired; runs in the background.
    async fn purge_console_records(&self, now: i64, idle_before: i64) -> Result<(), StorageError>;
}

#[async_trait]
pub trait RootCredentialStore {
    /// The hash of the management API's root token, if one was stored.
    async fn root_credential(&self) -> Result<Option<String>, StorageError>;
    /// Stores the root token's hash unless one exists; whether it was stored.
    async fn insert_root_credential(&self, phc: &str, now: i64) -> Result<bool, StorageError>;
}

/// Usage of one credential in one minute (Unix minutes), as a batch
/// written behind the requests carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageCount {
    pub credential_id: String,
    pub minute: i64,
    pub count: i64,
    pub rate_limited: i64,
    /// The last use within the minute (Unix seconds).
    pub last_used_at: i64,
}

/// One bucket of a usage series, starting at `minute` (Unix minutes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageBucket {
    pub minute: i64,
    pub count: i64,
    pub rate_limited: i64,
}

#[async_trait]
pub trait UsageStore {
    /// Adds a batch of usage to the per-minute rows and to each credential's
    /// `request_count` and `last_used_at`, in one transaction. Runs in the
    /// background, counted apart from request SQL.
    async fn record_usage(&self, batch: &[UsageCount]) -> Result<(), StorageError>;
    /// Usage of a credential in `[from, to)`, summed per `bucket_minutes`.
    async fn usage_series(
        &self,
        credential_id: &str,
        from_minute: i64,
        to_minute: i64,
        bucket_minutes: i64,
    ) -> Result<Vec<UsageBucket>, StorageError>;
}

/// Which request log entries of one credential to list, newest first.
#[derive(Debug, Clone)]
pub struct RequestLogQuery {
    /// `after` is the (occurred_at, id) of the last entry of the previous
    /// page (an id of `RequestRecord::id_of`); the next page holds older
    /// entries.
    pub page: PageRequest,
    pub code: Option<String>,
    /// Entries at or after this time.
    pub since: Option<i64>,
    /// Entries before this time.
    pub until: Option<i64>,
}

/// The request log: appended in batches behind the requests, purged after
/// its retention.
#[async_trait]
pub trait RequestLogStore {
    /// Appends `entries` in one transaction; runs in the background.
    async fn append_requests(&self, entries: &[RequestEntry]) -> Result<(), StorageError>;
    /// Entries of `credential` in `org`, newest first.
    async fn list_requests(
        &self,
        org: &OrgId,
        credential: &str,
        query: &RequestLogQuery,
    ) -> Result<Vec<RequestRecord>, StorageError>;
    /// Deletes the entries that occurred before `before`; returns how many.
    async fn purge_requests(&self, before: i64) -> Result<u64, StorageError>;
}

/// One entry of the change log, in the order the database gave it.
#[derive(Debug, Clone)]
pub struct LoggedChange {
    pub seq: i64,
    /// `None` for a kind written by a newer version, which this one passes over.
    pub change: Option<Change>,
}

/// What recording a revocation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// A new entry, with its change-log entry.
    Added,
    /// The token was revoked already: nothing was added.
    AlreadyRevoked,
    /// The client holds `max_live` live entries already: nothing was added.
    /// The oldest of them lapses at `next_lapse`.
    LimitReached { next_lapse: i64 },
}

#[async_trait]
pub trait RevocationStore {
    /// Records a revoked access token, live until `expires_at`, and logs the
    /// change, unless it is recorded already or `client` has `max_live`
    /// live entries. Concurrent calls of one client may pass the count
    /// together: the bound holds up to that concurrency.
    async fn revoke_token(
        &self,
        jti: &str,
        client: &ClientId,
        expires_at: i64,
        now: i64,
        max_live: u32,
    ) -> Result<Revoked, StorageError>;
    /// Every revoked token that has not expired yet, with its expiry.
    async fn live_revocations(&self, now: i64) -> Result<Vec<(String, i64)>, StorageError>;
}

/// The change log that nodes poll. These queries run in the background, never
/// on a request, and are counted apart from request SQL.
#[async_trait]
pub trait ChangeLogStore {
    async fn changes_since(&self, seq: i64, limit: i64) -> Result<Vec<LoggedChange>, StorageError>;
    /// The newest entry logged before `occurred_before` (Unix seconds), 0
    /// when there is none.
    async fn last_change_before(&self, occurred_before: i64) -> Result<i64, StorageError>;
    /// Forgets revocations of expired tokens, expired one-time values and
    /// log entries older than `log_before`.
    async fn purge(&self, now: i64, log_before: i64) -> Result<(), StorageError>;
}

/// Where an Idempotency-Key entry lives: keyed hashes of the caller and of
/// the key, never either in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencySlot {
    pub caller_hash: String,
    pub key_hash: String,
}

/// A request's claim on a slot while it runs.
#[derive(Debug, Clone)]
pub struct IdempotencyClaim {
    pub slot: IdempotencySlot,
    /// Tells this claim apart from a later one on the same slot.
    pub claim_id: String,
    /// Keyed hash of the request's method, path and body.
    pub fingerprint: String,
    pub now: i64,
    /// When an unfinished claim lapses, such as one of a crashed node.
    pub lease_until: i64,
}

/// What claiming a slot found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The slot is ours: run the request.
    Claimed,
    /// Another request holds the slot and has not finished.
    InFlight,
    /// A request finished on the slot; its response is sealed.
    Completed {
        fingerprint: String,
        sealed_response: Vec<u8>,
    },
}

#[async_trait]
pub trait IdempotencyStore {
    /// Inserts the claim, or takes over an entry that has expired; else
    /// reports the live entry. One statement, so of concurrent claims on a
    /// slot exactly one wins.
    async fn claim_idempotency_key(
        &self,
        claim: &IdempotencyClaim,
    ) -> Result<ClaimOutcome, StorageError>;
    /// Stores the sealed response under our claim, kept until `expires_at`;
    /// `NotFound` when the claim was lost.
    async fn complete_idempotency_key(
        &self,
        slot: &IdempotencySlot,
        claim_id: &str,
        sealed_response: &[u8],
        expires_at: i64,
    ) -> Result<(), StorageError>;
    /// Deletes our unfinished claim, so that the request can be retried.
    async fn release_idempotency_key(
        &self,
        slot: &IdempotencySlot,
        claim_id: &str,
    ) -> Result<(), StorageError>;
    /// Deletes every entry that expired by `now`; returns how many.
    async fn purge_idempotency_keys(&self, now: i64) -> Result<u64, StorageError>;
}

/// One-time values (assertion `jti`s) that may be used once across every
/// replica, each remembered until it expires.
#[async_trait]
pub trait OneTimeValueStore {
    /// Records each `(digest, expires_at)`; returns, for each, whether it
    /// was not recorded before. Values in one call are distinct and
    /// unexpired.
    async fn use_once(&self, values: &[(String, i64)]) -> Result<Vec<bool>, StorageError>;
}

/// The issuers whose tokens the operator trusts (workload identity
/// federation). An issuer URL is registered once.
#[async_trait]
pub trait TrustedIssuerStore {
    /// Fails with `Conflict` when the issuer is already registered.
    async fn insert_trusted_issuer(&self, issuer: &TrustedIssuer) -> Result<(), StorageError>;
    async fn trusted_issuers(&self) -> Result<Vec<TrustedIssuer>, StorageError>;
    /// Whether there was one to delete.
    async fn delete_trusted_issuer(&self, id: &str) -> Result<bool, StorageError>;
}

#[async_trait]
pub trait Store:
    OrganisationStore
    + ClientStore
    + SecretHashStore
    + ApiKeyStore
    + RevocationStore
    + ChangeLogStore
    + RootCredentialStore
    + IdempotencyStore
    + UsageStore
    + AuditStore
    + RequestLogStore
    + NotificationStore
    + EmailStore
    + PeopleStore
    + OneTimeValueStore
    + TrustedIssuerStore
    + Send
    + Sync
{
    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StorageError>;
    /// Applies the embedded migrations of this backend.
    async fn migrate(&self) -> Result<(), StorageError>;
    /// Gets ready for the first requests, before the server takes any.
    async fn warm_up(&self) -> Result<(), StorageError>;
    fn backend(&self) -> &'static str;
    /// The connection pool's size and idle connections, for /metrics.
    fn pool_usage(&self) -> PoolUsage;
    /// Credential reads that this backend answers on the calling thread.
    fn instant_reads(&self) -> Option<Arc<dyn InstantCredentialReads>>;
    /// One-time values that this backend records on the calling thread.
    fn instant_one_time(&self) -> Option<Arc<dyn InstantOneTimeValues>>;
}

/// A credential's record read on the calling thread, with no hand-off
/// (see sqlite_reads.rs). An error means only that this way could not
/// answer now; the async store then gives the answer.
pub trait InstantCredentialReads: Send + Sync {
    /// `ClientStore::client_credentials`.
    fn client_credentials(
        &self,
        id: &ClientId,
        now: i64,
    ) -> Result<Option<ClientCredentials>, StorageError>;
    /// `ApiKeyStore::api_key_credentials`.
    fn api_key_credentials(&self, id: &ApiKeyId)
        -> Result<Option<ApiKeyCredentials>, StorageError>;
}

/// `OneTimeValueStore::use_once` on the calling thread, in one commit (see
/// sqlite_one_time.rs): for each value, whether it was not recorded before;
/// `None` when this way cannot answer now and the async store is to.
pub trait InstantOneTimeValues: Send + Sync {
    fn use_once(&self, values: &[(String, i64)]) -> Option<Vec<bool>>;
    /// Whether `use_once` would now wait for maintenance of the database:
    /// better to wait without holding the thread.
    fn checkpointing(&self) -> bool;
}

/// Connections the pool holds, and how many of them are idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// Opens the backend that the URL scheme names: `sqlite:` or `postgres:`.
pub async fn connect(url: &str, counters: Arc<Counters>) -> Result<Arc<dyn Store>, StorageError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url, counters).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(
            postgres::PostgresStore::connect(url, counters).await?,
        ))
    } else {
        Err(StorageError::UnsupportedUrl)
    }
}
