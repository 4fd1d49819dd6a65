//! A real SMTP server on loopback in place of the operator's mail relay:
//! aiosmtpd (`tests/clients/python/smtp_server.py`, pinned in
//! `requirements.txt`), run as a child process. It keeps every message it
//! is given and can answer the end of a message with a failure, as the
//! webhook receiver answers 503.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::installed_clients::{clients_dir, venv_python};

/// One message the sink was given, and how it answered.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The message as sent.
    pub data: String,
    pub message_id: String,
    pub answered: u16,
}

impl Received {
    /// The message as a mail client reads it.
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(self.data.as_bytes())
            .expect("a parsable message")
    }
}

/// How the sink answers the end of each message.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// 451 to the first `n` attempts of each message (by `Message-ID`), then 250.
    FailFirst(usize),
    /// The same refusal to every message.
    Always(u16),
}

/// The TLS the sink speaks (none when not given): STARTTLS, required before
/// any mail, or TLS from the first byte; with its certificate and key.
pub enum SinkTls {
    Starttls(PathBuf, PathBuf),
    Implicit(PathBuf, PathBuf),
}

pub struct SmtpSink {
    pub port: u16,
    log: Arc<Mutex<Vec<Received>>>,
    // Killed when the sink is dropped.
    _server: Child,
}

impl SmtpSink {
    pub async fn start(answer: Answer) -> Self {
        Self::start_with(answer, None).await
    }

    pub async fn start_with(answer: Answer, tls: Option<SinkTls>) -> Self {
        let mut command = Command::new(venv_python());
        command.arg(clients_dir().join("python/smtp_server.py"));
        if let Some(tls) = tls {
            let (mode, cert, key) = match tls {
                SinkTls::Starttls(cert, key) => ("starttls", cert, key),
                SinkTls::Implicit(cert, key) => ("tls", cert, key),
            };
            command.args(["--tls", mode]);
            command.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        match answer {
            Answer::FailFirst(n) => command.args(["--fail-first", &n.to_string()]),
            Answer::Always(code) => command.args(["--always", &code.to_string()]),
        };
        let mut server = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the SMTP server starts");
        let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the SMTP server says where it listens within 30 s")
            .unwrap()
            .unwrap_or_default();
        let port = first
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the SMTP server said {first:?}"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let received: Received = serde_json::from_str(&line).unwrap();
                shared.lock().unwrap().push(received);
            }
        });
        Self {
            port,
            log,
            _server: server,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.answered == 250)
            .collect()
    }

    /// The accepted messages once there are at least `count`.
    pub async fn wait_for_accepted(&self, count: usize) -> Vec<Received> {
        self.wait_until(|r| r.iter().filter(|m| m.answered == 250).count() >= count)
            .await;
        self.accepted()
    }

    /// Waits until `done` holds of everything received.
    pub async fn wait_until(&self, done: impl Fn(&[Received]) -> bool) {
        for _ in 0..300 {
            if done(&self.received()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the SMTP sink got {:#?}", self.received());
    }
}
