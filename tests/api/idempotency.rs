//! The Idempotency-Key middleware on both backends, around test handlers
//! (support/idempotency_harness.rs) whose outcome each test chooses, in a
//! small actix app on a random port with its own database. Its use on the
//! management routes is in admin_idempotency.rs.

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::Method;
use keyward::crypto::ServerSecret;
use keyward::storage::{ClaimOutcome, IdempotencyClaim, IdempotencySlot};
use serde_json::json;
use uuid::Uuid;

use crate::on_both_backends;
use crate::support::helpers::{spawn_app, spawn_app_with, Backend};
use crate::support::idempotency_harness::{serve, Reply};

fn new_key() -> String {
    Uuid::new_v4().to_string()
}

async fn a_completed_request_is_replayed(backend: Backend) {
    let app = serve(backend).await;
    let key = new_key();
    let body = json!({"name": "ci"});
    let first = app.post("/things", Some(&key), &body).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(!first.replayed());

    let again = app.post("/things", Some(&key), &body).await;
    assert_eq!(again.status, 201);
    assert!(again.replayed());
    assert_eq!(again.body, first.body, "the same one-time secret");
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(again.header("content-type"), Some("application/json"));
    assert_eq!(
        again.header("x-handler-run"),
        None,
        "only chosen headers are kept"
    );
    // The key's case does not make it another key.
    let upper = app.post("/things", Some(&key.to_uppercase()), &body).await;
    assert!(upper.replayed());
    assert_eq!(upper.body, first.body);
    assert_eq!(app.runs.create.load(Ordering::SeqCst), 1);

    // DELETE too, with an empty 204.
    let key = new_key();
    for _ in 0..2 {
        let response = app
            .request(Method::DELETE, "/things/1", Some(&key))
            .send()
            .await;
        assert_eq!(response.unwrap().status(), 204);
    }
    assert_eq!(app.runs.delete.load(Ordering::SeqCst), 1);
}

async fn concurrent_duplicates_run_once(backend: Backend) {
    let app = serve(backend).await;
    let key = new_key();
    let body = json!({"name": "ci"});
    let attempts = (0..10).map(|_| app.post("/slow", Some(&key), &body));
    let replies = futures_util::future::join_all(attempts).await;

    assert_eq!(app.runs.slow.load(Ordering::SeqCst), 1);
    let originals: Vec<_> = replies
        .iter()
        .filter(|r| r.status == 201 && !r.replayed())
        .collect();
    assert_eq!(originals.len(), 1, "{replies:?}");
    for reply in &replies {
        match reply.status {
            201 => assert_eq!(reply.body, originals[0].body),
            _ => {
                reply.assert_problem(409, "IDEMPOTENCY_KEY_IN_USE");
                assert_eq!(reply.header("retry-after"), Some("1"));
            }
        }
    }
    let later = app.post("/slow", Some(&key), &body).await;
    assert!(later.replayed());
    assert_eq!(later.body, originals[0].body);
}

async fn a_key_in_flight_is_409(backend: Backend) {
    let app = Arc::new(serve(backend).await);
    let key = new_key();
    // The first request holds its key until the gate opens.
    let gate = app.runs.slow_gate.write().await;
    let first = {
        let (app, key) = (app.clone(), key.clone());
        tokio::spawn(async move { app.post("/slow", Some(&key), &json!({})).await })
    };
    let start = std::time::Instant::now();
    while app.runs.slow.load(Ordering::SeqCst) == 0 {
        assert!(start.elapsed() < Duration::from_secs(5), "/slow never ran");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let busy = app.post("/slow", Some(&key), &json!({})).await;
    busy.assert_problem(409, "IDEMPOTENCY_KEY_IN_USE");
    assert_eq!(busy.header("retry-after"), Some("1"));
    drop(gate);

    let first = first.await.unwrap();
    assert_eq!(first.status, 201);
    let replay = app.post("/slow", Some(&key), &json!({})).await;
    assert!(replay.replayed());
    assert_eq!(replay.body, first.body);
    assert_eq!(app.runs.slow.load(Ordering::SeqCst), 1);
}

async fn another_request_with_the_same_key_is_422(backend: Backend) {
    let app = serve(backend).await;
    let key = new_key();
    let first = app.post("/things", Some(&key), &json!({"name": "a"})).await;
    assert_eq!(first.status, 201);

    let other_body = app.post("/things", Some(&key), &json!({"name": "b"})).await;
    other_body.assert_problem(422, "IDEMPOTENCY_KEY_REUSED");
    let other_query = app
        .post("/things?dry_run=1", Some(&key), &json!({"name": "a"}))
        .await;
    other_query.assert_problem(422, "IDEMPOTENCY_KEY_REUSED");
    let other_path = app.post("/slow", Some(&key), &json!({"name": "a"})).await;
    other_path.assert_problem(422, "IDEMPOTENCY_KEY_REUSED");
    let other_method = app
        .request(Method::PATCH, "/things", Some(&key))
        .json(&json!({"name": "a"}))
        .send()
        .await
        .unwrap();
    Reply::of(other_method)
        .await
        .assert_problem(422, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(app.runs.create.load(Ordering::SeqCst), 1);
    assert_eq!(app.runs.slow.load(Ordering::SeqCst), 0);
}

async fn a_key_that_is_not_a_uuid_v4_is_400(backend: Backend) {
    let app = serve(backend).await;
    let v4 = new_key();
    for key in [
        "not-a-uuid",
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
        &v4.replace('-', ""),
        "",
    ] {
        let reply = app.post("/things", Some(key), &json!({})).await;
        reply.assert_problem(400, "INVALID_IDEMPOTENCY_KEY");
    }
    let twice = app
        .request(Method::POST, "/things", Some(&v4))
        .header("idempotency-key", new_key())
        .send()
        .await
        .unwrap();
    Reply::of(twice)
        .await
        .assert_problem(400, "INVALID_IDEMPOTENCY_KEY");
    assert_eq!(app.runs.create.load(Ordering::SeqCst), 0);
}

async fn safe_methods_ignore_the_header(backend: Backend) {
    let app = serve(backend).await;
    let key = new_key();
    for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
        for key in ["not-a-uuid", key.as_str(), key.as_str()] {
            let response = app
                .request(method.clone(), "/things", Some(key))
                .send()
                .await;
            let response = response.unwrap();
            assert_eq!(response.status(), 200, "{method}");
            assert!(!response.headers().contains_key("x-idempotent-replayed"));
        }
    }
    assert_eq!(app.runs.read.load(Ordering::SeqCst), 9);
    assert!(app.raw_rows().await.is_empty());
}

async fn without_the_header_every_request_runs(backend: Backend) {
    let app = serve(backend).await;
    let first = app.post("/things", None, &json!({"name": "a"})).await;
    let second = app.post("/things", None, &json!({"name": "a"})).await;
    assert_eq!((first.status, second.status), (201, 201));
    assert!(!second.replayed());
    assert_ne!(first.json()["secret"], second.json()["secret"]);
    assert_eq!(app.runs.create.load(Ordering::SeqCst), 2);
    assert!(app.raw_rows().await.is_empty());
}

async fn callers_do_not_share_keys(backend: Backend) {
    let app = serve(backend).await;
    let key = new_key();
    let as_caller = |token: &str, org: Option<&str>| {
        let mut request = app
            .request_as(token, Method::POST, "/things", Some(&key))
            .json(&json!({}));
        if let Some(org) = org {
            request = request.header("x-test-org", org);
        }
        async move { Reply::of(request.send().await.unwrap()).await }
    };
    let alice = as_caller("alice", None).await;
    let bob = as_caller("bob", None).await;
    assert!(!alice.replayed() && !bob.replayed());
    assert_ne!(alice.json()["secret"], bob.json()["secret"]);
    let alice_again = as_caller("alice", None).await;
    assert_eq!(alice_again.body, alice.body);
    assert_eq!(app.runs.create.load(Ordering::SeqCst), 2);

    // Authentication's `IdempotencyCaller` wins over the credential.
    let org_by_alice = as_caller("alice", Some("org_1")).await;
    assert!(!org_by_alice.replayed());
    let org_by_bob = as_caller("bob", Some("org_1")).await;
    assert!(org_by_bob.replayed());
    assert_eq!(org_by_bob.body, org_by_alice.body);
    assert_eq!(app.runs.create.load(Ordering::SeqCst), 3);
}

async fn a_server_error_frees_the_key(backend: Backend) {
    let app = serve(backend).await;
    let key = new_key();
    let failed = app.post("/flaky", Some(&key), &json!({})).await;
    assert_eq!(failed.status, 500);
    let retried = app.post("/flaky", Some(&key), &json!({})).await;
    assert_eq!(retried.status, 201);
    assert!(!retried.replayed());
    let replayed = app.post("/flaky", Some(&key), &json!({})).await;
    assert!(replayed.replayed());
    assert_eq!(replayed.body, retried.body);
    assert_eq!(app.runs.flaky.load(Ordering::SeqCst), 2);
}

async fn an_oversized_body_is_413(backend: Backend) {
    let app = serve(backend).await;
    let big = json!({"name": "x".repeat(17 * 1024)});
    app.post("/things", Some(&new_key()), &big)
        .await
        .assert_problem(413, "PAYLOAD_TOO_LARGE");
    assert_eq!(app.runs.create.load(Ordering::SeqCst), 0);
}

async fn a_retry_on_another_replica_is_replayed(backend: Backend) {
    let first = serve(backend).await;
    let second = first.replica().await;
    let key = new_key();
    let original = first
        .post("/things", Some(&key), &json!({"name": "ci"}))
        .await;
    assert_eq!(original.status, 201);
    let retry = second
        .post("/things", Some(&key), &json!({"name": "ci"}))
        .await;
    assert!(retry.replayed());
    assert_eq!(retry.body, original.body);
    assert_eq!(second.runs.create.load(Ordering::SeqCst), 0);
}

async fn the_database_holds_no_key_or_secret_in_clear(backend: Backend) {
    let app = serve(backend).await;
    let key = new_key();
    let reply = app
        .post("/things", Some(&key), &json!({"name": "ci"}))
        .await;
    let secret = reply.json()["secret"].as_str().unwrap().to_owned();

    let rows = app.raw_rows().await;
    assert_eq!(rows.len(), 1);
    let (state, caller_hash, key_hash, fingerprint, response) = rows.into_iter().next().unwrap();
    assert_eq!(state, "completed");
    let mut stored = [caller_hash, key_hash, fingerprint].join(" ").into_bytes();
    stored.extend(response.expect("a completed entry holds its response"));
    let simple_key = key.replace('-', "");
    for needle in [&key, &simple_key, &secret, "alice-token", "\"secret\""] {
        let needle = needle.as_bytes();
        assert!(
            !stored.windows(needle.len()).any(|w| w == needle),
            "{} is stored in clear",
            String::from_utf8_lossy(needle)
        );
    }
}

async fn expired_entries_are_taken_over_and_purged(backend: Backend) {
    let app = serve(backend).await;
    let store = &app.store;
    let slot = IdempotencySlot {
        caller_hash: "c".repeat(64),
        key_hash: "k".repeat(64),
    };
    let claim = |claim_id: &str, now: i64| IdempotencyClaim {
        slot: slot.clone(),
        claim_id: claim_id.into(),
        fingerprint: "f".repeat(64),
        now,
        lease_until: now + 60,
    };
    let claimed = store.claim_idempotency_key(&claim("a", 1_000)).await;
    assert_eq!(claimed.unwrap(), ClaimOutcome::Claimed);
    let busy = store.claim_idempotency_key(&claim("b", 1_059)).await;
    assert_eq!(busy.unwrap(), ClaimOutcome::InFlight);
    // The lease of a claim that never finished lapses; the old claim is void.
    let taken = store.claim_idempotency_key(&claim("c", 1_060)).await;
    assert_eq!(taken.unwrap(), ClaimOutcome::Claimed);
    assert!(store
        .complete_idempotency_key(&slot, "a", b"sealed", 4_600)
        .await
        .is_err());
    store
        .complete_idempotency_key(&slot, "c", b"sealed", 4_660)
        .await
        .unwrap();
    let done = store
        .claim_idempotency_key(&claim("d", 4_659))
        .await
        .unwrap();
    assert!(
        matches!(done, ClaimOutcome::Completed { sealed_response, .. } if sealed_response == b"sealed")
    );

    assert_eq!(store.purge_idempotency_keys(4_659).await.unwrap(), 0);
    assert_eq!(store.purge_idempotency_keys(4_660).await.unwrap(), 1);
    assert!(app.raw_rows().await.is_empty());
}

on_both_backends!(
    a_completed_request_is_replayed,
    concurrent_duplicates_run_once,
    a_key_in_flight_is_409,
    another_request_with_the_same_key_is_422,
    a_key_that_is_not_a_uuid_v4_is_400,
    safe_methods_ignore_the_header,
    without_the_header_every_request_runs,
    callers_do_not_share_keys,
    a_server_error_frees_the_key,
    an_oversized_body_is_413,
    a_retry_on_another_replica_is_replayed,
    the_database_holds_no_key_or_secret_in_clear,
    expired_entries_are_taken_over_and_purged,
);

/// The server keeps a generated secret in keys/ at mode 0600, and writes
/// none when one is configured.
#[tokio::test]
async fn startup_keeps_a_generated_server_secret_in_the_keys_dir() {
    let app = spawn_app(Backend::Sqlite).await;
    let path = app.keys_dir().join("server-secret");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let configured = spawn_app_with(Backend::Sqlite, |settings| {
        settings.server_secret = Some(ServerSecret::try_from("s".repeat(40)).unwrap());
    })
    .await;
    assert!(configured.keys_dir().exists());
    assert!(!configured.keys_dir().join("server-secret").exists());
}

#[test]
fn the_server_secret_setting_is_checked_and_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let db = (
        "KEYWARD_DATABASE_URL",
        format!("sqlite://{}/k.db", dir.path().display()),
    );
    let short = ("KEYWARD_SERVER_SECRET", "hunter2-is-short".to_owned());
    let output = crate::support::cli_process::run(dir.path(), &[db.clone(), short], &["migrate"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("server_secret"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");

    let file = dir.path().join("secret");
    std::fs::write(&file, format!("{}\n", "s".repeat(40))).unwrap();
    let from_file = ("KEYWARD_SERVER_SECRET_FILE", file.display().to_string());
    let output = crate::support::cli_process::run(dir.path(), &[db, from_file], &["migrate"]);
    assert!(output.status.success(), "{output:?}");
}
