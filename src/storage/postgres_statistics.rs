//! Planner statistics for the credential reads' tables. Without current
//! ones (a database filled since its last ANALYZE, where autovacuum is off
//! or has not come round yet), PostgreSQL guesses that a batch of client
//! ids matches thousands of secrets and reads whole tables instead of their
//! indexes: with 10,000 clients, a server's first token requests after a
//! start read 1.4 million rows. So at start, a table changed by more than
//! autovacuum's own analyse threshold since its last ANALYZE is analysed.

use sqlx::postgres::PgPool;

/// The tables a credential's first request reads.
const CREDENTIAL_TABLES: [&str; 4] = [
    "organisations",
    "oauth_clients",
    "client_secrets",
    "api_keys",
];

pub(super) async fn analyze_stale(pool: &PgPool) -> Result<(), sqlx::Error> {
    // autovacuum_analyze_threshold and _scale_factor at their defaults.
    let stale: Vec<String> = sqlx::query_scalar(
        "SELECT s.relname::text FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
         WHERE s.relname = ANY($1) AND s.schemaname = current_schema() \
         AND s.n_mod_since_analyze > 50 + 0.1 * GREATEST(c.reltuples, 0)",
    )
    .bind(CREDENTIAL_TABLES.as_slice())
    .fetch_all(pool)
    .await?;
    for table in CREDENTIAL_TABLES
        .iter()
        .filter(|t| stale.iter().any(|s| s == *t))
    {
        tracing::info!(
            table,
            "analysing a table whose planner statistics are out of date"
        );
        sqlx::query(&format!("ANALYZE {table}"))
            .execute(pool)
            .await?;
    }
    Ok(())
}
