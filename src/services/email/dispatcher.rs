//! Sends queued emails by SMTP, as `services::webhooks` sends webhooks: a
//! node leases a due email before sending it, so replicas do not send the
//! same attempt twice; a failed attempt is retried with backoff
//! (`RetryPolicy`), except when the server refused it for good (5xx).
//! Delivery is at least once; the `Message-ID` is the same on every attempt.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::{
    ContentTransferEncoding, ContentType, Header, HeaderName, HeaderValue,
};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use super::failure::{failure, Failure};
use super::{messages::one_line, EmailOutbox};
use crate::domain::{
    DeliveryAttempt, DeliveryState, EmailDelivery, MailContent, RetryPolicy, SmtpServer, SmtpTls,
};
use crate::metrics::Counters;
use crate::services::outbox::{self, Outbox, BATCH};
use crate::storage::{StorageError, Store};
use crate::time::Clock;

/// An attempt's whole conversation with the mail server.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);
/// Longer than an attempt can take, so a lease outlives its attempt.
const LEASE_SECONDS: i64 = 120;

pub struct EmailDispatcher {
    store: Arc<dyn Store>,
    outbox: Arc<EmailOutbox>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    counters: Arc<Counters>,
}

impl EmailDispatcher {
    pub fn new(
        smtp: &SmtpServer,
        store: Arc<dyn Store>,
        outbox: Arc<EmailOutbox>,
        retry: RetryPolicy,
        clock: Arc<dyn Clock>,
        counters: Arc<Counters>,
    ) -> anyhow::Result<Self> {
        let tls = || {
            let mut parameters = TlsParameters::builder(smtp.host.clone());
            if let Some(pem) = &smtp.extra_roots_pem {
                parameters = parameters.add_root_certificate(Certificate::from_pem(pem)?);
            }
            parameters.build_rustls()
        };
        let tls = match smtp.tls {
            SmtpTls::Starttls => Tls::Required(tls()?),
            SmtpTls::Tls => Tls::Wrapper(tls()?),
            SmtpTls::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            .port(smtp.port)
            .tls(tls)
            .timeout(Some(ATTEMPT_TIMEOUT));
        if let Some((user, password)) = &smtp.credentials {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Self {
            store,
            outbox,
            transport: builder.build(),
            from: smtp
                .from
                .parse()
                .map_err(|e| anyhow::anyhow!("setting smtp_from (KEYWARD_SMTP_FROM): {e}"))?,
            retry,
            clock,
            counters,
        })
    }

    pub fn spawn(self) {
        outbox::spawn(self);
    }
}

#[async_trait::async_trait]
impl Outbox for EmailDispatcher {
    type Delivery = EmailDelivery;
    const NAME: &'static str = "emails";

    fn now(&self) -> i64 {
        self.clock.unix()
    }

    async fn due(&self, now: i64) -> Result<Vec<EmailDelivery>, StorageError> {
        self.store.due_email_deliveries(now, BATCH).await
    }

    async fn lease(&self, email: &EmailDelivery, now: i64) -> Result<bool, StorageError> {
        self.store
            .lease_email_delivery(&email.id, now, now + LEASE_SECONDS)
            .await
    }

    fn polled(&self) {
        Counters::bump(&self.counters.email_dispatch_rounds);
    }

    async fn attempt(&self, email: EmailDelivery) {
        let attempt = email.attempts + 1;
        let now = || self.clock.unix();
        let outcome = match self.send(&email).await {
            Ok(status) => self
                .retry
                .outcome(email.created_at, attempt, now(), Some(status), None),
            Err(failure) => {
                tracing::warn!(
                    email = %email.id,
                    attempts = attempt,
                    permanent = failure.permanent,
                    cause = %failure.cause,
                    "email attempt failed"
                );
                if failure.permanent {
                    DeliveryAttempt {
                        at: now(),
                        status: failure.status,
                        error: Some(failure.shown),
                        state: DeliveryState::Failed,
                        next_attempt_at: None,
                    }
                } else {
                    let error = Some(failure.shown);
                    self.retry
                        .outcome(email.created_at, attempt, now(), failure.status, error)
                }
            }
        };
        if outcome.state == DeliveryState::Delivered {
            tracing::info!(email = %email.id, event = %email.event_type, "email delivered");
        }
        if let Err(e) = self.store.record_email_attempt(&email.id, &outcome).await {
            tracing::error!(error = %crate::error::error_chain(&e), email = %email.id, "recording an email attempt failed");
        }
    }
}

impl EmailDispatcher {
    /// Sends the email; the server's reply code.
    async fn send(&self, email: &EmailDelivery) -> Result<i64, Failure> {
        let content = self.outbox.open(email).map_err(|e| Failure {
            status: None,
            shown: "delivery failed: the email was sealed under another server secret".into(),
            cause: e.to_string(),
            permanent: true,
        })?;
        let message = message(&self.from, email, content).map_err(|cause| Failure {
            status: None,
            shown: "delivery failed: not an address mail can be sent to".into(),
            cause,
            permanent: true,
        })?;
        let sent = tokio::time::timeout(ATTEMPT_TIMEOUT, self.transport.send(message)).await;
        match sent {
            Ok(Ok(response)) => Ok(i64::from(u16::from(response.code()))),
            Ok(Err(e)) => Err(failure(&e)),
            Err(_) => Err(Failure {
                status: None,
                shown: "delivery failed: the mail server did not answer in time".into(),
                cause: "timed out".into(),
                permanent: false,
            }),
        }
    }
}

/// The message: multipart/alternative, plain text then HTML, its
/// `Message-ID` the delivery's id.
fn message(from: &Mailbox, email: &EmailDelivery, content: MailContent) -> Result<Message, String> {
    let to: Address = email.recipient.parse().map_err(|e| format!("{e}"))?;
    let part = |kind: ContentType, body: String| {
        SinglePart::builder()
            .header(kind)
            .header(ContentTransferEncoding::QuotedPrintable)
            .body(body)
    };
    Message::builder()
        .from(from.clone())
        .to(Mailbox::new(None, to))
        .subject(one_line(&content.subject))
        .message_id(Some(format!("<{}@{}>", email.id, from.email.domain())))
        .header(AutoSubmitted)
        .multipart(
            MultiPart::alternative()
                .singlepart(part(ContentType::TEXT_PLAIN, content.text))
                .singlepart(part(ContentType::TEXT_HTML, content.html)),
        )
        .map_err(|e| e.to_string())
}

/// `Auto-Submitted: auto-generated` (RFC 3834): no out-of-office replies.
#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MailAddress, OrgId};

    fn email(recipient: &str) -> EmailDelivery {
        EmailDelivery {
            id: EmailDelivery::new_id(),
            org_id: OrgId::generate(),
            event_type: "api_key.expiring".into(),
            recipient: recipient.into(),
            subject: String::new(),
            body: Vec::new(),
            state: DeliveryState::Pending,
            attempts: 0,
            created_at: 0,
            next_attempt_at: Some(0),
            last_attempt_at: None,
            last_status: None,
            last_error: None,
            delivered_at: None,
        }
    }

    fn content(subject: &str) -> MailContent {
        MailContent {
            subject: subject.into(),
            text: "text".into(),
            html: "<p>html</p>".into(),
        }
    }

    #[test]
    fn a_subject_cannot_add_a_header() {
        let from: Mailbox = "Keyward <k@example.com>".parse().unwrap();
        let injected = content("Key \"x\r\nBcc: spy@evil.example\r\n\r\nbody\" expires");
        let email = email("ops@example.com");
        let sent = message(&from, &email, injected).unwrap().formatted();
        let sent = String::from_utf8(sent).unwrap();
        let head = sent.split("\r\n\r\n").next().unwrap();
        assert!(
            !head
                .lines()
                .any(|l| l.to_ascii_lowercase().starts_with("bcc")),
            "{head}"
        );
        assert_eq!(
            head.lines().filter(|l| l.starts_with("Subject:")).count(),
            1
        );
        assert!(head.contains(&format!("Message-ID: <{}@example.com>", email.id)));
        assert!(head.contains("Auto-Submitted: auto-generated"));
        assert!(head.contains("multipart/alternative"));
    }

    #[test]
    fn every_notification_address_is_one_lettre_sends_to() {
        for raw in [
            "ops@example.com",
            "a.b+c@x-y.example.org",
            "a!#$%&'*/=?^_`{|}~-@x.example",
        ] {
            let address = MailAddress::parse(raw).unwrap();
            assert!(address.as_str().parse::<Address>().is_ok(), "{raw}");
        }
        let from: Mailbox = "k@example.com".parse().unwrap();
        assert!(message(&from, &email("not an address"), content("s")).is_err());
    }
}
