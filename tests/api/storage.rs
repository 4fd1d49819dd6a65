//! The store conformance suite: every store behaviour on both backends.

use std::sync::Arc;

use keyward::crypto::password::hash_secret;
use keyward::domain::{
    ApiKey, ApiKeySecret, ApiKeyStatus, AuditEvent, AuditTarget, Client, ClientCredentials,
    ClientId, ClientStatus, IpAllowlist, Name, OrgId, Organisation, Plan, ScopeSet, SecretHash,
    SecretOrigin,
};
use keyward::metrics::Counters;
use keyward::storage::{self, AuditQuery, PageRequest, StorageError, Store, UsageCount};

use crate::on_both_backends;
use crate::support::helpers::{Backend, TestDatabase};

async fn open(backend: Backend) -> (Arc<dyn Store>, TestDatabase, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(backend, dir.path()).await;
    let store = storage::connect(&db.url, Arc::new(Counters::default()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (store, db, dir)
}

fn org(plan: Plan) -> Organisation {
    Organisation {
        id: OrgId::generate(),
        name: Name::parse("Acme Ltd").unwrap(),
        plan,
        created_at: 1_700_000_000,
        webhook_url: None,
        webhook_signing_nonce: None,
        notification_email: None,
    }
}

fn client(org: &OrgId, expires_at: Option<i64>) -> Client {
    Client {
        id: ClientId::generate(),
        org_id: org.clone(),
        name: Name::parse("ci").unwrap(),
        scopes: ScopeSet::parse("payouts:write admin").unwrap(),
        audiences: vec![keyward::domain::Audience::parse("https://api.example.test").unwrap()],
        status: ClientStatus::Active,
        resource_server: false,
        created_at: 1_700_000_100,
        updated_at: 1_700_000_100,
        expires_at,
        ip_allowlist: IpAllowlist::default(),
        rate_limit_per_minute: None,
        last_used_at: None,
        request_count: 0,
        auth_method: None,
        public_keys: Default::default(),
        jwks_uri: None,
        dpop_bound_access_tokens: false,
        federated_subjects: Default::default(),
    }
}

fn hash(expires_at: Option<i64>) -> SecretHash {
    SecretHash {
        phc: hash_secret("imported-secret-0123456789abc"),
        origin: SecretOrigin::Imported,
        expires_at,
    }
}

fn digest(key_id: &str, tag: &str) -> SecretHash {
    SecretHash {
        phc: format!("$hmac-sha256$k={key_id}${tag}"),
        origin: SecretOrigin::Generated,
        expires_at: None,
    }
}

async fn organisations_round_trip(backend: Backend) {
    let (store, _db, _dir) = open(backend).await;
    let acme = org(Plan::Enterprise);
    store.insert_organisation(&acme).await.unwrap();
    let read = store.get_organisation(&acme.id).await.unwrap();
    assert_eq!(read.name.as_str(), "Acme Ltd");
    assert_eq!(read.plan, Plan::Enterprise);
    assert_eq!(read.created_at, 1_700_000_000);

    assert!(matches!(
        store.insert_organisation(&acme).await,
        Err(StorageError::Conflict)
    ));
    assert!(matches!(
        store.get_organisation(&OrgId::generate()).await,
        Err(StorageError::NotFound)
    ));
    store.insert_organisation(&org(Plan::Free)).await.unwrap();
    let first = PageRequest {
        limit: 1,
        after: None,
    };
    let page = store.list_organisations(&first).await.unwrap();
    assert_eq!(page.len(), 1);
    let next = PageRequest {
        limit: 10,
        after: Some((page[0].created_at, page[0].id.to_string())),
    };
    let rest = store.list_organisations(&next).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0].id, page[0].id);
    store.ping().await.unwrap();
    store.migrate().await.expect("migrations are idempotent");
}

async fn clients_round_trip_with_plan_and_live_secrets(backend: Backend) {
    let (store, _db, _dir) = open(backend).await;
    let acme = org(Plan::Professional);
    store.insert_organisation(&acme).await.unwrap();
    let c = client(&acme.id, Some(1_900_000_000));
    store.insert_client(&c, &hash(None)).await.unwrap();

    let found = store
        .client_credentials(&c.id, 1_800_000_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.plan, Plan::Professional);
    assert_eq!(found.client.scopes.to_string(), "admin payouts:write");
    assert_eq!(
        found.client.audiences[0].as_str(),
        "https://api.example.test"
    );
    assert_eq!(found.client.status, ClientStatus::Active);
    assert_eq!(found.client.expires_at, Some(1_900_000_000));
    assert_eq!(found.secret_hashes.len(), 1);
    assert!(found.secret_hashes[0]
        .phc
        .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    assert_eq!(found.secret_hashes[0].origin, SecretOrigin::Imported);

    assert!(store
        .client_credentials(&ClientId::generate(), 0)
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        store.insert_client(&c, &hash(None)).await,
        Err(StorageError::Conflict)
    ));
    let orphan = client(&OrgId::generate(), None);
    assert!(matches!(
        store.insert_client(&orphan, &hash(None)).await,
        Err(StorageError::NotFound)
    ));
}

async fn expired_secret_hashes_are_not_returned(backend: Backend) {
    let (store, _db, _dir) = open(backend).await;
    let acme = org(Plan::Starter);
    store.insert_organisation(&acme).await.unwrap();
    let c = client(&acme.id, None);
    store
        .insert_client(&c, &hash(Some(1_800_000_000)))
        .await
        .unwrap();
    let before = store
        .client_credentials(&c.id, 1_799_999_999)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before.secret_hashes.len(), 1);
    let after = store
        .client_credentials(&c.id, 1_800_000_000)
        .await
        .unwrap()
        .unwrap();
    assert!(after.secret_hashes.is_empty());
}

async fn clients_list_by_organisation(backend: Backend) {
    let (store, _db, _dir) = open(backend).await;
    let (a, b) = (org(Plan::Starter), org(Plan::Starter));
    store.insert_organisation(&a).await.unwrap();
    store.insert_organisation(&b).await.unwrap();
    for owner in [&a, &a, &b] {
        store
            .insert_client(&client(&owner.id, None), &hash(None))
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .list_clients(None, &PageRequest::everything())
            .await
            .unwrap()
            .len(),
        3
    );
    let of_a = store
        .list_clients(Some(&a.id), &PageRequest::everything())
        .await
        .unwrap();
    assert_eq!(of_a.len(), 2);
    assert!(of_a.iter().all(|c| c.org_id == a.id));
}

async fn client_allowlist_and_rate_limit_round_trip(backend: Backend) {
    let (store, _db, _dir) = open(backend).await;
    let acme = org(Plan::Starter);
    store.insert_organisation(&acme).await.unwrap();
    let limited = Client {
        ip_allowlist: IpAllowlist::parse(["203.0.113.0/24", "2001:db8::/32"]).unwrap(),
        rate_limit_per_minute: Some(u32::MAX),
        ..client(&acme.id, None)
    };
    let open_client = client(&acme.id, None);
    for c in [&limited, &open_client] {
        store.insert_client(c, &hash(None)).await.unwrap();
    }

    let found = store
        .client_credentials(&limited.id, 0)
        .await
        .unwrap()
        .unwrap()
        .client;
    assert_eq!(found.ip_allowlist, limited.ip_allowlist);
    assert_eq!(found.rate_limit_per_minute, Some(u32::MAX));
    let listed = store
        .list_clients(Some(&acme.id), &PageRequest::everything())
        .await
        .unwrap();
    let listed_limited = listed.iter().find(|c| c.id == limited.id).unwrap();
    assert_eq!(listed_limited.ip_allowlist, limited.ip_allowlist);
    assert_eq!(listed_limited.rate_limit_per_minute, Some(u32::MAX));
    let listed_open = listed.iter().find(|c| c.id == open_client.id).unwrap();
    assert!(listed_open.ip_allowlist.is_empty());
    assert_eq!(listed_open.rate_limit_per_minute, None);
}

fn event(org: Option<&OrgId>, id: &str, action: &str, at: i64) -> AuditEvent {
    let mut changes = serde_json::Map::new();
    changes.insert("name".into(), serde_json::json!({"old": "a", "new": "b"}));
    AuditEvent {
        id: id.into(),
        org_id: org.cloned(),
        actor: "root".into(),
        action: action.into(),
        target: Some(AuditTarget {
            kind: "api_key".into(),
            id: format!("ak_{id}"),
        }),
        occurred_at: at,
        source_ip: Some("192.0.2.1".into()),
        request_id: "req-1".into(),
        changes,
    }
}

async fn audit_events_list_newest_first_and_purge(backend: Backend) {
    let (store, _db, _dir) = open(backend).await;
    let acme = OrgId::generate();
    let other = OrgId::generate();
    let mine = [
        event(Some(&acme), "ev_1", "api_key.created", 100),
        event(Some(&acme), "ev_2", "api_key.updated", 200),
        event(Some(&acme), "ev_3", "api_key.updated", 200),
    ];
    for e in mine.iter().chain([
        &event(Some(&other), "ev_4", "api_key.created", 150),
        &event(None, "ev_5", "admin.authentication_failed", 150),
    ]) {
        store.append_audit_event(e).await.unwrap();
    }
    let query = |page: PageRequest, action: Option<&str>| AuditQuery {
        page,
        action: action.map(Into::into),
        target_id: None,
        since: None,
        until: None,
    };
    let all = store
        .list_audit_events(&acme, &query(PageRequest::everything(), None))
        .await
        .unwrap();
    assert_eq!(all, [mine[2].clone(), mine[1].clone(), mine[0].clone()]);
    let after = PageRequest {
        limit: 10,
        after: Some((200, "ev_3".into())),
    };
    let older = store
        .list_audit_events(&acme, &query(after, Some("api_key.updated")))
        .await
        .unwrap();
    assert_eq!(older, [mine[1].clone()]);

    assert_eq!(store.purge_audit_events(200).await.unwrap(), 3);
    let kept = store
        .list_audit_events(&acme, &query(PageRequest::everything(), None))
        .await
        .unwrap();
    assert_eq!(kept.len(), 2);
}

/// A stored hash is replaced only while it is still the stored one, and
/// the digests' key ids are counted across clients and API keys.
async fn secret_hashes_are_replaced_only_if_unchanged(backend: Backend) {
    let (store, _db, _dir) = open(backend).await;
    let acme = org(Plan::Enterprise);
    store.insert_organisation(&acme).await.unwrap();
    let c = client(&acme.id, None);
    let old = digest("AAAAAAAA", "old");
    store.insert_client(&c, &old).await.unwrap();
    let other = client(&acme.id, None);
    store
        .insert_client(&other, &digest("BBBBBBBB", "x"))
        .await
        .unwrap();

    let new = "$hmac-sha256$k=BBBBBBBB$new";
    assert!(store
        .replace_client_secret_hash(&c.id, &old.phc, new)
        .await
        .unwrap());
    assert!(
        !store
            .replace_client_secret_hash(&c.id, &old.phc, "$hmac-sha256$k=CCCCCCCC$late")
            .await
            .unwrap(),
        "a replica that read the old hash changes nothing"
    );
    let found = store.client_credentials(&c.id, 0).await.unwrap().unwrap();
    assert_eq!(found.secret_hashes[0].phc, new);
    assert_eq!(found.secret_hashes[0].origin, SecretOrigin::Generated);
    assert_eq!(
        store.digest_key_ids().await.unwrap(),
        vec![("BBBBBBBB".to_owned(), 2)]
    );
}

/// Several clients in one read, each with its own live secrets in order.
async fn many_clients_are_read_in_one_query(backend: Backend) {
    let (store, _db, _dir) = open(backend).await;
    let acme = org(Plan::Starter);
    store.insert_organisation(&acme).await.unwrap();
    let (rotated, plain, lapsed) = (
        client(&acme.id, None),
        client(&acme.id, None),
        client(&acme.id, None),
    );
    store
        .insert_client(&rotated, &digest("AAAAAAAA", "first"))
        .await
        .unwrap();
    let second = digest("AAAAAAAA", "second");
    store
        .rotate_client_secret(&rotated.id, &second, 1_800_000_000, 1_700_000_500)
        .await
        .unwrap();
    store.insert_client(&plain, &hash(None)).await.unwrap();
    store
        .insert_client(&lapsed, &hash(Some(1_700_000_001)))
        .await
        .unwrap();

    let ids = [
        plain.id.clone(),
        ClientId::generate(),
        rotated.id.clone(),
        lapsed.id.clone(),
    ];
    let found = store
        .clients_credentials(&ids, 1_750_000_000)
        .await
        .unwrap();
    assert_eq!(found.len(), 3, "the unknown id is left out");
    let of = |id: &ClientId| found.iter().find(|c| c.client.id == *id).unwrap();
    let phcs: Vec<&str> = of(&rotated.id)
        .secret_hashes
        .iter()
        .map(|h| h.phc.as_str())
        .collect();
    assert_eq!(
        phcs,
        [second.phc.as_str(), "$hmac-sha256$k=AAAAAAAA$first"],
        "newest first"
    );
    assert_eq!(of(&plain.id).secret_hashes.len(), 1);
    assert!(of(&lapsed.id).secret_hashes.is_empty());
    assert_eq!(of(&lapsed.id).plan, Plan::Starter);
}

/// On SQLite a credential's record is read on the request's own thread
/// (`Store::instant_reads`); those reads answer exactly as the store does.
/// PostgreSQL has none: every read is a round trip anyway.
async fn instant_reads_answer_as_the_store_does(backend: Backend) {
    let (store, _db, _dir) = open(backend).await;
    let Some(instant) = store.instant_reads() else {
        assert_eq!(
            backend,
            Backend::Postgres,
            "SQLite reads credentials at once"
        );
        return;
    };
    assert_eq!(backend, Backend::Sqlite);
    let acme = org(Plan::Starter);
    store.insert_organisation(&acme).await.unwrap();
    let (rotated, lapsed) = (
        client(&acme.id, None),
        client(&acme.id, Some(1_900_000_000)),
    );
    store
        .insert_client(&rotated, &digest("AAAAAAAA", "first"))
        .await
        .unwrap();
    store
        .rotate_client_secret(
            &rotated.id,
            &digest("AAAAAAAA", "second"),
            1_800_000_000,
            1_700_000_500,
        )
        .await
        .unwrap();
    store
        .insert_client(&lapsed, &hash(Some(1_700_000_001)))
        .await
        .unwrap();
    let key = api_key(&acme.id, Some(250));
    store
        .insert_api_key(&key, "$hmac-sha256$k=AAAAAAAA$key", None)
        .await
        .unwrap();

    for (id, now) in [
        (&rotated.id, 1_750_000_000),
        (&rotated.id, 1_800_000_000),
        (&lapsed.id, 1_750_000_000),
        (&ClientId::generate(), 0),
    ] {
        let read = instant.client_credentials(id, now).unwrap();
        let expected = store.client_credentials(id, now).await.unwrap();
        assert_eq!(format!("{read:?}"), format!("{expected:?}"));
        let phcs = |c: Option<ClientCredentials>| {
            c.map(|c| {
                c.secret_hashes
                    .into_iter()
                    .map(|h| h.phc)
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(phcs(read), phcs(expected), "the same secrets, in order");
    }
    let read = instant.api_key_credentials(&key.id).unwrap().unwrap();
    assert_eq!(read.phc, "$hmac-sha256$k=AAAAAAAA$key");
    assert_eq!(read.plan, Plan::Starter);
    let expected = store.api_key_credentials(&key.id).await.unwrap().unwrap();
    assert_eq!(format!("{read:?}"), format!("{expected:?}"));
    let unknown = ApiKeySecret::generate();
    assert!(instant.api_key_credentials(unknown.id()).unwrap().is_none());
}

fn api_key(org: &OrgId, rate_limit_per_minute: Option<u32>) -> ApiKey {
    ApiKey {
        id: ApiKeySecret::generate().id().clone(),
        org_id: org.clone(),
        name: Name::parse("deploys").unwrap(),
        scopes: ScopeSet::parse("deployment").unwrap(),
        status: ApiKeyStatus::Deactivated,
        created_at: 1_700_000_200,
        updated_at: 1_700_000_300,
        expires_at: Some(1_950_000_000),
        rate_limit_per_minute,
        ip_allowlist: IpAllowlist::parse(["10.0.0.0/8"]).unwrap(),
        metadata: serde_json::json!({"team": "infra"})
            .as_object()
            .unwrap()
            .clone(),
        last_used_at: None,
        request_count: 0,
    }
}

/// A key's own rate limit may be absent (it follows its tier), set, and
/// removed again.
async fn api_key_own_rate_limit_is_optional(backend: Backend) {
    let (store, _db, _dir) = open(backend).await;
    let acme = org(Plan::Starter);
    store.insert_organisation(&acme).await.unwrap();
    let mut key = api_key(&acme.id, None);
    store
        .insert_api_key(&key, "$hmac-sha256$k=AAAAAAAA$key", None)
        .await
        .unwrap();
    let limit = |k: ApiKey| k.rate_limit_per_minute;
    let read = store.get_api_key(&acme.id, &key.id).await.unwrap();
    assert_eq!(limit(read), None);
    let credentials = store.api_key_credentials(&key.id).await.unwrap().unwrap();
    assert_eq!(limit(credentials.key), None);
    for own in [Some(5), None] {
        key.rate_limit_per_minute = own;
        store.update_api_key(&key, None).await.unwrap();
        assert_eq!(
            limit(store.get_api_key(&acme.id, &key.id).await.unwrap()),
            own
        );
    }
}

/// A flush of usage for more credentials than one statement carries.
async fn usage_of_many_credentials_is_written_in_one_flush(backend: Backend) {
    let (store, _db, _dir) = open(backend).await;
    let acme = org(Plan::Enterprise);
    store.insert_organisation(&acme).await.unwrap();
    let used = client(&acme.id, None);
    store.insert_client(&used, &hash(None)).await.unwrap();
    let mut batch: Vec<UsageCount> = (0..1_200)
        .map(|n| UsageCount {
            credential_id: format!("cl_{n:032x}"),
            minute: 29_000_000,
            count: 1,
            rate_limited: 0,
            last_used_at: 1_740_000_000,
        })
        .collect();
    batch[700].credential_id = used.id.to_string();
    batch[700].count = 5;
    store.record_usage(&batch).await.unwrap();
    store.record_usage(&batch[700..701]).await.unwrap();

    let read = store.get_client(&acme.id, &used.id).await.unwrap();
    assert_eq!(read.request_count, 10);
    assert_eq!(read.last_used_at, Some(1_740_000_000));
    let series = store
        .usage_series(used.id.as_str(), 29_000_000, 29_000_001, 1)
        .await
        .unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].count, 10);
    let other = store
        .usage_series(&batch[1_199].credential_id, 29_000_000, 29_000_001, 1)
        .await
        .unwrap();
    assert_eq!(other[0].count, 1);
}

/// One flush holding a credential in two minutes (a flush that spans a
/// minute's end) counts both in its total.
async fn a_flush_across_a_minute_counts_every_minute(backend: Backend) {
    let (store, _db, _dir) = open(backend).await;
    let acme = org(Plan::Enterprise);
    store.insert_organisation(&acme).await.unwrap();
    let used = client(&acme.id, None);
    store.insert_client(&used, &hash(None)).await.unwrap();
    let usage = |minute: i64, count: i64, at: i64| UsageCount {
        credential_id: used.id.to_string(),
        minute,
        count,
        rate_limited: 0,
        last_used_at: at,
    };
    store
        .record_usage(&[
            usage(29_000_000, 7, 1_740_000_059),
            usage(29_000_001, 5, 1_740_000_061),
        ])
        .await
        .unwrap();

    let read = store.get_client(&acme.id, &used.id).await.unwrap();
    assert_eq!(read.request_count, 12);
    assert_eq!(read.last_used_at, Some(1_740_000_061));
}

async fn one_time_values_are_used_once_until_purged(backend: Backend) {
    let (store, _db, _dir) = open(backend).await;
    let value = |name: &str, expires_at: i64| (name.to_owned(), expires_at);
    let fresh = store
        .use_once(&[value("a", 1_000), value("b", 1_000)])
        .await
        .unwrap();
    assert_eq!(fresh, [true, true]);
    let again = store
        .use_once(&[value("a", 1_000), value("c", 2_000)])
        .await
        .unwrap();
    assert_eq!(again, [false, true]);
    // On SQLite the request's-thread record is the same record.
    if let Some(instant) = store.instant_one_time() {
        assert_eq!(
            instant.use_once(&[value("c", 2_000), value("d", 2_000)]),
            Some(vec![false, true])
        );
        assert_eq!(
            store
                .use_once(&[value("e", 2_000), value("d", 2_000)])
                .await
                .unwrap(),
            [true, false]
        );
    }
    // Purged once expired: by then the token that carried it is refused
    // for its expiry.
    store.purge(1_000, 0).await.unwrap();
    assert_eq!(
        store
            .use_once(&[value("c", 2_000), value("a", 1_000)])
            .await
            .unwrap(),
        [false, true]
    );
}

/// Records made back to back never leave the checkpoint a moment to catch
/// up on its own; the WAL must still be started again, not grow.
#[tokio::test]
async fn constant_one_time_records_keep_the_sqlite_wal_bounded() {
    let (store, db, _dir) = open(Backend::Sqlite).await;
    let instant = store.instant_one_time().expect("a file database");
    for commit in 0..4_000 {
        let values: Vec<(String, i64)> = (0..10)
            .map(|i| (uuid::Uuid::new_v4().to_string(), 1_000 + commit / 100 + i))
            .collect();
        assert_eq!(instant.use_once(&values), Some(vec![true; 10]));
    }
    let wal = format!("{}-wal", db.url.trim_start_matches("sqlite://"));
    let size = std::fs::metadata(&wal).unwrap().len();
    // About 11 pages a commit: 4,000 commits in one WAL would be 180 MB.
    assert!(size < 100 << 20, "the WAL holds {size} bytes");
}

on_both_backends!(
    one_time_values_are_used_once_until_purged,
    a_flush_across_a_minute_counts_every_minute,
    instant_reads_answer_as_the_store_does,
    many_clients_are_read_in_one_query,
    usage_of_many_credentials_is_written_in_one_flush,
    secret_hashes_are_replaced_only_if_unchanged,
    audit_events_list_newest_first_and_purge,
    organisations_round_trip,
    client_allowlist_and_rate_limit_round_trip,
    api_key_own_rate_limit_is_optional,
    clients_round_trip_with_plan_and_live_secrets,
    expired_secret_hashes_are_not_returned,
    clients_list_by_organisation,
);
