//! What a failed SMTP attempt means: the class the organisation is shown
//! (never the server's own text), the cause the log gets, and whether to
//! try again.

/// Why an attempt failed: what the organisation is shown, what the log
/// gets, and whether trying again may help.
pub(super) struct Failure {
    pub status: Option<i64>,
    pub shown: String,
    pub cause: String,
    pub permanent: bool,
}

/// What an SMTP error means for the delivery. The organisation sees the
/// reply code and nothing of the server's text; the log gets all of it.
pub(super) fn failure(e: &lettre::transport::smtp::Error) -> Failure {
    let cause = crate::error::error_chain(e);
    match e.status() {
        Some(code) => {
            let permanent = e.is_permanent();
            let status = u16::from(code);
            let shown = if permanent {
                format!("delivery failed: the mail server refused it (SMTP {status}); not retried")
            } else {
                format!("delivery failed: SMTP {status}")
            };
            Failure {
                status: Some(i64::from(status)),
                shown,
                cause,
                permanent,
            }
        }
        None => {
            let shown = if e.is_timeout() {
                "delivery failed: the mail server did not answer in time"
            } else if e.is_tls() || rustls_refused(e) {
                "delivery failed: TLS with the mail server failed"
            } else if e.is_client() {
                // Raised before anything is sent: with `starttls`, a server
                // that offers no STARTTLS is never sent the mail in clear.
                "delivery failed: the mail server does not offer what sending needs (such as STARTTLS)"
            } else {
                "delivery failed: could not reach the mail server"
            };
            Failure {
                status: None,
                shown: shown.into(),
                cause,
                permanent: false,
            }
        }
    }
}

/// Whether TLS itself failed (an untrusted certificate, say): lettre
/// reports a failed handshake as an I/O error that wraps rustls's.
fn rustls_refused(e: &lettre::transport::smtp::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cause {
        let inner = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        if err.is::<rustls::Error>() || inner.is_some_and(|i| i.is::<rustls::Error>()) {
            return true;
        }
        cause = err.source();
    }
    false
}
