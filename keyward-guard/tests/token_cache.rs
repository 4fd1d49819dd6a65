//! The verified-token cache: a token sent again passes without a new
//! signature check, but never past its `exp` nor past the key set that
//! verified it.

mod support;

use std::sync::Arc;
use std::time::Duration;

use keyward_guard::{Denial, Guard};
use serde_json::json;
use support::{issuer, now, Published, TestKey, AUDIENCE};

#[tokio::test]
async fn a_cached_token_still_expires() {
    let key = TestKey::es256("k1");
    let published = Arc::new(Published::default());
    published.keys(&[&key]);
    let base = issuer(published);
    let guard = Guard::builder(&base, AUDIENCE)
        .leeway(Duration::ZERO)
        .connect()
        .await
        .unwrap();
    let token = key.token(&base, "payouts:read", json!({"exp": now() + 2}));
    for _ in 0..3 {
        assert!(guard.verify_token(&token).await.is_ok());
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        guard.verify_token(&token).await.unwrap_err(),
        Denial::InvalidToken("the token has expired")
    );
}

#[tokio::test]
async fn a_withdrawn_keys_cached_tokens_stop_passing_at_the_refetch() {
    let (old, new) = (TestKey::es256("k1"), TestKey::es256("k2"));
    let published = Arc::new(Published::default());
    published.keys(&[&old]);
    let base = issuer(published.clone());
    let interval = Duration::from_millis(200);
    let guard = Guard::builder(&base, AUDIENCE)
        .refetch_interval(interval)
        .connect()
        .await
        .unwrap();
    let cached = old.token(&base, "payouts:read", json!({}));
    assert!(guard.verify_token(&cached).await.is_ok());
    assert!(guard.verify_token(&cached).await.is_ok(), "from the cache");

    // Keyward rotates and withdraws k1; a token of k2 makes the guard refetch.
    published.keys(&[&new]);
    tokio::time::sleep(interval).await;
    let rotated = new.token(&base, "payouts:read", json!({}));
    assert!(guard.verify_token(&rotated).await.is_ok());
    assert_eq!(published.fetches(), 2);
    assert_eq!(
        guard.verify_token(&cached).await.unwrap_err(),
        Denial::InvalidToken("the token's key is unknown")
    );
}

#[tokio::test]
async fn a_kept_key_goes_on_verifying_after_a_refetch() {
    let key = TestKey::es256("k1");
    let published = Arc::new(Published::default());
    published.keys(&[&key]);
    let base = issuer(published.clone());
    let max_age = Duration::from_millis(300);
    let guard = Guard::builder(&base, AUDIENCE)
        .max_key_age(max_age)
        .refetch_interval(Duration::from_millis(100))
        .connect()
        .await
        .unwrap();
    let token = key.token(&base, "payouts:read", json!({}));
    assert!(guard.verify_token(&token).await.is_ok());
    tokio::time::sleep(max_age).await;
    // A cached token asks for its key too, so stale keys are refetched.
    assert!(guard.verify_token(&token).await.is_ok());
    assert_eq!(published.fetches(), 2);
}
