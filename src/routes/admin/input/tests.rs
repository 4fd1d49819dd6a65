//! Hostile input for the management API's readers: whatever arrives, the
//! answer is a 4xx problem naming what was wrong, never a panic.

use actix_web::test::TestRequest;
use proptest::prelude::*;
use serde::Deserialize;

use super::*;

/// Pure string parsers are cheap; cases that build a request cost more.
const CASES: u32 = 4_000;
const REQUEST_CASES: u32 = 1_000;

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Sample {
    name: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default, deserialize_with = "crate::management::fields::present")]
    expires_at: Option<Option<i64>>,
}

fn json_request(content_type: &str) -> HttpRequest {
    TestRequest::default()
        .insert_header((header::CONTENT_TYPE, content_type))
        .to_http_request()
}

#[test]
fn null_and_absent_are_told_apart() {
    let req = json_request("application/json");
    let absent: Sample = parse_json(&req, br#"{"name":"a"}"#).unwrap();
    let null: Sample = parse_json(&req, br#"{"name":"a","expires_at":null}"#).unwrap();
    assert_eq!(absent.expires_at, None);
    assert_eq!(null.expires_at, Some(None));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn any_cursor_is_a_page_or_a_400(cursor in "\\PC{0,40}", limit in "\\PC{0,6}") {
        let params = vec![("cursor".to_owned(), cursor), ("limit".to_owned(), limit)];
        match page_request(&params) {
            Ok(page) => prop_assert!((1..=MAX_PAGE).contains(&page.limit)),
            Err(problem) => prop_assert_eq!(problem.status, StatusCode::BAD_REQUEST),
        }
    }

    #[test]
    fn cursors_of_a_page_read_back(time in any::<i64>(), id in "[a-z0-9_:]{1,40}") {
        let cursor = URL_SAFE_NO_PAD.encode(format!("{time}:{id}"));
        let params = vec![("cursor".to_owned(), cursor)];
        prop_assert_eq!(page_request(&params).unwrap().after, Some((time, id)));
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(REQUEST_CASES))]

    #[test]
    fn any_query_string_is_parsed_or_refused(query in "[a-z%=&+0-9A-F]{0,40}") {
        let req = TestRequest::with_uri(&format!("/x?{query}")).to_http_request();
        match query_params(&req, &["limit", "cursor"]) {
            Ok(params) => prop_assert!(params.iter().all(|(n, _)| n == "limit" || n == "cursor")),
            Err(problem) => prop_assert_eq!(problem.status, StatusCode::BAD_REQUEST),
        }
    }

    #[test]
    fn any_body_is_parsed_or_a_400(body in prop::collection::vec(any::<u8>(), 0..64)) {
        let req = json_request("application/json");
        if let Err(problem) = parse_json::<Sample>(&req, &body) {
            prop_assert_eq!(problem.status, StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn json_shaped_bodies_are_parsed_or_a_400(
        body in r#"\{("(name|scopes|expires_at|x)":(null|"[a-z]{0,3}"|\[("a",?)*\]|-?[0-9]{1,20}|\{\}),?){0,4}\}"#
    ) {
        let req = json_request("application/json; charset=utf-8");
        match parse_json::<Sample>(&req, body.as_bytes()) {
            Ok(sample) => {
                let quoted_name = format!("\"{}\"", sample.name);
                prop_assert!(body.contains(&quoted_name));
            }
            Err(problem) => prop_assert_eq!(problem.status, StatusCode::BAD_REQUEST),
        }
    }

    #[test]
    fn other_media_types_are_415(content_type in "[ -~]{0,30}") {
        prop_assume!(media_type(Some(&content_type)).as_deref() != Some("application/json"));
        let req = json_request(&content_type);
        prop_assume!(req.headers().contains_key(header::CONTENT_TYPE));
        let problem = parse_json::<Sample>(&req, br#"{"name":"a"}"#).unwrap_err();
        prop_assert_eq!(problem.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
