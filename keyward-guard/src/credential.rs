//! Which credential a request presents. `Authorization: Bearer <token>`
//! carries an access token (or an API key, recognised by Keyward's `kw_`
//! prefix); a bare `Authorization: <key>` or `X-API-KEY: <key>` carries an
//! API key. When a request sends both, `Authorization` wins.
//! `Authorization: DPoP <token>` carries a DPoP-bound access token (RFC 9449 §7).

/// The header API keys may also come in.
pub const X_API_KEY: &str = "x-api-key";

const API_KEY_PREFIX: &str = "kw_";

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    AccessToken(&'a str),
    ApiKey(&'a str),
    /// An access token under the DPoP scheme; good only with its proof.
    DpopToken(&'a str),
}

impl std::fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::AccessToken(_) => "AccessToken(..)",
            Self::ApiKey(_) => "ApiKey(..)",
            Self::DpopToken(_) => "DpopToken(..)",
        })
    }
}

impl<'a> Credential<'a> {
    /// The credential of a request with these `Authorization` and
    /// `X-API-KEY` header values; `None` when neither holds one (another
    /// scheme, such as Basic, is not ours).
    pub fn find(authorization: Option<&'a str>, x_api_key: Option<&'a str>) -> Option<Self> {
        authorization
            .and_then(Self::from_authorization)
            .or_else(|| Some(Self::ApiKey(non_empty(x_api_key?)?)))
    }

    fn from_authorization(value: &'a str) -> Option<Self> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("bearer") || value.eq_ignore_ascii_case("dpop") {
            return None;
        }
        match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                let token = non_empty(token)?;
                Some(match token.starts_with(API_KEY_PREFIX) {
                    true => Self::ApiKey(token),
                    false => Self::AccessToken(token),
                })
            }
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("dpop") => {
                Some(Self::DpopToken(non_empty(token)?))
            }
            Some(_) => None,
            None => Some(Self::ApiKey(non_empty(value)?)),
        }
    }
}

/// A header value's bytes as text, for [`Credential::find`] and the DPoP
/// proofs. Credentials are ASCII, so a value that is not UTF-8 holds none;
/// UTF-8 is checked a word at a time, where the header types' own `to_str`
/// checks byte by byte, a cost every request pays for a 700-byte token.
pub(crate) fn header_text(value: &[u8]) -> Option<&str> {
    std::str::from_utf8(value).ok()
}

fn non_empty(value: &str) -> Option<&str> {
    let value = value.trim();
    (!value.is_empty()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::Credential::{self, AccessToken, ApiKey, DpopToken};

    fn find(
        authorization: Option<&'static str>,
        x_api_key: Option<&'static str>,
    ) -> Option<Credential<'static>> {
        Credential::find(authorization, x_api_key)
    }

    #[test]
    fn bearer_carries_an_access_token() {
        assert_eq!(
            find(Some("Bearer eyJ.a.b"), None),
            Some(AccessToken("eyJ.a.b"))
        );
        assert_eq!(
            find(Some("bearer  eyJ.a.b "), None),
            Some(AccessToken("eyJ.a.b"))
        );
        assert_eq!(find(Some("Bearer kw_key"), None), Some(ApiKey("kw_key")));
        assert_eq!(find(Some("Bearer "), None), None);
    }

    #[test]
    fn api_keys_come_bare_or_in_x_api_key() {
        assert_eq!(find(Some("kw_key"), None), Some(ApiKey("kw_key")));
        assert_eq!(find(None, Some("kw_key")), Some(ApiKey("kw_key")));
        assert_eq!(find(None, Some(" ")), None);
        assert_eq!(find(None, None), None);
    }

    #[test]
    fn authorization_wins_over_x_api_key() {
        assert_eq!(
            find(Some("Bearer eyJ.a.b"), Some("kw_other")),
            Some(AccessToken("eyJ.a.b"))
        );
        assert_eq!(
            find(Some("kw_key"), Some("kw_other")),
            Some(ApiKey("kw_key"))
        );
    }

    #[test]
    fn dpop_carries_a_bound_access_token() {
        assert_eq!(
            find(Some("DPoP eyJ.a.b"), Some("kw_other")),
            Some(DpopToken("eyJ.a.b"))
        );
        assert_eq!(
            find(Some("dpop  eyJ.a.b "), None),
            Some(DpopToken("eyJ.a.b"))
        );
        assert_eq!(find(Some("DPoP "), None), None);
        assert_eq!(format!("{:?}", DpopToken("eyJ.secret")), "DpopToken(..)");
    }

    #[test]
    fn other_schemes_are_not_ours() {
        assert_eq!(find(Some("Basic dXNlcjpwYXNz"), None), None);
        assert_eq!(
            find(Some("Basic dXNlcjpwYXNz"), Some("kw_key")),
            Some(ApiKey("kw_key"))
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        assert_eq!(
            format!("{:?}", AccessToken("eyJ.secret")),
            "AccessToken(..)"
        );
    }
}
