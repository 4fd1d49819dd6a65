//! API keys: `kw_<id>_<secret><checksum>`.
//!
//! - `id`: 16 base62 characters, the public key id (`ak_<id>` in the API);
//! - `secret`: 43 base62 characters from the OS CSPRNG (256 bits);
//! - `checksum`: CRC32 of everything before it, as 6 base62 digits, so that
//!   secret scanners can recognise a key and a mistyped one is refused
//!   before any lookup.

use std::fmt;

use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};

use super::ip_allowlist::IpAllowlist;
use super::organisation::{Name, OrgId, Plan};
use super::scope::ScopeSet;

pub const KEY_PREFIX: &str = "kw_";
const ID_LEN: usize = 16;
const SECRET_LEN: usize = 43;
const CHECKSUM_LEN: usize = 6;
/// `kw_` + id + `_` + secret + checksum.
pub const KEY_LEN: usize = KEY_PREFIX.len() + ID_LEN + 1 + SECRET_LEN + CHECKSUM_LEN;
/// For secret scanners; README documents it.
pub const KEY_REGEX: &str = r"\bkw_[0-9A-Za-z]{16}_[0-9A-Za-z]{49}\b";

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApiKeyId(String);

impl ApiKeyId {
    const PREFIX: &'static str = "ak_";

    pub fn parse(raw: &str) -> Result<Self, InvalidApiKey> {
        let part = raw.strip_prefix(Self::PREFIX).ok_or(InvalidApiKey)?;
        Self::from_part(part)
    }

    fn from_part(part: &str) -> Result<Self, InvalidApiKey> {
        (part.len() == ID_LEN && part.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| Self(format!("{}{part}", Self::PREFIX)))
            .ok_or(InvalidApiKey)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The start of every key with this id: enough to recognise it, nothing secret.
    pub fn key_prefix(&self) -> String {
        format!("{KEY_PREFIX}{}", &self.0[Self::PREFIX.len()..])
    }
}

impl fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an API key of this server")]
pub struct InvalidApiKey;

/// A whole API key as presented or generated; its `Debug` is redacted.
#[derive(Debug, Clone)]
pub struct ApiKeySecret {
    id: ApiKeyId,
    key: SecretString,
}

impl ApiKeySecret {
    pub fn generate() -> Self {
        let mut rng = OsRng;
        let id = Alphanumeric.sample_string(&mut rng, ID_LEN);
        let secret = Alphanumeric.sample_string(&mut rng, SECRET_LEN);
        let body = format!("{KEY_PREFIX}{id}_{secret}");
        let key = format!("{body}{}", checksum(&body));
        Self {
            id: ApiKeyId::from_part(&id).expect("generated ids are well formed"),
            key: key.into(),
        }
    }

    /// Checks the shape and the checksum; no lookup is needed to refuse a typo.
    pub fn parse(raw: &str) -> Result<Self, InvalidApiKey> {
        if raw.len() != KEY_LEN || !raw.is_ascii() {
            return Err(InvalidApiKey);
        }
        let (body, sum) = raw.split_at(KEY_LEN - CHECKSUM_LEN);
        let id_part = body
            .strip_prefix(KEY_PREFIX)
            .and_then(|rest| rest.split_once('_'))
            .filter(|(id, secret)| {
                secret.len() == SECRET_LEN
                    && secret.bytes().all(|b| b.is_ascii_alphanumeric())
                    && id.len() == ID_LEN
            })
            .map(|(id, _)| id)
            .ok_or(InvalidApiKey)?;
        if checksum(body) != sum {
            return Err(InvalidApiKey);
        }
        Ok(Self {
            id: ApiKeyId::from_part(id_part)?,
            key: raw.to_owned().into(),
        })
    }

    /// Whether `raw` looks like one of our keys at all, before checking it.
    pub fn has_key_shape(raw: &str) -> bool {
        raw.starts_with(KEY_PREFIX) && raw.len() == KEY_LEN
    }

    pub fn id(&self) -> &ApiKeyId {
        &self.id
    }

    pub fn expose(&self) -> &str {
        self.key.expose_secret()
    }
}

/// CRC32 of `body` as exactly six base62 digits (62^6 > 2^32).
fn checksum(body: &str) -> String {
    let mut n = crc32fast::hash(body.as_bytes()) as u64;
    let mut digits = [b'0'; CHECKSUM_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(digits.to_vec()).expect("base62 digits are ASCII")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyStatus {
    Active,
    Deactivated,
}

impl ApiKeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKeyStatus::Active => "active",
            ApiKeyStatus::Deactivated => "deactivated",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(ApiKeyStatus::Active),
            "deactivated" => Some(ApiKeyStatus::Deactivated),
            _ => None,
        }
    }
}

pub const DEFAULT_KEY_RATE_LIMIT: u32 = 60;
pub const MAX_METADATA_BYTES: usize = 4096;

/// An API key as stored, without its hash.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub org_id: OrgId,
    pub name: Name,
    pub scopes: ScopeSet,
    pub status: ApiKeyStatus,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: Option<i64>,
    /// Its own limit; `None` follows its scopes' tier, else the default.
    pub rate_limit_per_minute: Option<u32>,
    pub ip_allowlist: IpAllowlist,
    /// A JSON object of at most `MAX_METADATA_BYTES`.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub last_used_at: Option<i64>,
    pub request_count: i64,
}

impl ApiKey {
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// `active`, `deactivated` or `expired`, as the management API shows it.
    pub fn display_status(&self, now: i64) -> &'static str {
        match self.status {
            ApiKeyStatus::Deactivated => "deactivated",
            ApiKeyStatus::Active if self.is_expired(now) => "expired",
            ApiKeyStatus::Active => "active",
        }
    }
}

/// What a key check needs: the key, its organisation's plan and its hash.
#[derive(Clone)]
pub struct ApiKeyCredentials {
    pub key: ApiKey,
    pub plan: Plan,
    pub phc: String,
}

impl fmt::Debug for ApiKeyCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyCredentials")
            .field("key", &self.key)
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_keys_parse_back() {
        let key = ApiKeySecret::generate();
        assert_eq!(key.expose().len(), KEY_LEN);
        let parsed = ApiKeySecret::parse(key.expose()).unwrap();
        assert_eq!(parsed.id(), key.id());
        assert!(key.expose().starts_with(&key.id().key_prefix()));
        assert_eq!(ApiKeyId::parse(key.id().as_str()).unwrap(), *key.id());
        assert!(!format!("{key:?}").contains(key.expose()));
    }

    #[test]
    fn the_regex_documents_the_format() {
        let key = ApiKeySecret::generate();
        let re = KEY_REGEX.trim_start_matches(r"\b").trim_end_matches(r"\b");
        let (prefix, rest) = re.split_once("_[").unwrap();
        assert_eq!(prefix, "kw");
        assert!(rest.starts_with("0-9A-Za-z]{16}_[0-9A-Za-z]{49}"));
        assert_eq!(KEY_LEN, 3 + 16 + 1 + 49);
        assert_eq!(key.expose().as_bytes()[3 + 16], b'_');
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]

        #[test]
        fn keys_of_any_id_and_secret_round_trip(id in "[0-9A-Za-z]{16}", secret in "[0-9A-Za-z]{43}") {
            let body = format!("{KEY_PREFIX}{id}_{secret}");
            let key = format!("{body}{}", checksum(&body));
            let parsed = ApiKeySecret::parse(&key).unwrap();
            prop_assert_eq!(parsed.id().as_str(), format!("ak_{id}"));
            prop_assert_eq!(parsed.expose(), key.as_str());
            prop_assert!(ApiKeySecret::has_key_shape(&key));
        }

        #[test]
        fn a_wrong_checksum_is_refused(id in "[0-9A-Za-z]{16}", secret in "[0-9A-Za-z]{43}", sum in "[0-9A-Za-z]{6}") {
            let body = format!("{KEY_PREFIX}{id}_{secret}");
            prop_assume!(sum != checksum(&body));
            prop_assert_eq!(ApiKeySecret::parse(&format!("{body}{sum}")).unwrap_err(), InvalidApiKey);
        }

        #[test]
        fn key_shaped_garbage_never_parses(raw in "kw_[ -~\\PC]{66}") {
            prop_assert!(ApiKeySecret::parse(&raw).is_err());
        }

        #[test]
        fn ids_parse_only_in_their_own_shape(raw in "(ak_)?[0-9A-Za-z_é]{0,20}") {
            if let Ok(id) = ApiKeyId::parse(&raw) {
                prop_assert_eq!(id.as_str(), raw.as_str());
                prop_assert_eq!(raw.len(), 3 + ID_LEN);
                prop_assert!(id.key_prefix().starts_with(KEY_PREFIX));
            }
        }

        #[test]
        fn any_single_change_is_refused(pos in 0..KEY_LEN, replacement in "[0-9A-Za-z_]") {
            let key = ApiKeySecret::generate();
            let mut raw = key.expose().to_owned();
            let original = raw.as_bytes()[pos] as char;
            let replacement = replacement.chars().next().unwrap();
            prop_assume!(original != replacement);
            raw.replace_range(pos..pos + 1, &replacement.to_string());
            prop_assert!(ApiKeySecret::parse(&raw).is_err());
        }

        #[test]
        fn garbage_never_parses(raw in ".{0,80}") {
            prop_assert!(ApiKeySecret::parse(&raw).is_err());
        }
    }
}
