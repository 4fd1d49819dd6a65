//! A stop (SIGTERM or SIGINT) that leaves no request unanswered:
//!
//! 1. Every response closes its connection (`Connection: close`) and
//!    `/readyz` answers 503, so keep-alive clients reconnect and a load
//!    balancer moves traffic away. For `shutdown_drain_seconds` new
//!    connections are still served.
//! 2. The listener stops taking connections. Closing it would reset the
//!    connections the kernel had already accepted for us, after their
//!    clients had sent a request; so a socket filter drops new SYNs instead,
//!    the accept queue empties, and a client's connect is refused once the
//!    listener closes.
//! 3. The connections already open are answered and closed, for up to
//!    `shutdown_timeout_seconds`. Then actix-web stops and the listener
//!    closes.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(10);
/// Consecutive polls with nothing open or queued: a connection the accept
/// thread took just before has reached a worker by then.
const QUIET_POLLS: u32 = 5;

#[derive(Debug, Default)]
pub struct Drain {
    stopping: AtomicBool,
    open_connections: AtomicUsize,
}

/// Kept with each connection while it is open.
pub struct OpenConnection(Arc<Drain>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Drain {
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    pub fn connection_opened(self: &Arc<Self>) -> OpenConnection {
        self.open_connections.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self.clone())
    }

    fn open_connections(&self) -> usize {
        self.open_connections.load(Ordering::Relaxed)
    }

    /// Steps 1 to 3 on `listener` (a handle on the server's own socket);
    /// returns when actix-web may stop.
    pub async fn run(&self, listener: &TcpListener, serve_for: Duration, timeout: Duration) {
        self.stopping.store(true, Ordering::Relaxed);
        tokio::time::sleep(serve_for).await;
        if let Err(e) = hold_back_new_connections(listener) {
            tracing::warn!(error = %e, "cannot hold new connections back; closing the listener as it is");
            return;
        }
        let deadline = Instant::now() + timeout;
        let mut quiet = 0;
        loop {
            // Where /proc cannot be read, the quiet polls alone decide.
            let idle = self.open_connections() == 0
                && accept_queue_len(listener).is_none_or(|queued| queued == 0);
            quiet = if idle { quiet + 1 } else { 0 };
            if quiet == QUIET_POLLS {
                return;
            }
            if Instant::now() >= deadline {
                if !idle {
                    tracing::warn!(
                        open = self.open_connections(),
                        "connections still open at the shutdown timeout"
                    );
                }
                return;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Drops every packet that reaches the listening socket from now on: SYNs
/// of new connections, and the last ACK of a handshake not yet complete.
/// Connections already accepted, or waiting in the accept queue, are
/// sockets of their own and unaffected.
#[cfg(target_os = "linux")]
fn hold_back_new_connections(listener: &TcpListener) -> std::io::Result<()> {
    const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K: return the constant
    let drop_all = [socket2::SockFilter::new(BPF_RET_K, 0, 0, 0)];
    socket2::SockRef::from(listener).attach_filter(&drop_all)
}

#[cfg(not(target_os = "linux"))]
fn hold_back_new_connections(_: &TcpListener) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// How many connections wait in the listener's accept queue: the receive
/// queue that /proc/net/tcp(6) shows for a listening socket. `None` where
/// that cannot be read.
#[cfg(target_os = "linux")]
fn accept_queue_len(listener: &TcpListener) -> Option<usize> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(format!("/proc/self/fd/{}", listener.as_raw_fd()))
        .ok()?
        .ino()
        .to_string();
    ["/proc/self/net/tcp", "/proc/self/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .find_map(|table| {
            table.lines().skip(1).find_map(|line| {
                // sl local remote st tx_queue:rx_queue tr:when retrnsmt uid timeout inode
                let fields: Vec<&str> = line.split_whitespace().collect();
                if fields.get(9) != Some(&inode.as_str()) {
                    return None;
                }
                let (_, rx_queue) = fields.get(4)?.split_once(':')?;
                usize::from_str_radix(rx_queue, 16).ok()
            })
        })
}

#[cfg(not(target_os = "linux"))]
fn accept_queue_len(_: &TcpListener) -> Option<usize> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_accept_queue_counts_connections_not_yet_accepted() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        assert_eq!(accept_queue_len(&listener), Some(0));
        let _waiting: Vec<_> = (0..3)
            .map(|_| std::net::TcpStream::connect(address).unwrap())
            .collect();
        assert_eq!(accept_queue_len(&listener), Some(3));
        let _accepted = listener.accept().unwrap();
        assert_eq!(accept_queue_len(&listener), Some(2));
    }

    #[test]
    fn a_held_back_listener_completes_no_new_handshake() {
        use std::io::Read;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let before = std::net::TcpStream::connect(address).unwrap();
        hold_back_new_connections(&listener).unwrap();
        let after = std::net::TcpStream::connect_timeout(&address, Duration::from_millis(300));
        assert!(after.is_err(), "a new connection got through");
        assert_eq!(accept_queue_len(&listener), Some(1));
        let (mut accepted, _) = listener.accept().unwrap();
        drop(before);
        let mut byte = [0];
        assert_eq!(
            accepted.read(&mut byte).unwrap(),
            0,
            "the queued one still works"
        );
    }
}
