//! What a verified Keyward access token says (RFC 9068 §2.2 and Keyward's
//! own `client_id`, `org_id`, `scope` and `cnf`), or what Keyward said of
//! an API key, in the same shape.

use serde::{Deserialize, Deserializer};

/// The claims of a token that passed every check. The middleware puts them
/// in the request's extensions, for handlers to read as
/// `web::ReqData<Claims>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The client the token was issued to (`client_id` too).
    pub sub: String,
    /// Every resource identifier the token is for; one of them is ours.
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: Option<i64>,
    pub nbf: Option<i64>,
    pub jti: Option<String>,
    pub client_id: Option<String>,
    pub org_id: Option<String>,
    /// Space-separated and already expanded (`X:write` brings `X:read`).
    #[serde(default)]
    pub scope: String,
    /// Present when the token is bound to a key (DPoP, RFC 9449 §6).
    pub cnf: Option<Confirmation>,
    /// Set when the credential was an API key: its id (`ak_…`), also in
    /// `sub`. Such claims have no `aud`, and `exp` is the key's expiry
    /// (`i64::MAX` when it has none).
    #[serde(skip)]
    pub key_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Confirmation {
    /// The SHA-256 thumbprint of the key the token is bound to.
    pub jkt: String,
}

impl Claims {
    /// The claims of an API key Keyward found valid.
    pub(crate) fn of_api_key(
        key_id: String,
        org_id: String,
        scope: String,
        issuer: &str,
        expires_at: Option<i64>,
    ) -> Self {
        Self {
            iss: issuer.to_owned(),
            sub: key_id.clone(),
            aud: Vec::new(),
            exp: expires_at.unwrap_or(i64::MAX),
            iat: None,
            nbf: None,
            jti: None,
            client_id: None,
            org_id: Some(org_id),
            scope,
            cnf: None,
            key_id: Some(key_id),
        }
    }

    /// The granted scopes, one at a time.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_whitespace()
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}
