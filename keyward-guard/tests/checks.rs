//! Each offline check of the guard against a stand-in issuer.

mod support;

use std::sync::Arc;
use std::time::Duration;

use keyward_guard::{Credential, Denial, Guard, RequiredScope};
use serde_json::{json, Value};
use support::{issuer, now, Published, TestKey, AUDIENCE};

struct Setup {
    guard: Guard,
    base: String,
    key: TestKey,
    published: Arc<Published>,
}

async fn setup_with(refetch_interval: Duration) -> Setup {
    let key = TestKey::es256("k1");
    let published = Arc::new(Published::default());
    published.keys(&[&key]);
    let base = issuer(published.clone());
    let guard = Guard::builder(&base, AUDIENCE)
        .refetch_interval(refetch_interval)
        .connect()
        .await
        .unwrap();
    Setup {
        guard,
        base,
        key,
        published,
    }
}

async fn setup() -> Setup {
    setup_with(Duration::from_secs(10)).await
}

impl Setup {
    fn token(&self, changes: Value) -> String {
        self.key.token(&self.base, "payouts:read", changes)
    }

    async fn why(&self, token: &str) -> Denial {
        self.guard.verify_token(token).await.unwrap_err()
    }
}

fn invalid(why: &'static str) -> Denial {
    Denial::InvalidToken(why)
}

#[tokio::test]
async fn accepts_keywards_tokens_with_each_algorithm() {
    let es256 = TestKey::es256("k-es");
    let eddsa = TestKey::eddsa("k-ed");
    let published = Arc::new(Published::default());
    published.keys(&[&es256, &eddsa]);
    let base = issuer(published.clone());
    let guard = Guard::builder(&base, AUDIENCE).connect().await.unwrap();
    for key in [&es256, &eddsa] {
        let claims = guard
            .verify_token(&key.token(&base, "payouts:read", json!({})))
            .await;
        let claims = claims.unwrap_or_else(|e| panic!("{}: {e}", key.alg()));
        assert_eq!(claims.sub, "cl_1");
        assert_eq!(claims.org_id.as_deref(), Some("org_1"));
        assert_eq!(claims.scopes().collect::<Vec<_>>(), ["payouts:read"]);
    }
    assert_eq!(published.fetches(), 1, "fetched once, at start");
}

#[tokio::test]
async fn a_configured_jwks_uri_skips_discovery_and_names_the_issuer() {
    let s = setup().await;
    let guard = Guard::builder(&s.base, AUDIENCE)
        .jwks_uri(format!("{}/jwks", s.base))
        .connect()
        .await
        .unwrap();
    assert!(guard.verify_token(&s.token(json!({}))).await.is_ok());
    let elsewhere = Guard::builder("https://other.example.test", AUDIENCE)
        .jwks_uri(format!("{}/jwks", s.base))
        .connect()
        .await
        .unwrap();
    let refused = elsewhere.verify_token(&s.token(json!({}))).await;
    assert_eq!(
        refused.unwrap_err(),
        invalid("the token has another issuer")
    );
}

#[tokio::test]
async fn exp_and_nbf_hold_with_a_leeway() {
    let s = setup().await;
    let expired = s.token(json!({"exp": now() - 120}));
    assert_eq!(s.why(&expired).await, invalid("the token has expired"));
    let just_expired = s.token(json!({"exp": now() - 5}));
    assert!(
        s.guard.verify_token(&just_expired).await.is_ok(),
        "within the leeway"
    );
    let early = s.token(json!({"nbf": now() + 120}));
    assert_eq!(s.why(&early).await, invalid("the token is not valid yet"));
    let no_exp = s.key.sign(
        &s.key.header(),
        &json!({"iss": s.base, "sub": "cl_1", "aud": AUDIENCE}),
    );
    assert_eq!(s.why(&no_exp).await, invalid("the token is not valid"));
}

#[tokio::test]
async fn iss_and_aud_must_be_ours() {
    let s = setup().await;
    let other_issuer = s.token(json!({"iss": "https://evil.example.test"}));
    assert_eq!(
        s.why(&other_issuer).await,
        invalid("the token has another issuer")
    );
    let other_audience = s.token(json!({"aud": "https://other.example.test"}));
    assert_eq!(
        s.why(&other_audience).await,
        invalid("the token is not for this audience")
    );
    let several = s.token(json!({"aud": ["https://other.example.test", AUDIENCE]}));
    let claims = s.guard.verify_token(&several).await.unwrap();
    assert_eq!(claims.aud.len(), 2);
}

#[tokio::test]
async fn only_access_tokens_of_an_allowed_algorithm_by_their_key() {
    let s = setup().await;
    let claims = json!({"iss": s.base, "sub": "cl_1", "aud": AUDIENCE, "exp": now() + 60});
    let typ = |typ: Value| {
        s.key
            .sign(&json!({"alg": "ES256", "kid": "k1", "typ": typ}), &claims)
    };
    for refused in [json!("JWT"), json!("dpop+jwt"), Value::Null] {
        assert_eq!(
            s.why(&typ(refused)).await,
            invalid("the token is not an access token")
        );
    }
    assert!(s
        .guard
        .verify_token(&typ(json!("application/at+jwt")))
        .await
        .is_ok());

    let header = |alg: &str| json!({"alg": alg, "kid": "k1", "typ": "at+jwt"});
    for alg in ["HS256", "ES384", "PS256"] {
        let token = s.key.sign(&header(alg), &claims);
        assert_eq!(
            s.why(&token).await,
            invalid("the token's algorithm is not allowed"),
            "{alg}"
        );
    }
    let token = s.key.sign(&header("none"), &claims);
    assert_eq!(s.why(&token).await, invalid("the token is malformed"));
    let token = s.key.sign(&header("EdDSA"), &claims);
    assert_eq!(
        s.why(&token).await,
        invalid("the token's algorithm is not its key's")
    );
    let token = s
        .key
        .sign(&json!({"alg": "ES256", "typ": "at+jwt"}), &claims);
    assert_eq!(s.why(&token).await, invalid("the token names no key"));

    let good = s.token(json!({}));
    let tampered = format!("{}AAAA", &good[..good.len() - 4]);
    assert_eq!(s.why(&tampered).await, invalid("the token is not valid"));
    assert_eq!(
        s.why("not-a-token").await,
        invalid("the token is malformed")
    );
}

#[tokio::test]
async fn an_unknown_kid_refetches_at_most_once_per_interval() {
    let interval = Duration::from_millis(300);
    let s = setup_with(interval).await;
    let rotated = TestKey::es256("k2");
    let token = rotated.token(&s.base, "payouts:read", json!({}));
    let unknown = invalid("the token's key is unknown");
    assert_eq!(s.why(&token).await, unknown);
    assert_eq!(s.published.fetches(), 1, "too soon after the first fetch");

    // Keyward rotates: its key set now holds the new key.
    s.published.keys(&[&s.key, &rotated]);
    tokio::time::sleep(interval).await;
    assert!(s.guard.verify_token(&token).await.is_ok());
    assert!(s.guard.verify_token(&token).await.is_ok());
    assert_eq!(
        s.published.fetches(),
        2,
        "one refetch, then the cached keys"
    );

    let forged = TestKey::es256("made-up").token(&s.base, "payouts:read", json!({}));
    for _ in 0..3 {
        assert_eq!(s.why(&forged).await, unknown);
    }
    assert_eq!(
        s.published.fetches(),
        2,
        "unknown kids within the interval fetch nothing"
    );

    tokio::time::sleep(interval).await;
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (guard, forged) = (s.guard.clone(), forged.clone());
        requests.spawn(async move { guard.verify_token(&forged).await });
    }
    while let Some(verdict) = requests.join_next().await {
        assert_eq!(verdict.unwrap().unwrap_err(), unknown);
    }
    assert_eq!(
        s.published.fetches(),
        3,
        "concurrent requests share one refetch"
    );
}

#[tokio::test]
async fn authorize_checks_the_scope_and_the_credential_form() {
    let s = setup().await;
    let required = RequiredScope::parse("payouts:read").unwrap();
    let authorize = |authorization: Option<String>, x_api_key: Option<&'static str>| {
        let guard = s.guard.clone();
        let required = required.clone();
        async move {
            let credential = Credential::find(authorization.as_deref(), x_api_key);
            guard.authorize(credential, &required).await
        }
    };
    let bearer = |token: &str| Some(format!("Bearer {token}"));

    assert!(authorize(bearer(&s.token(json!({}))), None).await.is_ok());
    let everything = s.key.token(&s.base, "*", json!({}));
    assert!(authorize(bearer(&everything), None).await.is_ok());
    let wallets = s.key.token(&s.base, "wallets:read", json!({}));
    assert_eq!(
        authorize(bearer(&wallets), None).await.unwrap_err(),
        Denial::InsufficientScope {
            required: "payouts:read".into(),
            actual: "wallets:read".into()
        }
    );

    assert_eq!(
        authorize(None, None).await.unwrap_err(),
        Denial::MissingCredential
    );
    let not_ours = Some("Basic dXNlcjpwYXNz".to_owned());
    assert_eq!(
        authorize(not_ours, None).await.unwrap_err(),
        Denial::MissingCredential
    );
    // Bearer wins over X-API-KEY; API keys themselves are not checked yet.
    let good = s.token(json!({}));
    assert!(authorize(bearer(&good), Some("kw_key")).await.is_ok());
    let key_refused = invalid("API keys are not accepted here");
    assert_eq!(
        authorize(None, Some("kw_key")).await.unwrap_err(),
        key_refused
    );
    assert_eq!(
        authorize(Some("kw_key".into()), None).await.unwrap_err(),
        key_refused
    );
}

#[tokio::test]
async fn keys_past_their_age_are_refetched_and_a_withdrawn_key_stops_verifying() {
    let key = TestKey::es256("k1");
    let published = Arc::new(Published::default());
    published.keys(&[&key]);
    let base = issuer(published.clone());
    let max_age = Duration::from_millis(400);
    let guard = Guard::builder(&base, AUDIENCE)
        .refetch_interval(Duration::from_millis(100))
        .max_key_age(max_age)
        .connect()
        .await
        .unwrap();
    let token = key.token(&base, "payouts:read", json!({}));
    assert!(guard.verify_token(&token).await.is_ok());
    tokio::time::sleep(max_age).await;
    assert!(guard.verify_token(&token).await.is_ok());
    assert_eq!(published.fetches(), 2, "refetched once past its age");
    assert!(guard.verify_token(&token).await.is_ok());
    assert_eq!(published.fetches(), 2, "fresh again");

    // Keyward withdraws the key.
    published.keys(&[&TestKey::es256("k2")]);
    tokio::time::sleep(max_age).await;
    let refused = guard.verify_token(&token).await.unwrap_err();
    assert_eq!(refused, invalid("the token's key is unknown"));
    assert_eq!(published.fetches(), 3);
}

#[tokio::test]
async fn while_the_issuer_is_down_the_keys_held_go_on_verifying() {
    let key = TestKey::es256("k1");
    let published = Arc::new(Published::default());
    published.keys(&[&key]);
    let base = issuer(published.clone());
    let max_age = Duration::from_millis(300);
    let guard = Guard::builder(&base, AUDIENCE)
        .refetch_interval(max_age)
        .max_key_age(max_age)
        .connect()
        .await
        .unwrap();
    published
        .down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(max_age).await;
    let token = key.token(&base, "payouts:read", json!({}));
    assert!(guard.verify_token(&token).await.is_ok(), "stale, but held");
    assert_eq!(published.fetches(), 2, "the refetch was tried");
    assert!(guard.verify_token(&token).await.is_ok());
    assert_eq!(published.fetches(), 2, "and not again within the interval");

    tokio::time::sleep(max_age).await;
    let unknown = TestKey::es256("k2").token(&base, "payouts:read", json!({}));
    assert_eq!(
        guard.verify_token(&unknown).await.unwrap_err(),
        Denial::Unavailable
    );
}
