//! A small SMTP server on loopback that stands in for the operator's mail
//! relay: it speaks enough of RFC 5321 for a real client (lettre), keeps
//! every message it is given, and can answer the end of a message with a
//! failure, as the webhook receiver answers 503.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One message the sink was given, and how it answered.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The message as sent, dot-stuffing undone.
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

pub struct SmtpSink {
    pub port: u16,
    log: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpSink {
    pub async fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = log.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let log = shared.clone();
                tokio::spawn(async move {
                    let _ = converse(stream, answer, log).await;
                });
            }
        });
        Self { port, log, task }
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

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The path of a `MAIL FROM:<a> …` or `RCPT TO:<a>` command.
fn path_of(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line[start..].find('>').map_or(line.len(), |i| start + i);
    line[start..end].to_owned()
}

fn message_id(data: &str) -> String {
    data.lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("message-id")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default()
}

async fn converse(
    stream: TcpStream,
    answer: Answer,
    log: Arc<Mutex<Vec<Received>>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink.test\r\n250 8BITMIME\r\n",
            "HELO" | "NOOP" => b"250 OK\r\n",
            "MAIL" => {
                from = path_of(&command);
                to.clear();
                b"250 OK\r\n"
            }
            "RCPT" => {
                to.push(path_of(&command));
                b"250 OK\r\n"
            }
            "RSET" => {
                to.clear();
                b"250 OK\r\n"
            }
            "DATA" => {
                write.write_all(b"354 go ahead\r\n").await?;
                let data = read_data(&mut lines).await?;
                let id = message_id(&data);
                let answered = {
                    let mut log = log.lock().unwrap();
                    let earlier = log.iter().filter(|r| r.message_id == id).count();
                    let answered = match answer {
                        Answer::FailFirst(n) if earlier < n => 451,
                        Answer::FailFirst(_) => 250,
                        Answer::Always(code) => code,
                    };
                    log.push(Received {
                        mail_from: from.clone(),
                        rcpt_to: to.clone(),
                        data,
                        message_id: id,
                        answered,
                    });
                    answered
                };
                let reply = format!(
                    "{answered} {}\r\n",
                    if answered == 250 { "queued" } else { "no" }
                );
                write.write_all(reply.as_bytes()).await?;
                continue;
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// The lines up to the lone `.`, with a leading `..` made `.` again.
async fn read_data(
    lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> std::io::Result<String> {
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let content = line.trim_end_matches(['\r', '\n']);
        if content == "." {
            return Ok(data);
        }
        data.push_str(content.strip_prefix('.').unwrap_or(content));
        data.push_str("\r\n");
    }
}
