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
mod tests {
    use super::*;

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
