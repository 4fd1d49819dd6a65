//! Every error of the token endpoint: status, exact RFC 6749 error code,
//! no token, no 5xx, no echo of a secret.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::RequestBuilder;

use crate::on_both_backends;
use crate::support::helpers::{spawn_app, Backend, API};

const WRONG_SECRET: &str = "kws_wrong-secret-that-must-never-be-echoed";

struct Case {
    name: &'static str,
    request: RequestBuilder,
    status: u16,
    error: &'static str,
}

async fn every_bad_request_gets_its_rfc6749_error(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.create_client(&["payouts:read"], &[API]).await;
    let token_url = app.url("/oauth/token");
    let post = || app.http.post(&token_url);
    let basic = || post().basic_auth(&client.id, Some(&client.secret));
    let form = |body: &str| {
        basic()
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body.to_owned())
    };
    let grant = "grant_type=client_credentials";
    let huge = format!("{grant}&scope={}", "a".repeat(17 * 1024));

    let cases = vec![
        Case {
            name: "wrong secret",
            request: post()
                .basic_auth(&client.id, Some(WRONG_SECRET))
                .form(&[("grant_type", "client_credentials")]),
            status: 401,
            error: "invalid_client",
        },
        Case {
            name: "unknown client",
            request: post()
                .basic_auth("cl_00000000000000000000000000000000", Some(WRONG_SECRET))
                .form(&[("grant_type", "client_credentials")]),
            status: 401,
            error: "invalid_client",
        },
        Case {
            name: "malformed client id",
            request: post()
                .basic_auth("nobody", Some(WRONG_SECRET))
                .form(&[("grant_type", "client_credentials")]),
            status: 401,
            error: "invalid_client",
        },
        Case {
            name: "no client authentication",
            request: post().form(&[("grant_type", "client_credentials")]),
            status: 401,
            error: "invalid_client",
        },
        Case {
            name: "client_id without secret",
            request: post().form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client.id.as_str()),
            ]),
            status: 401,
            error: "invalid_client",
        },
        Case {
            name: "bearer scheme",
            request: post()
                .bearer_auth("abc")
                .form(&[("grant_type", "client_credentials")]),
            status: 401,
            error: "invalid_client",
        },
        Case {
            name: "broken basic header",
            request: post()
                .header(AUTHORIZATION, "Basic !!!not-base64")
                .form(&[("grant_type", "client_credentials")]),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "basic and post together",
            request: basic().form(&[
                ("grant_type", "client_credentials"),
                ("client_secret", client.secret.as_str()),
            ]),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "basic with another client_id in body",
            request: basic().form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "cl_00000000000000000000000000000000"),
            ]),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "two authorization headers",
            request: basic()
                .header(AUTHORIZATION, "Basic YTpi")
                .form(&[("grant_type", "client_credentials")]),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "missing grant_type",
            request: form("scope=payouts:read"),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "unsupported grant",
            request: form("grant_type=password&username=a&password=b"),
            status: 400,
            error: "unsupported_grant_type",
        },
        Case {
            name: "scope not allowed",
            request: form(&format!("{grant}&scope=payouts:write")),
            status: 400,
            error: "invalid_scope",
        },
        Case {
            name: "malformed scope",
            request: form(&format!("{grant}&scope=%22quoted%22")),
            status: 400,
            error: "invalid_scope",
        },
        Case {
            name: "resource not allowed",
            request: form(&format!("{grant}&resource=https://evil.example.test")),
            status: 400,
            error: "invalid_target",
        },
        Case {
            name: "resource not a URI",
            request: form(&format!("{grant}&resource=not-a-uri")),
            status: 400,
            error: "invalid_target",
        },
        Case {
            name: "audience not allowed",
            request: form(&format!("{grant}&audience=elsewhere")),
            status: 400,
            error: "invalid_target",
        },
        Case {
            name: "resource and audience",
            request: form(&format!("{grant}&resource={API}&audience={API}")),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "duplicated parameter",
            request: form(&format!("{grant}&scope=payouts:read&scope=payouts:read")),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "duplicated grant_type",
            request: form(&format!("{grant}&{grant}")),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "non-UTF-8 body",
            request: basic()
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(vec![b'g', b'=', 0xff, 0xfe]),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "non-UTF-8 percent escape",
            request: form(&format!("{grant}&scope=%FF%FE")),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "bad percent escape",
            request: form(&format!("{grant}&scope=%zz")),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "unknown content type",
            request: basic().header(CONTENT_TYPE, "text/plain").body(grant),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "no content type",
            request: basic().body(grant),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "malformed JSON",
            request: basic()
                .header(CONTENT_TYPE, "application/json")
                .body("{\"grant_type\":"),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "JSON with a non-string scope",
            request: basic()
                .json(&serde_json::json!({"grant_type": "client_credentials", "scope": 5})),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "JSON with a duplicated key",
            request: basic()
                .header(CONTENT_TYPE, "application/json")
                .body(r#"{"grant_type":"client_credentials","grant_type":"client_credentials"}"#),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "body over 16 KiB",
            request: form(&huge),
            status: 413,
            error: "invalid_request",
        },
        Case {
            name: "GET on the token endpoint",
            request: app.http.get(&token_url),
            status: 405,
            error: "invalid_request",
        },
        Case {
            name: "PUT on the token endpoint",
            request: app
                .http
                .put(&token_url)
                .form(&[("grant_type", "client_credentials")]),
            status: 405,
            error: "invalid_request",
        },
    ];

    for case in cases {
        let response = case.request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{}: body is not JSON: {text}", case.name));
        assert_eq!(status, case.status, "{}: {text}", case.name);
        assert_eq!(body["error"], case.error, "{}: {text}", case.name);
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{}",
            case.name
        );
        assert!(body.get("access_token").is_none(), "{}", case.name);
        assert!(
            !text.contains(WRONG_SECRET) && !text.contains(&client.secret),
            "{}: echoes a secret",
            case.name
        );
        assert_eq!(headers["cache-control"], "no-store", "{}", case.name);
        if status == 401 {
            let challenge = headers["www-authenticate"].to_str().unwrap();
            assert!(challenge.starts_with("Basic"), "{}", case.name);
        }
        if status == 405 {
            assert_eq!(headers["allow"], "POST", "{}", case.name);
        }
    }

    // After all of that, the client still gets its token: nothing was lost.
    let ok = app
        .post_token(&client, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(ok.status(), 200);
}

async fn deactivated_client_is_told_so(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.create_client(&["payouts:read"], &[]).await;
    let path = format!(
        "/admin/v1/orgs/{}/clients/{}/deactivate",
        client.org_id, client.id
    );
    let (status, _) = app
        .admin(
            reqwest::Method::POST,
            &path,
            crate::support::helpers::ROOT_TOKEN,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let response = app
        .post_token(&client, &[("grant_type", "client_credentials")])
        .await;
    let (status, body) = crate::support::helpers::status_and_json(response).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert_eq!(body["error_description"], "the client is deactivated");
}

async fn unknown_paths_get_404_in_oauth_shape(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.http.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

on_both_backends!(
    every_bad_request_gets_its_rfc6749_error,
    deactivated_client_is_told_so,
    unknown_paths_get_404_in_oauth_shape,
);
