//! DPoP-bound tokens (RFC 9449 §7) through the guard, against a stand-in
//! issuer: each refusal, and the accepted request.

mod support;

use std::sync::Arc;

use keyward_guard::{Claims, Credential, Denial, Guard, RequestParts, RequiredScope};
use serde_json::json;
use support::{issuer, now, Published, TestKey, AUDIENCE};

const PUBLIC_URL: &str = "https://payouts.example.test";
const URL: &str = "https://payouts.example.test/v1/payouts";

struct Setup {
    guard: Guard,
    base: String,
    signer: TestKey,
    /// The client's key, its tokens bound to it.
    client: TestKey,
}

async fn setup() -> Setup {
    let signer = TestKey::es256("k1");
    let published = Arc::new(Published::default());
    published.keys(&[&signer]);
    let base = issuer(published);
    let guard = Guard::builder(&base, AUDIENCE)
        .public_url(format!("{PUBLIC_URL}/"))
        .realm("payouts")
        .connect()
        .await
        .unwrap();
    Setup {
        guard,
        base,
        signer,
        client: TestKey::es256("client"),
    }
}

impl Setup {
    fn bound_token(&self) -> String {
        let cnf = json!({"cnf": {"jkt": self.client.thumbprint()}});
        self.signer.token(&self.base, "payouts:read", cnf)
    }

    fn proof(&self, token: &str) -> String {
        self.client.dpop_proof("GET", URL, token, json!({}))
    }

    /// A `GET /v1/payouts` with `authorization` and `proofs`, needing `payouts:read`.
    async fn get(&self, authorization: &str, proofs: &[&str]) -> Result<Claims, Denial> {
        let request = RequestParts {
            method: "GET",
            path: "/v1/payouts",
            proofs,
            client_ip: None,
        };
        let required = RequiredScope::parse("payouts:read").unwrap();
        let credential = Credential::find(Some(authorization), None);
        self.guard
            .authorize_request(credential, &request, &required)
            .await
    }
}

fn bad_proof(why: &'static str) -> Denial {
    Denial::under_dpop(Denial::InvalidDpopProof(why))
}

#[tokio::test]
async fn a_bound_token_passes_with_its_proof_once() {
    let s = setup().await;
    let token = s.bound_token();
    let proof = s.proof(&token);
    let claims = s.get(&format!("DPoP {token}"), &[&proof]).await.unwrap();
    assert_eq!(claims.cnf.unwrap().jkt, s.client.thumbprint());

    let replayed = s.get(&format!("DPoP {token}"), &[&proof]).await;
    assert_eq!(
        replayed.unwrap_err(),
        bad_proof("the DPoP proof was used before")
    );
    // A query string is not part of htu (RFC 9449 §4.3).
    let with_query = s
        .client
        .dpop_proof("GET", &format!("{URL}?page=2"), &token, json!({}));
    assert!(s
        .get(&format!("DPoP {token}"), &[&with_query])
        .await
        .is_ok());
}

#[tokio::test]
async fn a_proof_must_be_for_this_request_this_token_and_recent() {
    let s = setup().await;
    let token = s.bound_token();
    let other_token = s.bound_token().replace("jti-1", "jti-2");
    let cases = [
        (
            s.client.dpop_proof("POST", URL, &token, json!({})),
            "the DPoP proof is for another request",
        ),
        (
            s.client
                .dpop_proof("GET", &format!("{URL}/other"), &token, json!({})),
            "the DPoP proof is for another request",
        ),
        (
            s.client.dpop_proof(
                "GET",
                "https://elsewhere.example.test/v1/payouts",
                &token,
                json!({}),
            ),
            "the DPoP proof is for another request",
        ),
        (
            s.client
                .dpop_proof("GET", URL, &token, json!({"iat": now() - 600})),
            "the DPoP proof is too old or from the future",
        ),
        (
            s.client
                .dpop_proof("GET", URL, &token, json!({"iat": now() + 600})),
            "the DPoP proof is too old or from the future",
        ),
        (
            s.client.dpop_proof("GET", URL, &other_token, json!({})),
            "the DPoP proof is for another token",
        ),
        (
            TestKey::es256("thief").dpop_proof("GET", URL, &token, json!({})),
            "the DPoP proof is not signed by the token's key",
        ),
        ("not-a-proof".to_owned(), "the DPoP proof is malformed"),
    ];
    for (proof, why) in cases {
        let refused = s.get(&format!("DPoP {token}"), &[&proof]).await;
        assert_eq!(refused.unwrap_err(), bad_proof(why));
    }
    let good = s.proof(&token);
    assert_eq!(
        s.get(&format!("DPoP {token}"), &[]).await.unwrap_err(),
        bad_proof("send exactly one DPoP proof")
    );
    assert_eq!(
        s.get(&format!("DPoP {token}"), &[&good, &good])
            .await
            .unwrap_err(),
        bad_proof("send exactly one DPoP proof")
    );
}

#[tokio::test]
async fn a_proof_needs_its_type_and_an_allowed_algorithm_by_its_key() {
    let s = setup().await;
    let token = s.bound_token();
    let proof = s.proof(&token);
    let claims = jwt_part(&proof, 1);
    let header = |changes: serde_json::Value| {
        let mut header = json!({"alg": "ES256", "typ": "dpop+jwt", "jwk": s.client.jwk()});
        for (name, value) in changes.as_object().unwrap() {
            header[name] = value.clone();
        }
        s.client.sign(&header, &claims)
    };
    let cases = [
        (
            header(json!({"typ": "JWT"})),
            "the DPoP proof's typ is not dpop+jwt",
        ),
        (
            header(json!({"alg": "HS256"})),
            "the DPoP proof's alg is not accepted",
        ),
        (
            header(json!({"alg": "none"})),
            "the DPoP proof's alg is not accepted",
        ),
        (
            header(json!({"alg": "EdDSA"})),
            "the DPoP proof's signature or claims are not valid",
        ),
    ];
    for (proof, why) in cases {
        let refused = s.get(&format!("DPoP {token}"), &[&proof]).await;
        assert_eq!(refused.unwrap_err(), bad_proof(why));
    }
}

#[tokio::test]
async fn bound_tokens_only_under_dpop_and_unbound_only_as_bearer() {
    let s = setup().await;
    let bound = s.bound_token();
    let as_bearer = s.get(&format!("Bearer {bound}"), &[&s.proof(&bound)]).await;
    let refused = as_bearer.unwrap_err();
    assert_eq!(
        refused,
        Denial::InvalidToken("the token is DPoP-bound: send it with the DPoP scheme and a proof")
    );
    assert!(refused.challenge(None).unwrap().starts_with("Bearer "));

    let unbound = s.signer.token(&s.base, "payouts:read", json!({}));
    assert!(s.get(&format!("Bearer {unbound}"), &[]).await.is_ok());
    let refused = s
        .get(&format!("DPoP {unbound}"), &[&s.proof(&unbound)])
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        Denial::under_dpop(Denial::InvalidToken(
            "the token is not DPoP-bound: send it as a Bearer token"
        ))
    );
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.challenge(s.guard.realm()).unwrap(),
        r#"DPoP realm="payouts", error="invalid_token", error_description="the token is not DPoP-bound: send it as a Bearer token", algs="ES256 EdDSA RS256 PS256""#
    );

    // Without a request to hold a proof against, a DPoP token cannot pass.
    let required = RequiredScope::parse("payouts:read").unwrap();
    let header = format!("DPoP {bound}");
    let credential = Credential::find(Some(&header), None);
    let refused = s.guard.authorize(credential, &required).await.unwrap_err();
    assert_eq!(refused.error_code(), Some("invalid_dpop_proof"));
}

#[tokio::test]
async fn token_and_scope_refusals_under_dpop_keep_its_scheme() {
    let s = setup().await;
    let cnf = json!({"cnf": {"jkt": s.client.thumbprint()}, "exp": now() - 120});
    let expired = s.signer.token(&s.base, "payouts:read", cnf);
    let refused = s
        .get(&format!("DPoP {expired}"), &[&s.proof(&expired)])
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        Denial::under_dpop(Denial::InvalidToken("the token has expired"))
    );
    let cnf = json!({"cnf": {"jkt": s.client.thumbprint()}});
    let wallets = s.signer.token(&s.base, "wallets:read", cnf);
    let refused = s
        .get(&format!("DPoP {wallets}"), &[&s.proof(&wallets)])
        .await
        .unwrap_err();
    assert_eq!(refused.status(), 403);
    assert!(refused
        .challenge(None)
        .unwrap()
        .starts_with(r#"DPoP error="insufficient_scope", scope="payouts:read""#));
}

/// The decoded JSON of a compact JWS's part `index`.
fn jwt_part(jws: &str, index: usize) -> serde_json::Value {
    use base64::Engine;
    let part = jws.split('.').nth(index).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}
