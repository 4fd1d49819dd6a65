//! Outgoing email: where it may go, what it says, and how far its delivery
//! got. Delivery states and retries are the webhooks' (`super::webhook`).

use std::fmt;

use secrecy::SecretString;

use super::webhook::DeliveryState;
use super::OrgId;

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS: a relay on the same host or network, or tests (port 25).
    None,
}

impl SmtpTls {
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        }
    }
}

/// The mail server that emails go through, as the settings give it
/// (checked there); its `Debug` leaves the password out.
#[derive(Clone)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// User name and password, when the server wants them.
    pub credentials: Option<(String, SecretString)>,
    /// The `From` of every email, a mailbox such as
    /// `Keyward <keyward@example.com>`.
    pub from: String,
    /// PEM certificates trusted besides the public roots (`smtp_ca_file`).
    pub extra_roots_pem: Option<Vec<u8>>,
}

impl fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpServer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.credentials.as_ref().map(|(user, _)| user))
            .field("from", &self.from)
            .field("extra_roots", &self.extra_roots_pem.is_some())
            .finish_non_exhaustive()
    }
}

/// An address Keyward sends mail to: the plain `local@domain` form that
/// every mail server takes. The local part is an RFC 5322 dot-atom and the
/// domain a DNS name with a dot, all ASCII, so no quoting, comment, display
/// name, space or line break can ride along into a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "must be an email address such as alerts@example.com: letters, digits and \
     !#$%&'*+/=?^_`{{|}}~.- before the @, a domain name with a dot after it \
     (at most 254 characters)"
)]
pub struct InvalidMailAddress;

const MAX_LENGTH: usize = 254;
const MAX_LOCAL_LENGTH: usize = 64;

impl MailAddress {
    pub fn parse(raw: &str) -> Result<Self, InvalidMailAddress> {
        let address = raw.trim();
        let (local, domain) = address.rsplit_once('@').ok_or(InvalidMailAddress)?;
        let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
        let local_ok = local.len() <= MAX_LOCAL_LENGTH
            && local
                .split('.')
                .all(|atom| !atom.is_empty() && atom.chars().all(atext));
        let label_ok = |label: &str| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        let domain_ok = domain.contains('.') && domain.split('.').all(label_ok);
        if address.len() > MAX_LENGTH || !local_ok || !domain_ok {
            return Err(InvalidMailAddress);
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What one email says: a subject and the same text as plain text and as
/// HTML. The bodies may carry a password link: they are stored sealed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MailContent {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// An email to one recipient and the state of its delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailDelivery {
    /// `eml_` + random; also the message's `Message-ID`, the same on every
    /// attempt, so a mailbox can tell a repeat.
    pub id: String,
    pub org_id: OrgId,
    /// `api_key.expiring`, `client.expiring` or `member.invited`.
    pub event_type: String,
    pub recipient: String,
    pub subject: String,
    /// The sealed `MailContent` bodies.
    pub body: Vec<u8>,
    pub state: DeliveryState,
    pub attempts: i64,
    pub created_at: i64,
    pub next_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    /// The mail server's reply code on the last attempt, if it answered.
    pub last_status: Option<i64>,
    /// Why the last attempt failed, when it did; never the server's text.
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
}

impl EmailDelivery {
    /// A new id for an email about to be sealed (the seal binds to it).
    pub fn new_id() -> String {
        super::ids::random_id("eml_")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_addresses_parse_and_their_domain_is_lowercased() {
        for (raw, parsed) in [
            ("alerts@example.com", "alerts@example.com"),
            (
                " Ops.Team+keys@Example.CO.uk ",
                "Ops.Team+keys@example.co.uk",
            ),
            (
                "a!#$%&'*/=?^_`{|}~-@x-y.example",
                "a!#$%&'*/=?^_`{|}~-@x-y.example",
            ),
        ] {
            assert_eq!(MailAddress::parse(raw).unwrap().as_str(), parsed, "{raw}");
        }
    }

    #[test]
    fn anything_that_could_carry_a_header_or_a_second_address_is_refused() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long = format!("a@{}.com", vec!["b".repeat(63); 4].join("."));
        for bad in [
            "",
            "alerts",
            "alerts@",
            "@example.com",
            "alerts@localhost",
            "a b@example.com",
            "alerts@example.com\r\nBcc: x@evil.example",
            "alerts@example.com\nBcc:x@evil.example",
            "alerts@example.com, x@evil.example",
            "Alerts <alerts@example.com>",
            "\"a b\"@example.com",
            "a..b@example.com",
            ".a@example.com",
            "a@-example.com",
            "a@example..com",
            "a@[127.0.0.1]",
            "a(comment)@example.com",
            "ålert@example.com",
            "a@exämple.com",
            &long_local,
            &long,
        ] {
            assert!(MailAddress::parse(bad).is_err(), "{bad:?}");
        }
    }
}
