//! A client's own signing keys for `private_key_jwt`, and the assertions it
//! signs with them: signed by the `jsonwebtoken` crate, an implementation
//! independent of the server's checks.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use keyward::crypto::signing_key::{generate_pkcs8, SigningAlgorithm, SigningKey};
use reqwest::Method;
use serde_json::{json, Value};

use super::helpers::{TestApp, TestClient, ROOT_TOKEN};

/// RFC 7523's `client_assertion_type` for a signed JWT.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub struct ClientKeyPair {
    /// The public JWK, with its kid: what the client registers.
    pub jwk: Value,
    pub kid: String,
    /// The PKCS#8 private key as PEM, for clients that read one.
    pub private_pem: String,
    encoding: EncodingKey,
    alg: Algorithm,
}

impl ClientKeyPair {
    pub fn es256(kid: &str) -> Self {
        Self::generate(SigningAlgorithm::ES256, Algorithm::ES256, kid)
    }

    pub fn ed25519(kid: &str) -> Self {
        Self::generate(SigningAlgorithm::EdDSA, Algorithm::EdDSA, kid)
    }

    /// An RSA key signing with `alg` (RS256 or PS256).
    pub fn rsa(kid: &str, alg: Algorithm) -> Self {
        Self::generate(SigningAlgorithm::RS256, alg, kid)
    }

    fn generate(kind: SigningAlgorithm, alg: Algorithm, kid: &str) -> Self {
        let der = generate_pkcs8(kind).unwrap();
        let mut jwk = SigningKey::from_pkcs8(kid, &der)
            .unwrap()
            .public_jwk()
            .clone();
        jwk["alg"] = json!(format!("{alg:?}"));
        let private_pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der));
        let encoding = match kind {
            SigningAlgorithm::ES256 => EncodingKey::from_ec_pem(private_pem.as_bytes()),
            SigningAlgorithm::EdDSA => EncodingKey::from_ed_pem(private_pem.as_bytes()),
            SigningAlgorithm::RS256 => EncodingKey::from_rsa_pem(private_pem.as_bytes()),
        }
        .unwrap();
        Self {
            jwk,
            kid: kid.to_owned(),
            private_pem,
            encoding,
            alg,
        }
    }

    /// The registration body of the management API.
    pub fn registration(&self) -> Value {
        json!({ "jwk": self.jwk })
    }

    /// `claims` signed with this key, its kid in the header.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        self.sign_with(&header, claims)
    }

    /// `claims` signed with this key under `header`, as it is.
    pub fn sign_with(&self, header: &Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, &self.encoding).unwrap()
    }

    /// A DPoP proof's header (RFC 9449 §4.2): its type and this public key.
    pub fn dpop_header(&self) -> Header {
        let mut header = Header::new(self.alg);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(serde_json::from_value(self.jwk.clone()).unwrap());
        header
    }

    /// A fresh DPoP proof of a `htm` request to `htu`, with `extra` claims
    /// (such as `ath` or `nonce`) added.
    pub fn dpop_proof(&self, htm: &str, htu: &str, extra: Value) -> String {
        let mut claims = dpop_claims(htm, htu);
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap_or_default());
        self.sign_with(&self.dpop_header(), &claims)
    }

    /// The RFC 7638 thumbprint of the public key: a bound token's `cnf.jkt`.
    pub fn thumbprint(&self) -> String {
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(self.jwk.clone()).unwrap();
        jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
    }

    /// A fresh assertion of `client_id` for `audience`, valid for a minute.
    pub fn assertion(&self, client_id: &str, audience: &str) -> String {
        self.sign(&assertion_claims(client_id, audience))
    }
}

/// The claims of a good assertion: iss = sub = the client, a new jti.
pub fn assertion_claims(client_id: &str, audience: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + 60,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

/// The claims of a good DPoP proof: a new jti, issued now.
pub fn dpop_claims(htm: &str, htu: &str) -> Value {
    json!({
        "jti": uuid::Uuid::new_v4().to_string(),
        "htm": htm,
        "htu": htu,
        "iat": chrono::Utc::now().timestamp(),
    })
}

/// A DPoP proof's `ath`: the access token's SHA-256, base64url.
pub fn access_token_hash(token: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(token))
}

/// The management API's path of `client`'s registered keys.
pub fn keys_path(client: &TestClient) -> String {
    format!(
        "/admin/v1/orgs/{}/clients/{}/keys",
        client.org_id, client.id
    )
}

/// Registers the key in `body` for `client`, as root.
pub async fn register(app: &TestApp, client: &TestClient, body: Value) -> (u16, Value) {
    app.admin(Method::POST, &keys_path(client), ROOT_TOKEN, Some(body))
        .await
}

/// A client with `key` registered through the management API.
pub async fn client_with_key(app: &TestApp, key: &ClientKeyPair) -> TestClient {
    let client = app.create_client(&["payouts:read"], &[]).await;
    let (status, body) = register(app, &client, key.registration()).await;
    assert_eq!(status, 201, "{body}");
    client
}
