//! A stand-in Keyward for the guard's tests: keys that sign tokens the way
//! Keyward does (with aws-lc-rs, not the guard's own JWT library), and an
//! issuer that serves metadata and a JWKS and counts the fetches.

#![allow(dead_code)]

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::{web, App, HttpResponse, HttpServer};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

pub const AUDIENCE: &str = "https://api.example.test";

pub enum SigningKey {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

pub struct TestKey {
    pub kid: String,
    key: SigningKey,
}

impl TestKey {
    pub fn es256(kid: &str) -> Self {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        Self {
            kid: kid.into(),
            key: SigningKey::Es256(key),
        }
    }

    pub fn eddsa(kid: &str) -> Self {
        let key = Ed25519KeyPair::generate().unwrap();
        Self {
            kid: kid.into(),
            key: SigningKey::EdDsa(key),
        }
    }

    pub fn alg(&self) -> &'static str {
        match self.key {
            SigningKey::Es256(_) => "ES256",
            SigningKey::EdDsa(_) => "EdDSA",
        }
    }

    /// The public JWK, as Keyward publishes it.
    pub fn jwk(&self) -> Value {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        match &self.key {
            SigningKey::Es256(key) => {
                // Uncompressed point: 0x04, x, y.
                let point = key.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..]),
                       "kid": self.kid, "alg": "ES256", "use": "sig"})
            }
            SigningKey::EdDsa(key) => json!({"kty": "OKP", "crv": "Ed25519",
                "x": b64(key.public_key().as_ref()), "kid": self.kid, "alg": "EdDSA", "use": "sig"}),
        }
    }

    /// A compact JWS of `claims` under `header`.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = match &self.key {
            SigningKey::Es256(key) => key
                .sign(&SystemRandom::new(), input.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec(),
            SigningKey::EdDsa(key) => key.sign(input.as_bytes()).as_ref().to_vec(),
        };
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// A DPoP proof of this key for a `htm` request to `htu` with `token`,
    /// with `changes` applied to its claims.
    pub fn dpop_proof(&self, htm: &str, htu: &str, token: &str, changes: Value) -> String {
        static PROOFS: AtomicUsize = AtomicUsize::new(0);
        let jti = format!("proof-{}", PROOFS.fetch_add(1, Ordering::SeqCst));
        let ath = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            token.as_bytes(),
        ));
        let mut claims = json!({"jti": jti, "htm": htm, "htu": htu, "iat": now(), "ath": ath});
        for (name, value) in changes.as_object().unwrap() {
            claims[name] = value.clone();
        }
        let header = json!({"alg": self.alg(), "typ": "dpop+jwt", "jwk": self.jwk()});
        self.sign(&header, &claims)
    }

    /// The RFC 7638 thumbprint of the public key: a bound token's `cnf.jkt`.
    pub fn thumbprint(&self) -> String {
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(self.jwk()).unwrap();
        jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
    }

    /// Keyward's header for this key.
    pub fn header(&self) -> Value {
        json!({"alg": self.alg(), "typ": "at+jwt", "kid": self.kid})
    }

    /// An access token as Keyward issues one, with `changes` applied to its claims.
    pub fn token(&self, issuer: &str, scope: &str, changes: Value) -> String {
        let now = now();
        let mut claims = json!({
            "iss": issuer, "sub": "cl_1", "aud": AUDIENCE, "exp": now + 900, "iat": now,
            "nbf": now, "jti": "jti-1", "client_id": "cl_1", "org_id": "org_1", "scope": scope,
        });
        for (name, value) in changes.as_object().unwrap() {
            claims[name] = value.clone();
        }
        self.sign(&self.header(), &claims)
    }
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// What the stand-in publishes as its JWKS, and how often it was asked.
#[derive(Default)]
pub struct Published {
    pub jwks: Mutex<Value>,
    pub fetches: AtomicUsize,
    /// The JWKS endpoint answers 503 while set.
    pub down: AtomicBool,
}

impl Published {
    pub fn keys(&self, keys: &[&TestKey]) {
        let keys: Vec<Value> = keys.iter().map(|k| k.jwk()).collect();
        *self.jwks.lock().unwrap() = json!({"keys": keys});
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// Serves RFC 8414 metadata (issuer: its own base URL) and `published` as
/// the JWKS; returns the base URL.
pub fn issuer(published: Arc<Published>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let metadata = json!({"issuer": base, "jwks_uri": format!("{base}/jwks")});
    let server = HttpServer::new(move || {
        let (metadata, published) = (metadata.clone(), published.clone());
        App::new()
            .route(
                "/.well-known/oauth-authorization-server",
                web::get().to(move || {
                    let metadata = metadata.clone();
                    async move { HttpResponse::Ok().json(metadata) }
                }),
            )
            .route(
                "/jwks",
                web::get().to(move || {
                    published.fetches.fetch_add(1, Ordering::SeqCst);
                    let answer = match published.down.load(Ordering::SeqCst) {
                        true => HttpResponse::ServiceUnavailable().finish(),
                        false => HttpResponse::Ok().json(published.jwks.lock().unwrap().clone()),
                    };
                    async move { answer }
                }),
            )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    base
}
