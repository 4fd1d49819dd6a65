//! Input fields parsed into domain types, each refusal naming its field as
//! the management API's JSON does.

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::clients::KeyRegistration;
use super::ManagementError;
use crate::domain::api_key::MAX_METADATA_BYTES;
use crate::domain::bounds;
use crate::domain::{
    Audience, AuthMethod, ClientKeys, ImportedSecret, IpAllowlist, MailAddress, Name, Plan,
    PublicJwk, ScopeSet,
};

type Parsed<T> = Result<T, ManagementError>;

pub fn name(raw: &str) -> Parsed<Name> {
    Name::parse(raw).map_err(|e| ManagementError::invalid("name", e))
}

pub fn plan(raw: &str) -> Parsed<Plan> {
    raw.parse().map_err(|e| ManagementError::invalid("plan", e))
}

pub fn notification_email(raw: &str) -> Parsed<MailAddress> {
    MailAddress::parse(raw).map_err(|e| ManagementError::invalid("notification_email", e))
}

/// At least one scope.
pub fn scopes(list: &[String]) -> Parsed<ScopeSet> {
    let set = ScopeSet::from_strs(list.iter().map(String::as_str))
        .map_err(|e| ManagementError::invalid("scopes", e))?;
    if set.is_empty() {
        return Err(ManagementError::invalid(
            "scopes",
            "at least one scope is needed",
        ));
    }
    Ok(set)
}

/// Audiences without repeats, in the order given.
pub fn audiences(list: &[String]) -> Parsed<Vec<Audience>> {
    let mut out = Vec::new();
    for raw in list {
        let audience =
            Audience::parse(raw).map_err(|e| ManagementError::invalid("audiences", e))?;
        if !out.contains(&audience) {
            out.push(audience);
        }
    }
    Ok(out)
}

/// An expiry: in the future, within 100 years.
pub fn expiry(at: Option<chrono::DateTime<chrono::Utc>>, now: i64) -> Parsed<Option<i64>> {
    at.map(|t| bounds::expiry(t.timestamp(), now))
        .transpose()
        .map_err(|e| ManagementError::invalid("expires_at", e))
}

/// A credential's own rate, between 1 and `max` (the
/// `max_rate_limit_per_minute` setting).
pub fn rate_limit(value: u32, max: u32) -> Parsed<u32> {
    if !(1..=max).contains(&value) {
        return Err(ManagementError::invalid(
            "rate_limit_per_minute",
            format!("must be between 1 and {max}"),
        ));
    }
    Ok(value)
}

pub fn allowlist(list: &[String]) -> Parsed<IpAllowlist> {
    IpAllowlist::parse(list.iter().map(String::as_str))
        .map_err(|e| ManagementError::invalid("ip_allowlist", e))
}

pub fn metadata(map: Option<Map<String, Value>>) -> Parsed<Map<String, Value>> {
    let map = map.unwrap_or_default();
    let size = Value::Object(map.clone()).to_string().len();
    if size > MAX_METADATA_BYTES {
        return Err(ManagementError::invalid(
            "metadata",
            format!("must be at most {MAX_METADATA_BYTES} bytes of JSON"),
        ));
    }
    Ok(map)
}

/// A `client_secret` brought from another server, if one was given.
pub fn auth_method(raw: Option<&str>) -> Parsed<Option<AuthMethod>> {
    raw.map(|raw| {
        AuthMethod::parse(raw).ok_or_else(|| {
            ManagementError::invalid(
                "token_endpoint_auth_method",
                "must be client_secret_basic, client_secret_post or private_key_jwt",
            )
        })
    })
    .transpose()
}

/// One public key: a JWK, or a PEM `PUBLIC KEY` with an optional kid.
pub fn public_key(registration: &KeyRegistration) -> Parsed<PublicJwk> {
    let invalid = |e: crate::domain::JwkError| ManagementError::invalid("public_key", e);
    match (&registration.jwk, &registration.pem) {
        (Some(jwk), None) => {
            if registration.kid.is_some() {
                return Err(ManagementError::invalid(
                    "kid",
                    "a JWK names its kid inside; kid goes with pem",
                ));
            }
            PublicJwk::from_json(jwk).map_err(invalid)
        }
        (None, Some(pem)) => PublicJwk::from_pem(pem, registration.kid.clone()).map_err(invalid),
        _ => Err(ManagementError::invalid(
            "public_key",
            "give exactly one of jwk and pem",
        )),
    }
}

pub fn client_keys(list: &[KeyRegistration]) -> Parsed<ClientKeys> {
    let mut keys = ClientKeys::default();
    for registration in list {
        keys.add(public_key(registration)?)
            .map_err(|e| ManagementError::invalid("public_keys", e))?;
    }
    Ok(keys)
}

pub fn imported_secret(raw: Option<&SecretString>) -> Parsed<Option<ImportedSecret>> {
    raw.map(|secret| ImportedSecret::parse(secret.expose_secret()))
        .transpose()
        .map_err(|e| ManagementError::invalid("client_secret", e))
}

/// `7d`, `12h`, `30m` or `45s` as seconds, at most 100 years.
pub fn duration(field: &'static str, raw: &str) -> Parsed<i64> {
    bounds::Duration::parse(raw)
        .map(bounds::Duration::seconds)
        .map_err(|e| ManagementError::invalid(field, e))
}

/// How long a rolled key or a rotated secret keeps working; a day unless given.
pub fn grace_period(seconds: Option<i64>) -> Parsed<i64> {
    let grace = match seconds {
        None => bounds::GracePeriod::DEFAULT,
        Some(seconds) => bounds::GracePeriod::from_seconds(seconds)
            .map_err(|e| ManagementError::invalid("grace_period_seconds", e))?,
    };
    Ok(grace.seconds())
}

/// For `#[serde(default, deserialize_with = ...)]` on an `Option<Option<T>>`:
/// tells a field given as `null` (`Some(None)`) from one left out (`None`).
pub fn present<'de, T, D>(deserializer: D) -> Result<Option<T>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_multibyte_unit_is_a_bad_duration_not_a_panic() {
        for raw in [
            "7é",
            "é",
            "1日",
            "",
            "d",
            "0d",
            "-1d",
            "9223372036854775807d",
        ] {
            let refused = duration("expiring_within", raw).unwrap_err();
            assert!(
                matches!(
                    refused,
                    ManagementError::InvalidField {
                        field: "expiring_within",
                        ..
                    }
                ),
                "{raw:?}"
            );
        }
        assert_eq!(duration("x", "7d").unwrap(), 7 * 86_400);
        assert_eq!(duration("x", "45s").unwrap(), 45);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4_000))]

        #[test]
        fn durations_never_panic(raw in "\\PC{0,12}") {
            if let Ok(seconds) = duration("expiring_within", &raw) {
                prop_assert!(seconds > 0);
            }
        }

        #[test]
        fn durations_round_trip(n in 1i64..=36_500, unit in "[dhms]") {
            let scale = match unit.as_str() { "d" => 86_400, "h" => 3_600, "m" => 60, _ => 1 };
            prop_assert_eq!(duration("x", &format!("{n}{unit}")).unwrap(), n * scale);
        }
    }
}
