//! Strict `application/x-www-form-urlencoded` decoding: invalid UTF-8 after
//! percent-decoding is an error rather than a replacement character.

use percent_encoding::percent_decode_str;

/// Decodes one name or value: `+` is a space, `%XX` a byte.
pub fn decode_component(raw: &str) -> Option<String> {
    if has_bad_escape(raw) {
        return None;
    }
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

fn has_bad_escape(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

/// Every `name=value` pair of a body, in order; `None` if any part is malformed.
pub fn parse_pairs(body: &str) -> Option<Vec<(String, String)>> {
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode_component(name)?, decode_component(value)?))
        })
        .collect()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(in crate::routes) fn encode(s: &str) -> String {
        form_urlencoded::byte_serialize(s.as_bytes()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]

        #[test]
        fn components_round_trip(raw in "\\PC{0,40}") {
            prop_assert_eq!(decode_component(&encode(&raw)), Some(raw));
        }

        #[test]
        fn pairs_round_trip(pairs in prop::collection::vec(("\\PC{1,10}", "\\PC{0,10}"), 0..6)) {
            let body = pairs
                .iter()
                .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
                .collect::<Vec<_>>()
                .join("&");
            prop_assert_eq!(parse_pairs(&body), Some(pairs));
        }

        #[test]
        fn any_body_decodes_or_is_refused(body in "[a-z=&+%0-9A-Fa-f]{0,40}|\\PC{0,40}") {
            if let Some(pairs) = parse_pairs(&body) {
                prop_assert!(pairs.len() <= body.split('&').count());
            }
        }

        #[test]
        fn a_bad_escape_is_refused(prefix in "[a-z]{0,5}", tail in "[g-z%]?") {
            prop_assert_eq!(decode_component(&format!("{prefix}%{tail}")), None);
        }
    }

    #[test]
    fn decodes_pairs() {
        assert_eq!(
            parse_pairs("a=b+c&d=%2F&&e").unwrap(),
            vec![
                ("a".into(), "b c".into()),
                ("d".into(), "/".into()),
                ("e".into(), "".into())
            ]
        );
    }

    #[test]
    fn rejects_bad_escapes_and_bytes() {
        assert!(parse_pairs("a=%zz").is_none());
        assert!(parse_pairs("a=%f").is_none());
        assert!(parse_pairs("a=%ff").is_none());
    }
}
