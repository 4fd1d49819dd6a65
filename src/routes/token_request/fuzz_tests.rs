//! Hostile token requests: any body, media type and Authorization header is
//! a request or an RFC 6749 §5.2 error with a 4xx status, never a panic.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use proptest::prelude::*;

use super::*;

const CASES: u32 = 3_000;
const ERROR_CODES: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_target",
];

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("application/x-www-form-urlencoded".to_owned())),
        Just(Some("application/json; charset=utf-8".to_owned())),
        "[ -~]{0,40}".prop_map(Some),
    ]
}

fn authorization() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        Just(None),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Some),
        "[ -~]{0,20}".prop_map(|s| Some(format!("Basic {}", STANDARD.encode(s)).into_bytes())),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let form_pair =
        "(grant_type|client_id|client_secret|scope|resource|audience|x)=[a-z:%/+_.0-9A-F*]{0,16}";
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..80),
        prop::collection::vec(form_pair, 0..6).prop_map(|pairs| pairs.join("&").into_bytes()),
        r#"\{("(grant_type|client_id|client_secret|scope|resource|audience)":(null|"[a-z:/._ ]{0,12}"|\["[a-z:/.]{0,12}"\]|[0-9]{1,3}),?){0,6}\}"#
            .prop_map(String::into_bytes),
    ]
}

fn form_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn any_request_is_parsed_or_a_client_error(
        content_type in content_type(),
        authorization in authorization(),
        body in body(),
    ) {
        let parsed = parse_token_request(content_type.as_deref(), authorization.as_deref(), &body);
        if let Err(e) = parsed {
            prop_assert!(ERROR_CODES.contains(&e.code.as_str()), "{}", e.code.as_str());
            prop_assert!(e.status.is_client_error());
        }
    }

    #[test]
    fn valid_form_requests_round_trip(
        id in "\\PC{1,20}",
        secret in "\\PC{1,30}",
        scope in prop::collection::vec("[a-z]{1,6}(:(read|write))?", 0..4),
        resource in prop::collection::vec("https://[a-z]{1,8}\\.test/[a-z]{0,5}", 0..3),
    ) {
        let mut body = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            form_encode(&id),
            form_encode(&secret)
        );
        if !scope.is_empty() {
            body.push_str(&format!("&scope={}", form_encode(&scope.join(" "))));
        }
        for r in &resource {
            body.push_str(&format!("&resource={}", form_encode(r)));
        }
        let parsed = parse_token_request(
            Some("application/x-www-form-urlencoded"),
            None,
            body.as_bytes(),
        )
        .unwrap();
        let PresentedProof::Secret { id: parsed_id, secret: parsed_secret, .. } = parsed.proof else {
            panic!("a secret was presented");
        };
        prop_assert_eq!(parsed_id, id);
        prop_assert_eq!(parsed_secret.expose(), secret.as_str());
        let expected_scope = ScopeSet::from_strs(scope.iter().map(String::as_str)).unwrap();
        prop_assert_eq!(parsed.request.scope.unwrap_or_default(), expected_scope);
        let mut distinct = resource.clone();
        distinct.sort();
        distinct.dedup();
        prop_assert_eq!(parsed.request.audiences.len(), distinct.len());
    }
}
