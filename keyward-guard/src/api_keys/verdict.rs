//! What `/v1/keys/verify` answers, and the guard's judgement of it.

use serde::Deserialize;

use crate::{Claims, Denial};

#[derive(Deserialize)]
pub(crate) struct VerifyAnswer {
    code: String,
    key_id: Option<String>,
    org_id: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    expires_at: Option<String>,
    required: Option<String>,
    actual: Option<String>,
    ratelimit: Option<RateLimit>,
}

#[derive(Deserialize)]
struct RateLimit {
    remaining: u32,
}

impl VerifyAnswer {
    /// `VALID` gives the key's claims and how many more requests the
    /// verdict may serve (unbounded when Keyward applied no limit); any
    /// other code gives the denial.
    pub(crate) fn judge(
        self,
        issuer: &str,
        rate_headers: Vec<(String, String)>,
    ) -> Result<(Claims, u32), Denial> {
        let scope = self.scopes.join(" ");
        match self.code.as_str() {
            "VALID" => {
                let (Some(key_id), Some(org_id)) = (self.key_id, self.org_id) else {
                    tracing::warn!("Keyward's VALID verdict named no key");
                    return Err(Denial::Unavailable);
                };
                let budget = self.ratelimit.map_or(u32::MAX, |r| r.remaining);
                let expires_at = self.expires_at.as_deref().and_then(unix_time);
                let claims = Claims::of_api_key(key_id, org_id, scope, issuer, expires_at);
                Ok((claims, budget))
            }
            "INSUFFICIENT_SCOPE" => Err(Denial::InsufficientScope {
                required: self.required.unwrap_or_default(),
                actual: self.actual.unwrap_or(scope),
            }),
            "RATE_LIMITED" => Err(Denial::RateLimited {
                headers: rate_headers,
            }),
            code => Err(Denial::InvalidToken(refusal(code))),
        }
    }
}

/// The description of a refused key: what its code says, no more.
fn refusal(code: &str) -> &'static str {
    match code {
        "DEACTIVATED" => "the API key is deactivated",
        "EXPIRED" => "the API key has expired",
        "IP_NOT_ALLOWED" => "the API key may not be used from this address",
        "API_ACCESS_NOT_AVAILABLE" => "the API key's organisation has no API access",
        _ => "the API key is not valid",
    }
}

fn unix_time(rfc3339: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn judge(answer: serde_json::Value) -> Result<(Claims, u32), Denial> {
        let headers = vec![("retry-after".to_owned(), "7".to_owned())];
        serde_json::from_value::<VerifyAnswer>(answer)
            .unwrap()
            .judge("https://keyward.example.test", headers)
    }

    #[test]
    fn a_valid_key_gives_its_claims_and_budget() {
        let (claims, budget) = judge(json!({
            "valid": true, "code": "VALID", "key_id": "ak_1", "org_id": "org_1",
            "scopes": ["payouts:read", "wallets:read"], "expires_at": "2027-01-01T00:00:00Z",
            "ratelimit": {"limit": 60, "remaining": 59, "reset": 1}
        }))
        .unwrap();
        assert_eq!(budget, 59);
        assert_eq!(claims.sub, "ak_1");
        assert_eq!(claims.key_id.as_deref(), Some("ak_1"));
        assert_eq!(claims.org_id.as_deref(), Some("org_1"));
        assert_eq!(claims.scope, "payouts:read wallets:read");
        assert_eq!(claims.exp, 1_798_761_600);
        assert_eq!(claims.iss, "https://keyward.example.test");
    }

    #[test]
    fn without_a_limit_the_budget_is_unbounded() {
        let answer =
            json!({"valid": true, "code": "VALID", "key_id": "ak_1", "org_id": "o", "scopes": []});
        let (claims, budget) = judge(answer).unwrap();
        assert_eq!(budget, u32::MAX);
        assert_eq!(claims.exp, i64::MAX);
    }

    #[test]
    fn refusals_map_to_rfc_6750_answers() {
        assert_eq!(
            judge(json!({"valid": false, "code": "NOT_FOUND"})).unwrap_err(),
            Denial::InvalidToken("the API key is not valid")
        );
        assert_eq!(
            judge(json!({"valid": false, "code": "DEACTIVATED", "key_id": "ak_1"})).unwrap_err(),
            Denial::InvalidToken("the API key is deactivated")
        );
        assert_eq!(
            judge(json!({"valid": false, "code": "SOMETHING_NEW"})).unwrap_err(),
            Denial::InvalidToken("the API key is not valid")
        );
        assert_eq!(
            judge(
                json!({"valid": false, "code": "INSUFFICIENT_SCOPE", "scopes": ["a:read"],
                "required": "payouts:read", "actual": "a:read"})
            )
            .unwrap_err(),
            Denial::InsufficientScope {
                required: "payouts:read".into(),
                actual: "a:read".into()
            }
        );
        assert_eq!(
            judge(json!({"valid": false, "code": "RATE_LIMITED", "retry_after": 7})).unwrap_err(),
            Denial::RateLimited {
                headers: vec![("retry-after".into(), "7".into())]
            }
        );
    }
}
