//! Email, beside webhooks: expiry warnings and the console's invitations.
//! Whoever has something to say seals it into the queue (`EmailOutbox`),
//! in the same transaction as what it is about where there is one; the
//! dispatcher sends what is due by SMTP and retries with backoff.

mod dispatcher;
mod failure;
pub mod messages;

use std::collections::HashMap;

pub use dispatcher::EmailDispatcher;
pub use messages::Links;

use crate::crypto::mail_seal::{MailSealError, MailSealer};
use crate::crypto::ServerSecret;
use crate::domain::{
    DeliveryState, EmailDelivery, ExpiringCredential, MailAddress, MailContent, OrgId, Role,
};
use crate::storage::{StorageError, Store};

/// Builds sealed emails; present only when email is on.
pub struct EmailOutbox {
    sealer: MailSealer,
    links: Links,
    policy: EmailPolicy,
}

/// The settings that shape what is queued.
#[derive(Debug, Clone, Copy)]
pub struct EmailPolicy {
    /// `expiry_warning_days`, which the warnings mention.
    pub warning_days: u32,
    /// `email_max_per_org_per_hour`.
    pub max_per_org_per_hour: u32,
}

impl EmailOutbox {
    pub fn new(secret: &ServerSecret, links: Links, policy: EmailPolicy) -> Self {
        Self {
            sealer: MailSealer::new(secret),
            links,
            policy,
        }
    }

    /// One email per recipient, sealed and due now.
    pub fn letters(
        &self,
        org: &OrgId,
        event_type: &str,
        recipients: &[MailAddress],
        content: &MailContent,
        now: i64,
    ) -> Vec<EmailDelivery> {
        let sealed = serde_json::to_vec(content).expect("mail content serializes");
        recipients
            .iter()
            .map(|recipient| {
                let id = EmailDelivery::new_id();
                EmailDelivery {
                    body: self.sealer.seal(&id, &sealed),
                    id,
                    org_id: org.clone(),
                    event_type: event_type.to_owned(),
                    recipient: recipient.as_str().to_owned(),
                    subject: content.subject.clone(),
                    state: DeliveryState::Pending,
                    attempts: 0,
                    created_at: now,
                    next_attempt_at: Some(now),
                    last_attempt_at: None,
                    last_status: None,
                    last_error: None,
                    delivered_at: None,
                }
            })
            .collect()
    }

    /// `letters`, those past the organisation's hourly budget marked
    /// failed without an attempt: they are queued all the same, so the
    /// refusal shows in the organisation's list. An organisation's admins
    /// choose its addresses and its credentials' expiry dates, so without
    /// a bound they could have Keyward mail anyone, as often as they like.
    pub async fn within_budget(
        &self,
        store: &dyn Store,
        org: &OrgId,
        mut letters: Vec<EmailDelivery>,
        now: i64,
    ) -> Result<Vec<EmailDelivery>, StorageError> {
        if letters.is_empty() {
            return Ok(letters);
        }
        let max = self.policy.max_per_org_per_hour;
        let queued = store.count_emails_since(org, now - 3600).await?;
        let room = usize::try_from(i64::from(max) - queued).unwrap_or(0);
        if letters.len() > room {
            tracing::warn!(org = %org, max, "an organisation's emails reached email_max_per_org_per_hour; not sending more this hour");
        }
        for letter in letters.iter_mut().skip(room) {
            letter.state = DeliveryState::Failed;
            letter.next_attempt_at = None;
            letter.last_error = Some(format!(
                "not sent: this organisation reached email_max_per_org_per_hour ({max})"
            ));
        }
        Ok(letters)
    }

    /// The content of a queued email; an error when the server secret it
    /// was sealed under is gone.
    pub fn open(&self, email: &EmailDelivery) -> Result<MailContent, MailSealError> {
        let plain = self.sealer.open(&email.id, &email.body)?;
        serde_json::from_slice(&plain).map_err(|_| MailSealError)
    }

    pub fn expiry_warning(&self, credential: &ExpiringCredential) -> MailContent {
        messages::expiry_warning(credential, self.policy.warning_days, &self.links)
    }

    /// An invitation; `password_link` is the token's whole URL.
    pub fn invitation(
        &self,
        org_name: &str,
        role: Role,
        email: &MailAddress,
        password_link: Option<&str>,
    ) -> MailContent {
        messages::invitation(org_name, role, email.as_str(), password_link, &self.links)
    }

    pub fn issuer(&self) -> &str {
        &self.links.issuer
    }
}

/// Who hears about an organisation's credentials: its notification
/// address when it has one, else its owners and admins. Read once per
/// organisation per scan.
#[derive(Default)]
pub struct Recipients(HashMap<OrgId, Vec<MailAddress>>);

impl Recipients {
    pub async fn of(
        &mut self,
        store: &dyn Store,
        credential: &ExpiringCredential,
    ) -> Result<Vec<MailAddress>, StorageError> {
        if let Some(address) = &credential.notification_email {
            return Ok(vec![address.clone()]);
        }
        if let Some(found) = self.0.get(&credential.org_id) {
            return Ok(found.clone());
        }
        let members = store.members(&credential.org_id).await?;
        let found: Vec<MailAddress> = members
            .iter()
            .filter(|(_, membership)| membership.role >= Role::Admin)
            .filter_map(|(user, _)| match MailAddress::parse(user.email.as_str()) {
                Ok(address) => Some(address),
                Err(_) => {
                    tracing::warn!(user = %user.id, "not emailing a member whose address mail cannot go to");
                    None
                }
            })
            .collect();
        self.0.insert(credential.org_id.clone(), found.clone());
        Ok(found)
    }
}
