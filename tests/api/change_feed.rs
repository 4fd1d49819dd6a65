//! The change feed keeps cached records current: while it works, a warm
//! client stays warm past the status TTL, and every change still reaches the
//! node, even one whose transaction commits after a later change.

use std::time::{Duration, Instant};

use keyward::metrics::Counters;
use keyward::time::ManualClock;

use crate::on_both_backends;
use crate::support::helpers::{spawn_app, spawn_app_on, Backend, TestApp, TestClient};

const GRANT: [(&str, &str); 1] = [("grant_type", "client_credentials")];

async fn token_status(app: &TestApp, client: &TestClient) -> u16 {
    app.post_token(client, &GRANT).await.status().as_u16()
}

/// Waits until `client` gets `status` from `app`; returns how long it took.
async fn until_status(app: &TestApp, client: &TestClient, status: u16) -> Duration {
    let start = Instant::now();
    loop {
        if token_status(app, client).await == status {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "no {status} after 8 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_warm_client_stays_warm_past_the_status_ttl_while_the_feed_works(backend: Backend) {
    let clock = ManualClock::starting_now();
    let app = spawn_app_on(backend, |_| {}, clock.clone()).await;
    let client = app.create_client(&["payouts:read"], &[]).await;
    assert_eq!(token_status(&app, &client).await, 200);

    let ttl = Duration::from_secs(app.settings.status_cache_ttl_seconds);
    clock.advance(ttl * 10);
    // Two polls of the change log at the new time.
    tokio::time::sleep(Duration::from_millis(
        3 * app.settings.change_poll_interval_ms,
    ))
    .await;
    let sql = Counters::read(&app.counters.sql_queries);
    assert_eq!(token_status(&app, &client).await, 200);
    assert_eq!(
        Counters::read(&app.counters.sql_queries),
        sql,
        "the record the feed kept current is not read again"
    );

    // Changed by another writer (a replica, the CLI): it still counts at once.
    app.deactivate_in_store(&client).await;
    let took = until_status(&app, &client, 401).await;
    assert!(took < Duration::from_secs(1), "deactivation took {took:?}");
}

on_both_backends!(a_warm_client_stays_warm_past_the_status_ttl_while_the_feed_works);

/// On PostgreSQL a transaction can commit after a later-numbered one (SQLite
/// has one writer at a time): the earlier entry must not be skipped.
#[tokio::test]
async fn a_change_that_commits_after_a_later_one_reaches_the_node_on_postgres() {
    let app = spawn_app(Backend::Postgres).await;
    let slow = app.create_client(&["payouts:read"], &[]).await;
    let quick = app.create_client(&["payouts:read"], &[]).await;
    for client in [&slow, &quick] {
        assert_eq!(token_status(&app, client).await, 200);
    }

    // `slow` is deactivated in a transaction that logs its change first...
    let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
    let mut open = pool.begin().await.unwrap();
    let now = chrono::Utc::now().timestamp();
    sqlx::query("UPDATE oauth_clients SET status = 'deactivated', updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&slow.id)
        .execute(&mut *open)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO change_log (kind, subject, expires_at, occurred_at) VALUES ('client', $1, NULL, $2)",
    )
    .bind(&slow.id)
    .bind(now)
    .execute(&mut *open)
    .await
    .unwrap();
    // ...while `quick`'s deactivation, logged after it, commits and is read.
    app.deactivate_in_store(&quick).await;
    until_status(&app, &quick, 401).await;
    assert_eq!(token_status(&app, &slow).await, 200, "not committed yet");

    open.commit().await.unwrap();
    let took = until_status(&app, &slow, 401).await;
    assert!(took < Duration::from_secs(1), "deactivation took {took:?}");
    pool.close().await;
}
