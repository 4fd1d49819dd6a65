//! What the emails say, as plain text and as HTML. Every value a tenant
//! chose (names) reaches the HTML through maud, which escapes it, and the
//! subject only after `one_line`. No email holds a client secret or an
//! API key: only the key's public prefix.

use maud::{html, Markup, DOCTYPE};

use crate::domain::{ApiKeyId, ExpiringCredential, MailContent, Role};
use crate::time::rfc3339;

/// Where the links of an email point.
#[derive(Debug, Clone)]
pub struct Links {
    /// The issuer URL, without a trailing slash.
    pub issuer: String,
    /// Whether `/console` is served, so its pages may be linked.
    pub console: bool,
}

/// A subject line: control characters (line breaks above all) become
/// spaces and the length is bounded. lettre encodes what remains.
pub fn one_line(text: &str) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(150)
        .collect();
    line.trim().to_owned()
}

fn when(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M UTC")
        .to_string()
}

/// The warning that `credential` expires within `days`.
pub fn expiry_warning(credential: &ExpiringCredential, days: u32, links: &Links) -> MailContent {
    let org = credential.org_id.as_str();
    let (what, path, identity) = match credential.kind {
        "api_key" => {
            let prefix = ApiKeyId::parse(&credential.id)
                .map(|id| id.key_prefix())
                .unwrap_or_default();
            let identity = format!("{prefix}… (id {})", credential.id);
            ("API key", "api-keys", identity)
        }
        _ => ("OAuth client", "clients", credential.id.clone()),
    };
    let api = format!(
        "{}/admin/v1/orgs/{org}/{path}/{}",
        links.issuer, credential.id
    );
    let console = links.console.then(|| {
        format!(
            "{}/console/orgs/{org}/{path}/{}/edit",
            links.issuer, credential.id
        )
    });
    let expires = when(credential.expires_at);
    let subject = one_line(&format!(
        "{what} \"{}\" of {} expires {expires}",
        credential.name, credential.org_name
    ));
    let body = ExpiryBody {
        what,
        name: &credential.name,
        identity: &identity,
        org_name: &credential.org_name,
        org,
        expires: &expires,
        expires_at: &rfc3339(credential.expires_at),
        api: &api,
        console: console.as_deref(),
        days,
    };
    MailContent {
        subject,
        text: body.text(),
        html: page(&body.html()),
    }
}

struct ExpiryBody<'a> {
    what: &'a str,
    name: &'a str,
    identity: &'a str,
    org_name: &'a str,
    org: &'a str,
    expires: &'a str,
    expires_at: &'a str,
    api: &'a str,
    console: Option<&'a str>,
    days: u32,
}

impl ExpiryBody<'_> {
    fn text(&self) -> String {
        let mut text = format!(
            "The {what} \"{name}\" of {org_name} expires on {expires}.\n\n\
             {what}: {identity}\n\
             Organisation: {org_name} ({org})\n\
             Expires: {expires_at}\n\n\
             From then on it is refused. To keep it working, give it a later expiry\n\
             date, or none:\n\n",
            what = self.what,
            name = self.name,
            org_name = self.org_name,
            expires = self.expires,
            identity = self.identity,
            org = self.org,
            expires_at = self.expires_at,
        );
        if let Some(console) = self.console {
            text.push_str(&format!("- in the console: {console}\n"));
        }
        text.push_str(&format!(
            "- with the management API:\n\n    PATCH {}\n    Content-Type: application/json\n\n    \
             {{\"expires_at\": \"<a later time, RFC 3339>\"}}\n\n",
            self.api
        ));
        text.push_str(&format!(
            "Keyward warns once per expiry date, {} days ahead. You get this email as an\n\
             owner or admin of {}, or as its notification address.\n",
            self.days, self.org_name
        ));
        text
    }

    fn html(&self) -> Markup {
        html! {
            p { "The " (self.what) " " strong { (self.name) } " of " (self.org_name)
                " expires on " strong { (self.expires) } "." }
            table {
                tr { th align="left" { (self.what) } td { code { (self.identity) } } }
                tr { th align="left" { "Organisation" } td { (self.org_name) " (" code { (self.org) } ")" } }
                tr { th align="left" { "Expires" } td { code { (self.expires_at) } } }
            }
            p { "From then on it is refused. To keep it working, give it a later expiry date, or none:" }
            ul {
                @if let Some(console) = self.console {
                    li { "in the console: " a href=(console) { (console) } }
                }
                li { "with the management API:"
                    pre { "PATCH " (self.api) "\nContent-Type: application/json\n\n"
                        "{\"expires_at\": \"<a later time, RFC 3339>\"}" }
                }
            }
            p { small { "Keyward warns once per expiry date, " (self.days) " days ahead. You get this "
                "email as an owner or admin of " (self.org_name) ", or as its notification address." } }
        }
    }
}

/// An invitation to `org_name`: with the link that sets a new user's
/// password, or, for a user who has one, where to sign in.
pub fn invitation(
    org_name: &str,
    role: Role,
    email: &str,
    password_link: Option<&str>,
    links: &Links,
) -> MailContent {
    let sign_in = format!("{}/console/sign-in", links.issuer);
    let role = role.as_str();
    let (subject, text, html) = match password_link {
        Some(link) => (
            format!("You are invited to {org_name} on Keyward"),
            format!(
                "You are invited to the organisation {org_name} on Keyward, as {role}.\n\n\
                 Set your password within 24 hours (the link works once):\n\n    {link}\n\n\
                 Then sign in at {sign_in} as {email}.\n\n\
                 If you did not expect this, ignore this email: without a password nobody\n\
                 can sign in as you.\n"
            ),
            html! {
                p { "You are invited to the organisation " strong { (org_name) } " on Keyward, as " (role) "." }
                p { "Set your password within 24 hours (the link works once):" }
                p { a href=(link) { "Set your password" } }
                p { "Then sign in at " a href=(sign_in) { (sign_in) } " as " (email) "." }
                p { small { "If you did not expect this, ignore this email: without a password nobody can sign in as you." } }
            },
        ),
        None => (
            format!("You were added to {org_name} on Keyward"),
            format!(
                "You were added to the organisation {org_name} on Keyward, as {role}.\n\n\
                 Sign in at {sign_in} as {email}.\n"
            ),
            html! {
                p { "You were added to the organisation " strong { (org_name) } " on Keyward, as " (role) "." }
                p { "Sign in at " a href=(sign_in) { (sign_in) } " as " (email) "." }
            },
        ),
    };
    MailContent {
        subject: one_line(&subject),
        text,
        html: page(&html),
    }
}

fn page(body: &Markup) -> String {
    html! {
        (DOCTYPE)
        html {
            head { meta charset="utf-8"; }
            body style="font-family: sans-serif; line-height: 1.5" { (body) }
        }
    }
    .into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::OrgId;

    const LINKS: Links = Links {
        issuer: String::new(),
        console: true,
    };

    fn key(name: &str) -> ExpiringCredential {
        ExpiringCredential {
            kind: "api_key",
            id: "ak_AbCdEfGh12345678".into(),
            org_id: OrgId::generate(),
            name: name.into(),
            expires_at: 1_800_000_000,
            org_name: "<b>Acme</b> & Co".into(),
            webhook_url: None,
            notification_email: None,
        }
    }

    #[test]
    fn an_expiry_warning_names_the_key_its_prefix_its_expiry_and_the_way_out() {
        let mail = expiry_warning(&key("deploys"), 7, &LINKS);
        for part in [&mail.text, &mail.html] {
            assert!(part.contains("deploys"), "{part}");
            assert!(part.contains("kw_AbCdEfGh12345678"), "{part}");
            assert!(part.contains("2027-01-15 08:00 UTC"), "{part}");
            assert!(part.contains("2027-01-15T08:00:00Z"), "{part}");
            assert!(
                part.contains("/api-keys/ak_AbCdEfGh12345678/edit"),
                "{part}"
            );
            assert!(part.contains("PATCH /admin/v1/orgs/"), "{part}");
        }
        assert_eq!(
            mail.subject,
            "API key \"deploys\" of <b>Acme</b> & Co expires 2027-01-15 08:00 UTC"
        );
    }

    #[test]
    fn tenant_values_are_escaped_in_html_and_flattened_in_the_subject() {
        let mail = expiry_warning(&key("<script>x</script>\r\nBcc: a@evil.example"), 7, &LINKS);
        assert!(!mail.html.contains("<script>"), "{}", mail.html);
        assert!(mail.html.contains("&lt;script&gt;"));
        assert!(!mail.html.contains("<b>Acme"));
        assert!(mail.html.contains("&lt;b&gt;Acme&lt;/b&gt; &amp; Co"));
        assert!(!mail.subject.contains(['\r', '\n']), "{}", mail.subject);
        let invite = invitation("<i>Acme</i>", Role::Admin, "a@x.example", None, &LINKS);
        assert!(invite.html.contains("&lt;i&gt;Acme"));
    }

    #[test]
    fn an_invitation_carries_the_link_only_for_a_new_user() {
        let new = invitation(
            "Acme",
            Role::Owner,
            "a@x.example",
            Some("/l?token=t"),
            &LINKS,
        );
        assert!(new.text.contains("/l?token=t") && new.html.contains("/l?token=t"));
        assert!(new.text.contains("as owner"));
        let known = invitation("Acme", Role::Viewer, "a@x.example", None, &LINKS);
        assert!(!known.text.contains("token") && known.text.contains("/console/sign-in"));
    }
}
