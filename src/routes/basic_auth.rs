//! `Authorization: Basic` for OAuth clients (RFC 6749 §2.3.1): the id and
//! secret are form-urlencoded before they are joined and base64-encoded.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::form::decode_component;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BasicAuthError {
    #[error("the Authorization header is not of the Basic scheme")]
    NotBasic,
    #[error("malformed Basic credentials")]
    Malformed,
}

/// The client id and secret of a Basic header value.
pub fn parse_basic(header: &[u8]) -> Result<(String, String), BasicAuthError> {
    let header = std::str::from_utf8(header).map_err(|_| BasicAuthError::Malformed)?;
    let (scheme, rest) = header.split_once(' ').ok_or(BasicAuthError::NotBasic)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(BasicAuthError::NotBasic);
    }
    let decoded = STANDARD
        .decode(rest.trim())
        .map_err(|_| BasicAuthError::Malformed)?;
    let decoded = String::from_utf8(decoded).map_err(|_| BasicAuthError::Malformed)?;
    let (id, secret) = decoded.split_once(':').ok_or(BasicAuthError::Malformed)?;
    let id = decode_component(id).ok_or(BasicAuthError::Malformed)?;
    let secret = decode_component(secret).ok_or(BasicAuthError::Malformed)?;
    if id.is_empty() {
        return Err(BasicAuthError::Malformed);
    }
    Ok((id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(id: &str, secret: &str) -> String {
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
        )
    }

    #[test]
    fn decodes_form_urlencoded_parts() {
        let header = format!("basic {}", STANDARD.encode("a%3Ab:c+d%25"));
        assert_eq!(
            parse_basic(header.as_bytes()),
            Ok(("a:b".into(), "c d%".into()))
        );
    }

    #[test]
    fn rejects_broken_headers() {
        assert_eq!(parse_basic(b"Bearer abc"), Err(BasicAuthError::NotBasic));
        assert_eq!(parse_basic(b"Basic"), Err(BasicAuthError::NotBasic));
        assert_eq!(parse_basic(b"Basic !!!"), Err(BasicAuthError::Malformed));
        let no_colon = format!("Basic {}", STANDARD.encode("abc"));
        assert_eq!(
            parse_basic(no_colon.as_bytes()),
            Err(BasicAuthError::Malformed)
        );
        let bad_utf8 = format!("Basic {}", STANDARD.encode([0xff, b':', b'x']));
        assert_eq!(
            parse_basic(bad_utf8.as_bytes()),
            Err(BasicAuthError::Malformed)
        );
        let bad_pct = format!("Basic {}", STANDARD.encode("a:%zz"));
        assert_eq!(
            parse_basic(bad_pct.as_bytes()),
            Err(BasicAuthError::Malformed)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]

        #[test]
        fn any_decoded_value_is_credentials_or_malformed(decoded in prop::collection::vec(any::<u8>(), 0..80)) {
            let header = format!("Basic {}", STANDARD.encode(&decoded));
            match parse_basic(header.as_bytes()) {
                Ok((id, _)) => {
                    prop_assert!(!id.is_empty());
                    prop_assert!(decoded.contains(&b':'));
                }
                Err(e) => prop_assert_eq!(e, BasicAuthError::Malformed),
            }
        }

        #[test]
        fn other_schemes_are_not_basic(scheme in "[A-Za-z]{1,10}", rest in "[ -~]{0,40}") {
            prop_assume!(!scheme.eq_ignore_ascii_case("basic"));
            let header = format!("{scheme} {rest}");
            prop_assert_eq!(parse_basic(header.as_bytes()), Err(BasicAuthError::NotBasic));
        }

        #[test]
        fn round_trips_any_credentials(id in "\\PC{1,30}", secret in "\\PC{0,60}") {
            let header = encode(&id, &secret);
            prop_assert_eq!(parse_basic(header.as_bytes()), Ok((id, secret)));
        }

        #[test]
        fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_basic(&bytes);
        }
    }
}
