//! The texts of the credential reads, shared by the async store and the
//! SQLite instant reads: `count` ids from `$2` on (clients, after `now` in
//! `$1`) or from `$1` on (API keys). The columns come in the order of the
//! row structs' fields, which sqlite_reads.rs reads by position.

use super::rows::placeholders;
use super::sql_api_keys::api_key_columns;
use super::sql_clients::client_columns;

/// Clients with their plan and live secrets: a row per live secret, newest
/// first. The ids are repeated on the secrets so that the index on
/// client_id is used even before the planner has statistics.
pub(super) fn clients(count: usize) -> String {
    format!(
        "SELECT {}, o.plan, s.hash, s.origin, s.expires_at AS secret_expires_at \
         FROM oauth_clients c JOIN organisations o ON o.id = c.org_id \
         LEFT JOIN client_secrets s ON s.client_id = c.id \
         AND s.client_id IN ({ids}) AND (s.expires_at IS NULL OR s.expires_at > $1) \
         WHERE c.id IN ({ids}) ORDER BY c.id, s.created_at DESC",
        client_columns!(),
        ids = placeholders(2, count)
    )
}

/// API keys with their hash and their organisation's plan.
pub(super) fn api_keys(count: usize) -> String {
    format!(
        "SELECT {}, k.hash, o.plan FROM api_keys k \
         JOIN organisations o ON o.id = k.org_id WHERE k.id IN ({})",
        api_key_columns!(),
        placeholders(1, count)
    )
}
