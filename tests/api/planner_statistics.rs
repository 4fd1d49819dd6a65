//! PostgreSQL's planner gets statistics for the credential tables at a
//! start when they changed much since the last ANALYZE (autovacuum is off
//! on this machine, as it may be elsewhere): without them, batched reads of
//! credentials scan whole tables. SQLite's planner needs none.

use std::time::{Duration, Instant};

use crate::support::helpers::{spawn_app, Backend, TestApp, API};

/// When the table was last analysed by hand (autovacuum's runs are apart),
/// and how many of its rows changed since.
async fn statistics(app: &TestApp, table: &str) -> (Option<String>, i64) {
    let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
    sqlx::query_as(
        "SELECT last_analyze::text, n_mod_since_analyze FROM pg_stat_user_tables \
         WHERE relname = $1",
    )
    .bind(table)
    .fetch_one(&pool)
    .await
    .unwrap()
}

/// Waits until PostgreSQL's statistics show `rows` changes to `table`
/// (backends report theirs when idle, within about ten seconds).
async fn until_changed(app: &TestApp, table: &str, rows: i64) {
    let start = Instant::now();
    loop {
        let (analysed, changed) = statistics(app, table).await;
        assert_eq!(
            analysed, None,
            "{table}: analysed before the test's own start"
        );
        if changed >= rows {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{table}: {changed} rows changed"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_start_analyses_credential_tables_filled_since_their_last_analyze() {
    let app = spawn_app(Backend::Postgres).await;
    let mut clients = Vec::new();
    for _ in 0..60 {
        clients.push(app.create_client(&["payouts:read"], &[API]).await);
    }
    for table in ["oauth_clients", "client_secrets"] {
        until_changed(&app, table, 60).await;
    }

    let replica = app.replica().await;
    let mut analysed = Vec::new();
    for table in ["oauth_clients", "client_secrets"] {
        let (at, changed) = statistics(&app, table).await;
        assert!(at.is_some(), "{table} not analysed at the start");
        assert_eq!(changed, 0, "{table}");
        analysed.push(at);
    }
    for client in &clients[..3] {
        replica.token(client, &[("resource", API)]).await;
    }

    // Few changes since: the next start leaves the statistics as they are.
    app.create_client(&["payouts:read"], &[API]).await;
    let _third = app.replica().await;
    assert_eq!(statistics(&app, "oauth_clients").await.0, analysed[0]);
}
