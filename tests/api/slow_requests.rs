//! A request must arrive within `client_request_timeout_ms`: its head
//! within it, and its body within it again after the head. A client that
//! stalls or trickles is answered 408 and its connection closed, so it
//! cannot hold a connection and a worker slot for as long as it likes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::helpers::Backend;
use crate::support::helpers::{spawn_app_with, TestApp, ROOT_TOKEN};

const TIMEOUT_MS: u64 = 500;
/// How long past the timeout the connection may take to be answered and closed.
const SLACK: Duration = Duration::from_millis(1_500);

async fn app() -> TestApp {
    spawn_app_with(Backend::Sqlite, |s| {
        s.client_request_timeout_ms = TIMEOUT_MS
    })
    .await
}

/// Opens a connection, sends `start`, then sends `trickle` one byte per
/// 100 ms until the server stops reading; returns what the server sent
/// before closing the connection, and when it closed it.
fn send_slowly(address: &str, start: String, trickle: &'static [u8]) -> (String, Duration) {
    let host = address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let began = Instant::now();
    stream.write_all(start.as_bytes()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    std::thread::spawn(move || {
        for byte in trickle {
            std::thread::sleep(Duration::from_millis(100));
            if writer.write_all(&[*byte]).is_err() {
                return;
            }
        }
    });
    let mut answer = Vec::new();
    // The server closes the connection: the read ends (or is reset).
    let _ = stream.read_to_end(&mut answer);
    (
        String::from_utf8_lossy(&answer).into_owned(),
        began.elapsed(),
    )
}

fn head_of(host: &str, method: &str, path: &str, extra: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\
         Content-Type: application/x-www-form-urlencoded\r\n"
    )
}

fn assert_cut_off(answer: &str, took: Duration, what: &str) {
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "{what}: answered {answer:?} after {took:?}"
    );
    assert!(
        took < Duration::from_millis(TIMEOUT_MS) + SLACK,
        "{what}: closed only after {took:?}"
    );
}

#[tokio::test]
async fn a_stalled_body_is_answered_408_and_its_connection_closed() {
    let app = app().await;
    let address = app.address.clone();
    let (answer, took) = tokio::task::spawn_blocking(move || {
        let head = head_of(&address, "POST", "/oauth/token", "Content-Length: 200\r\n");
        send_slowly(&address, format!("{head}\r\ngrant_type="), b"")
    })
    .await
    .unwrap();
    assert_cut_off(&answer, took, "stalled body");
    assert!(answer.contains("\"error\":\"invalid_request\""), "{answer}");
    assert!(
        answer.to_lowercase().contains("connection: close"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_trickled_body_is_cut_off_at_the_bound_not_at_an_idle_gap() {
    let app = app().await;
    let address = app.address.clone();
    // 100 bytes at one per 100 ms would take 10 s; no gap exceeds 100 ms.
    let (answer, took) = tokio::task::spawn_blocking(move || {
        let head = head_of(&address, "POST", "/oauth/token", "Content-Length: 100\r\n");
        send_slowly(&address, format!("{head}\r\n"), &[b'a'; 100])
    })
    .await
    .unwrap();
    assert_cut_off(&answer, took, "trickled body");
}

#[tokio::test]
async fn a_stalled_management_body_is_a_408_problem() {
    let app = app().await;
    let address = app.address.clone();
    let (answer, took) = tokio::task::spawn_blocking(move || {
        let auth = format!("Authorization: Bearer {ROOT_TOKEN}\r\nContent-Length: 50\r\n");
        let head = head_of(&address, "POST", "/admin/v1/orgs", &auth)
            .replace("application/x-www-form-urlencoded", "application/json");
        send_slowly(&address, format!("{head}\r\n{{\"name\""), b"")
    })
    .await
    .unwrap();
    assert_cut_off(&answer, took, "management body");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains("REQUEST_TIMEOUT"), "{answer}");
}

#[tokio::test]
async fn a_trickled_head_is_answered_408_and_closed() {
    let app = app().await;
    let address = app.address.clone();
    let (answer, took) = tokio::task::spawn_blocking(move || {
        let start = "POST /oauth/token HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_owned();
        send_slowly(&address, start, &[b'a'; 100])
    })
    .await
    .unwrap();
    assert_cut_off(&answer, took, "trickled head");
}

#[tokio::test]
async fn a_body_within_the_bound_is_read_as_ever() {
    let app = app().await;
    let address = app.address.clone();
    let (answer, _) = tokio::task::spawn_blocking(move || {
        // Two bytes at 100 ms each: well within the bound.
        let head = head_of(&address, "POST", "/oauth/token", "Content-Length: 12\r\n");
        let head = head.replace("Content-Type", "Connection: close\r\nContent-Type");
        send_slowly(&address, format!("{head}\r\ngrant_type"), b"=x")
    })
    .await
    .unwrap();
    // Read whole: the answer is about the request, not about time.
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    assert!(!answer.starts_with("HTTP/1.1 408"), "{answer}");
}
