//! Deactivation, reactivation, deletion and revocation reach every node on
//! the same database within a second, wherever the change was made.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::on_both_backends;
use crate::support::cli_process::keyward;
use crate::support::helpers::{spawn_app, status_and_json, Backend, TestApp, TestClient, API};

/// Waits until `node` reports `active` for `token`; returns how long it took.
async fn until_active(node: &TestApp, rs: &TestClient, token: &str, active: bool) -> Duration {
    let start = Instant::now();
    loop {
        let (_, body) = node.introspect(rs, token, &[]).await;
        if body["active"] == active {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "still {body} after 3 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn cli_ok(app: &TestApp, args: &[&str]) {
    let output = keyward(app, args);
    assert!(output.status.success(), "{output:?}");
}

async fn client_changes_reach_every_replica_within_a_second(backend: Backend) {
    let a = spawn_app(backend).await;
    let b = a.replica().await;
    let rs = a.create_resource_server(&[API]).await;
    let client = a.create_client(&["payouts:read"], &[API]).await;
    let token = a.token(&client, &[("resource", API)]).await;
    for node in [&a, &b] {
        assert_eq!(node.introspect(&rs, &token, &[]).await.1["active"], true);
    }

    cli_ok(&a, &["client", "deactivate", &client.id]);
    for node in [&a, &b] {
        let took = until_active(node, &rs, &token, false).await;
        assert!(took < Duration::from_secs(1), "deactivation took {took:?}");
    }
    let (status, body) = status_and_json(
        a.post_token(&client, &[("grant_type", "client_credentials")])
            .await,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert_eq!(body["error_description"], "the client is deactivated");

    cli_ok(&a, &["client", "activate", &client.id]);
    for node in [&a, &b] {
        let took = until_active(node, &rs, &token, true).await;
        assert!(took < Duration::from_secs(1), "reactivation took {took:?}");
    }
    assert_eq!(
        b.post_token(&client, &[("grant_type", "client_credentials")])
            .await
            .status(),
        200
    );

    // Revoked through one node, inactive on the other.
    let second = a.token(&client, &[("resource", API)]).await;
    assert_eq!(b.introspect(&rs, &second, &[]).await.1["active"], true);
    assert_eq!(a.revoke(&client, &second).await, 200);
    assert_eq!(
        a.introspect(&rs, &second, &[]).await.1,
        json!({"active": false}),
        "at once on this node"
    );
    let took = until_active(&b, &rs, &second, false).await;
    assert!(took < Duration::from_secs(1), "revocation took {took:?}");
    assert_eq!(
        b.introspect(&rs, &token, &[]).await.1["active"],
        true,
        "other tokens stay active"
    );

    cli_ok(&a, &["client", "delete", &client.id]);
    for node in [&a, &b] {
        let took = until_active(node, &rs, &token, false).await;
        assert!(took < Duration::from_secs(1), "deletion took {took:?}");
    }
    let (status, _) = status_and_json(
        b.post_token(&client, &[("grant_type", "client_credentials")])
            .await,
    )
    .await;
    assert_eq!(status, 401);
    let missing = keyward(&a, &["client", "delete", &client.id]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist"));
}

on_both_backends!(client_changes_reach_every_replica_within_a_second);
