//! RFC 7662 introspection of our access tokens, by resource servers.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::helpers::{
    spawn_app, spawn_app_on, spawn_app_with, status_and_json, Backend, TestApp, API,
};
use keyward::time::{Clock, ManualClock};

async fn active_token_reports_every_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let rs = app.create_resource_server(&[API]).await;
    let client = app.create_client(&["payouts:write"], &[API]).await;
    let token = app
        .token(&client, &[("resource", API), ("scope", "payouts:write")])
        .await;

    let (status, body) = app
        .introspect(&rs, &token, &[("token_type_hint", "access_token")])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"], true);
    assert_eq!(body["scope"], "payouts:read payouts:write");
    assert_eq!(body["client_id"], client.id.as_str());
    assert_eq!(body["sub"], client.id.as_str());
    assert_eq!(body["org_id"], client.org_id.as_str());
    assert_eq!(body["aud"], API);
    assert_eq!(body["iss"], app.address.as_str());
    assert_eq!(body["token_type"], "Bearer");
    let iat = body["iat"].as_i64().unwrap();
    assert_eq!(body["exp"].as_i64().unwrap(), iat + 900);
    assert_eq!(body["nbf"].as_i64().unwrap(), iat);
    assert_eq!(body["jti"].as_str().unwrap().len(), 36);
    assert!(body.get("scope_sufficient").is_none());

    // A wrong hint still works (RFC 7662 §2.1).
    let (_, body) = app
        .introspect(&rs, &token, &[("token_type_hint", "api_key")])
        .await;
    assert_eq!(body["active"], true);

    // required_scope: sufficient by our implication rules, or not, with both sides.
    let (_, body) = app
        .introspect(&rs, &token, &[("required_scope", "payouts:read")])
        .await;
    assert_eq!(body["scope_sufficient"], true);
    assert!(body.get("required").is_none());
    let (_, body) = app
        .introspect(
            &rs,
            &token,
            &[("required_scope", "wallets:read payouts:read")],
        )
        .await;
    assert_eq!(body["scope_sufficient"], false);
    assert_eq!(body["required"], "payouts:read wallets:read");
    assert_eq!(body["actual"], "payouts:read payouts:write");
}

/// Our ES256 signing key as a resource-server forger would need it.
fn our_key(app: &TestApp) -> (String, EncodingKey) {
    key_in(&app.keys_dir())
}

/// The kid and private key of the ES256 key in a keys directory.
fn key_in(dir: &std::path::Path) -> (String, EncodingKey) {
    // keys/ also holds the `server-secret`.
    let entry = std::fs::read_dir(dir)
        .unwrap()
        .map(Result::unwrap)
        .find(|entry| entry.path().extension() == Some(std::ffi::OsStr::new("pem")))
        .unwrap();
    let kid = entry
        .path()
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let pem = std::fs::read(entry.path()).unwrap();
    (kid, EncodingKey::from_ec_pem(&pem).unwrap())
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn every_bad_token_reads_exactly_inactive(backend: Backend) {
    let app = spawn_app(backend).await;
    let rs = app.create_resource_server(&[API]).await;
    let client = app.create_client(&["payouts:read"], &[API]).await;
    let good = app.token(&client, &[("resource", API)]).await;
    let claims = claims_of(&good);
    let (kid, key) = our_key(&app);
    let now = chrono::Utc::now().timestamp();
    let sign = |typ: &str, kid: &str, changes: Value| {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(typ.into());
        header.kid = Some(kid.into());
        let mut c = claims.clone();
        for (k, v) in changes.as_object().unwrap() {
            c[k] = v.clone();
        }
        encode(&header, &c, &key).unwrap()
    };
    let b64 = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let payload = good.split('.').nth(1).unwrap();
    let jwks: Value = app.get_json("/.well-known/jwks.json").await;
    let public_x = jwks["keys"][0]["x"].as_str().unwrap().to_owned();
    let mut hs = Header::new(Algorithm::HS256);
    hs.typ = Some("at+jwt".into());
    hs.kid = Some(kid.clone());

    // The forging works: an untouched re-signature is active.
    let resigned = sign("at+jwt", &kid, json!({}));
    assert_eq!(app.introspect(&rs, &resigned, &[]).await.1["active"], true);

    let cases = vec![
        ("garbage", "not-a-token".to_owned()),
        ("truncated", good[..good.len() - 10].to_owned()),
        (
            "alg none",
            format!(
                "{}.{payload}.",
                b64(json!({"alg": "none", "typ": "at+jwt", "kid": kid}))
            ),
        ),
        (
            "HS256 keyed with our public key",
            encode(&hs, &claims, &EncodingKey::from_secret(public_x.as_bytes())).unwrap(),
        ),
        ("wrong typ", sign("JWT", &kid, json!({}))),
        (
            "expired",
            sign(
                "at+jwt",
                &kid,
                json!({"exp": now - 120, "iat": now - 1020, "nbf": now - 1020}),
            ),
        ),
        (
            "expired a second ago",
            sign(
                "at+jwt",
                &kid,
                json!({"exp": now - 1, "iat": now - 901, "nbf": now - 901}),
            ),
        ),
        (
            "not yet valid",
            sign("at+jwt", &kid, json!({"nbf": now + 600})),
        ),
        (
            "wrong issuer",
            sign("at+jwt", &kid, json!({"iss": "https://evil.example.test"})),
        ),
        (
            "unknown kid",
            sign("at+jwt", "20200101T000000.000Z-00000000", json!({})),
        ),
        (
            "unknown client",
            sign(
                "at+jwt",
                &kid,
                json!({"client_id": "cl_00000000000000000000000000000000"}),
            ),
        ),
    ];
    for (name, token) in cases {
        let (status, body) = app.introspect(&rs, &token, &[]).await;
        assert_eq!((status, &body), (200, &json!({"active": false})), "{name}");
    }

    // Revoked by its own client.
    assert_eq!(app.revoke(&client, &good).await, 200);
    assert_eq!(
        app.introspect(&rs, &good, &[]).await.1,
        json!({"active": false})
    );
}

/// A compact JWS of our claims with any header, signed by `key`.
fn signed_with(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let signed = format!("{}.{}", b64(header), b64(claims));
    let signature = jsonwebtoken::crypto::sign(signed.as_bytes(), key, alg).unwrap();
    format!("{signed}.{signature}")
}

/// Algorithm confusion and key injection: tokens keyed with our public key
/// as an HMAC secret, tokens that point at or embed another key, and odd
/// `kid` values all read inactive. Even our own key cannot vouch for a
/// header that names a key source.
async fn forged_keys_and_kids_read_inactive(backend: Backend) {
    let app = spawn_app(backend).await;
    let rs = app.create_resource_server(&[API]).await;
    let client = app.create_client(&["payouts:read"], &[API]).await;
    let claims = claims_of(&app.token(&client, &[("resource", API)]).await);
    let (kid, ours) = our_key(&app);
    let elsewhere = tempfile::tempdir().unwrap();
    keyward::crypto::keyring::Keyring::new(
        elsewhere.path(),
        keyward::crypto::signing_key::SigningAlgorithm::ES256,
        std::time::Duration::from_secs(960),
        std::sync::Arc::new(keyward::time::SystemClock),
    )
    .load_or_init()
    .unwrap();
    let (their_kid, theirs) = key_in(elsewhere.path());
    let jwks: Value = app.get_json("/.well-known/jwks.json").await;
    let our_jwk = jwks["keys"][0].clone();
    let header = |fields: Value| {
        let mut header = json!({"alg": "ES256", "typ": "at+jwt", "kid": kid});
        for (name, value) in fields.as_object().unwrap() {
            header[name] = value.clone();
        }
        header
    };
    let es256 =
        |header: Value, key: &EncodingKey| signed_with(&header, &claims, key, Algorithm::ES256);
    let hs256_keyed_with = |secret: &[u8]| {
        signed_with(
            &header(json!({"alg": "HS256"})),
            &claims,
            &EncodingKey::from_secret(secret),
            Algorithm::HS256,
        )
    };

    // The forging works: our key and a plain header give an active token.
    let plain = es256(header(json!({})), &ours);
    assert_eq!(app.introspect(&rs, &plain, &[]).await.1["active"], true);

    let cases = vec![
        (
            "HS256 keyed with our JWK",
            hs256_keyed_with(our_jwk.to_string().as_bytes()),
        ),
        (
            "HS256 keyed with our x",
            hs256_keyed_with(our_jwk["x"].as_str().unwrap().as_bytes()),
        ),
        (
            "another key behind jku",
            es256(
                header(json!({"kid": their_kid, "jku": "https://evil.test/jwks.json"})),
                &theirs,
            ),
        ),
        (
            "another key behind x5u",
            es256(
                header(json!({"kid": their_kid, "x5u": "https://evil.test/cert.pem"})),
                &theirs,
            ),
        ),
        (
            "another key embedded as jwk under our kid",
            es256(
                header(json!({"jwk": {"kty": "EC", "crv": "P-256", "kid": their_kid}})),
                &theirs,
            ),
        ),
        (
            "our key, but a jku header",
            es256(
                header(json!({"jku": format!("{}/.well-known/jwks.json", app.address)})),
                &ours,
            ),
        ),
        (
            "our key, but a jwk header",
            es256(header(json!({"jwk": our_jwk})), &ours),
        ),
        (
            "our key, but crit",
            es256(header(json!({"crit": ["exp"]})), &ours),
        ),
        (
            "path-like kid",
            es256(header(json!({"kid": format!("../keys/{kid}")})), &ours),
        ),
        (
            "kid of a file",
            es256(header(json!({"kid": format!("{kid}.pem")})), &ours),
        ),
        (
            "kid with a NUL",
            es256(header(json!({"kid": format!("{kid}\u{0}")})), &ours),
        ),
        (
            "huge kid",
            es256(header(json!({"kid": "k".repeat(6 * 1024)})), &ours),
        ),
        (
            "kid not a string",
            es256(header(json!({"kid": [kid]})), &ours),
        ),
    ];
    for (name, token) in cases {
        let (status, body) = app.introspect(&rs, &token, &[]).await;
        assert_eq!((status, &body), (200, &json!({"active": false})), "{name}");
    }
}

async fn callers_must_be_resource_servers(backend: Backend) {
    let app = spawn_app(backend).await;
    let rs = app.create_resource_server(&[API]).await;
    let client = app.create_client(&["payouts:read"], &[API]).await;
    let token = app.token(&client, &[("resource", API)]).await;
    let url = app.url("/oauth/introspect");
    let form = [("token", token.as_str())];

    let cases = [
        ("no caller authentication", app.http.post(&url).form(&form)),
        (
            "wrong secret",
            app.http
                .post(&url)
                .basic_auth(&rs.id, Some("kws_wrong"))
                .form(&form),
        ),
        (
            "a client that is not a resource server",
            app.http
                .post(&url)
                .basic_auth(&client.id, Some(&client.secret))
                .form(&form),
        ),
        (
            "a Bearer token without the introspect scope",
            app.http.post(&url).bearer_auth(&token).form(&form),
        ),
        (
            "a Bearer garbage token",
            app.http.post(&url).bearer_auth("nope").form(&form),
        ),
    ];
    for (name, request) in cases {
        let response = request.send().await.unwrap();
        assert!(
            response.headers().contains_key("www-authenticate"),
            "{name}"
        );
        let (status, body) = status_and_json(response).await;
        assert_eq!(status, 401, "{name}: {body}");
        assert!(
            matches!(
                body["error"].as_str(),
                Some("invalid_client" | "invalid_token")
            ),
            "{name}: {body}"
        );
        assert!(
            body.get("active").is_none(),
            "{name}: discloses nothing about the token"
        );
    }

    // A resource server's Bearer token with keyward:introspect works,
    // restricted to its client's audiences.
    let gateway = app.create_resource_server(&[API]).await;
    let bearer = app.token(&gateway, &[]).await;
    let response = app
        .http
        .post(&url)
        .bearer_auth(&bearer)
        .form(&form)
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(response).await;
    assert_eq!(
        (status, body["active"].as_bool()),
        (200, Some(true)),
        "{body}"
    );

    // A missing token parameter is a bad request, after authentication.
    let response = app
        .http
        .post(&url)
        .basic_auth(&rs.id, Some(&rs.secret))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_and_json(response).await.1["error"],
        "invalid_request"
    );
}

async fn a_resource_server_sees_only_its_audiences(backend: Backend) {
    let other = "https://other.example.test";
    for restricted in [true, false] {
        let app = spawn_app_with(backend, |s| s.introspection_restrict_audience = restricted).await;
        let rs = app.create_resource_server(&[API]).await;
        let client = app.create_client(&["payouts:read"], &[API, other]).await;
        let theirs = app.token(&client, &[("resource", other)]).await;
        let ours = app
            .token(&client, &[("resource", API), ("resource", other)])
            .await;
        assert_eq!(app.introspect(&rs, &ours, &[]).await.1["active"], true);
        let (_, body) = app.introspect(&rs, &theirs, &[]).await;
        assert_eq!(
            body["active"], !restricted,
            "restricted = {restricted}: {body}"
        );
    }
}

async fn revocation_by_the_owner_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let rs = app.create_resource_server(&[API]).await;
    let owner = app.create_client(&["payouts:read"], &[API]).await;
    let stranger = app.create_client(&["payouts:read"], &[API]).await;
    let token = app.token(&owner, &[("resource", API)]).await;

    assert_eq!(
        app.revoke(&stranger, &token).await,
        200,
        "RFC 7009: 200 regardless"
    );
    assert_eq!(
        app.introspect(&rs, &token, &[]).await.1["active"],
        true,
        "a stranger cannot revoke"
    );
    assert_eq!(app.revoke(&owner, "not-a-token").await, 200);
    let unauthenticated = app
        .http
        .post(app.url("/oauth/revoke"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let no_token = app
        .http
        .post(app.url("/oauth/revoke"))
        .basic_auth(&owner.id, Some(&owner.secret))
        .form(&[("x", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_and_json(no_token).await.1["error"],
        "invalid_request"
    );

    assert_eq!(app.revoke(&owner, &token).await, 200);
    assert_eq!(
        app.revoke(&owner, &token).await,
        200,
        "revoking twice is fine"
    );
    assert_eq!(
        app.introspect(&rs, &token, &[]).await.1,
        json!({"active": false})
    );
    // Another token of the same client is untouched.
    let fresh = app.token(&owner, &[("resource", API)]).await;
    assert_eq!(app.introspect(&rs, &fresh, &[]).await.1["active"], true);
}

/// Keyward set `exp` by its own clock, so its checks give it no leeway:
/// past `exp` a token is inactive on introspection and refused by the
/// management API. A revocation is kept past `exp` by the leeway that `nbf`
/// still gets, for replicas whose clocks are behind.
async fn expiry_has_no_leeway_and_revocations_outlive_it(backend: Backend) {
    let clock = ManualClock::starting_now();
    let app = spawn_app_on(backend, |_| {}, clock.clone()).await;
    let rs = app.create_resource_server(&[API]).await;
    let org = app.create_org(keyward::domain::Plan::Enterprise).await;
    let admin = app
        .create_client_in(&org, &["keyward:clients:read"], &[API], None)
        .await;
    let (kid, key) = our_key(&app);
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(kid);
    let now = clock.unix();
    let lasting = |token: &str, exp: i64| {
        let mut claims = claims_of(token);
        claims["exp"] = json!(exp);
        claims["iat"] = json!(now - 10);
        claims["nbf"] = json!(now - 10);
        encode(&header, &claims, &key).unwrap()
    };
    let data = app.token(&admin, &[("resource", API)]).await;
    let management = app.token(&admin, &[("resource", &app.address)]).await;

    let (_, body) = app.introspect(&rs, &lasting(&data, now - 1), &[]).await;
    assert_eq!(body, json!({"active": false}));
    let path = format!("/admin/v1/orgs/{org}/clients");
    let (status, _) = app
        .admin(
            reqwest::Method::GET,
            &path,
            &lasting(&management, now - 1),
            None,
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = app
        .admin(
            reqwest::Method::GET,
            &path,
            &lasting(&management, now + 60),
            None,
        )
        .await;
    assert_eq!(status, 200);

    let short = lasting(&data, now + 2);
    assert_eq!(app.introspect(&rs, &short, &[]).await.1["active"], true);
    assert_eq!(app.revoke(&admin, &short).await, 200);
    let jti = claims_of(&short)["jti"].as_str().unwrap().to_owned();
    clock.advance(std::time::Duration::from_secs(3));
    let after_exp = clock.unix();
    assert!(after_exp > now + 2);
    assert_eq!(
        app.introspect(&rs, &short, &[]).await.1,
        json!({"active": false})
    );
    let kept = app.store.live_revocations(after_exp).await.unwrap();
    let (_, until) = kept.iter().find(|(j, _)| *j == jti).expect("still kept");
    assert!(*until >= now + 2 + 60, "kept until {until}");
}

on_both_backends!(
    expiry_has_no_leeway_and_revocations_outlive_it,
    active_token_reports_every_field,
    every_bad_token_reads_exactly_inactive,
    callers_must_be_resource_servers,
    a_resource_server_sees_only_its_audiences,
    revocation_by_the_owner_only,
    forged_keys_and_kids_read_inactive,
);
