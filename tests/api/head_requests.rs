//! HEAD on every GET route answers as GET does, without a body (RFC 9110
//! §9.3.2), checked on the wire: what follows the header block is nothing.

use std::io::{Read, Write};
use std::net::TcpStream;

use keyward::routes::ROUTES;

use crate::support::helpers::{spawn_app, Backend, ROOT_TOKEN};

/// Sends one request over a fresh connection and returns the status, the
/// header lines (lower-case names) and the bytes after the header block.
fn raw_request(address: &str, method: &str, path: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let host = address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {ROOT_TOKEN}\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8(answer[..end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.trim().to_lowercase(), value.trim().to_owned())
        })
        .collect();
    (status, headers, answer[end + 4..].to_vec())
}

/// Headers that differ between any two answers, or with the body.
fn comparable(headers: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut kept: Vec<_> = headers
        .into_iter()
        .filter(|(name, _)| {
            !matches!(
                name.as_str(),
                "date" | "content-length" | "transfer-encoding" | "x-request-id"
            ) && !name.starts_with("ratelimit")
                && !name.starts_with("x-ratelimit")
        })
        .collect();
    kept.sort();
    kept
}

#[tokio::test]
async fn head_answers_every_get_route_like_get_without_a_body() {
    let app = spawn_app(Backend::Sqlite).await;
    let org = app.create_org(keyward::domain::Plan::Enterprise).await;
    let address = app.address.clone();
    let paths: Vec<String> = ROUTES
        .iter()
        .filter(|(method, path)| *method == "get" && !path.contains("{client_id}"))
        .filter(|(_, path)| !path.contains("{key_id}"))
        .map(|(_, path)| path.replace("{org_id}", org.as_str()))
        .collect();
    assert!(paths.iter().any(|p| p == "/.well-known/jwks.json"));
    tokio::task::spawn_blocking(move || {
        for path in paths {
            let (get_status, get_headers, get_body) = raw_request(&address, "GET", &path);
            let (status, headers, body) = raw_request(&address, "HEAD", &path);
            assert_eq!(status, get_status, "HEAD {path}");
            assert_ne!(status, 405, "HEAD {path}");
            assert!(body.is_empty(), "HEAD {path} sent a body: {body:?}");
            assert!(!get_body.is_empty(), "GET {path} has a body to leave out");
            assert_eq!(comparable(headers), comparable(get_headers), "HEAD {path}");
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn head_is_refused_where_get_is_not_served_and_allow_names_it() {
    let app = spawn_app(Backend::Sqlite).await;
    let address = app.address.clone();
    tokio::task::spawn_blocking(move || {
        let (status, headers, body) = raw_request(&address, "HEAD", "/oauth/token");
        assert_eq!(status, 405);
        assert!(body.is_empty());
        assert!(
            headers.contains(&("allow".into(), "POST".into())),
            "{headers:?}"
        );
        let (status, headers, _) = raw_request(&address, "DELETE", "/healthz");
        assert_eq!(status, 405);
        assert!(
            headers.contains(&("allow".into(), "GET, HEAD".into())),
            "{headers:?}"
        );
    })
    .await
    .unwrap();
}
