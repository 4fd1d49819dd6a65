//! Pieces that the pages of keys and clients share: the one-time secret,
//! the status badge and forms, the grace-period choice and the typed delete.

use maud::{html, Markup};

use crate::domain::{EffectiveRateLimit, RateLimitSource};

use super::layout::csrf_field;
use super::org_page::OrgPage;

/// A secret shown once, with a copy button; `id` names its element.
pub fn shown_once(what: &str, id: &str, secret: &str) -> Markup {
    let lead =
        html! { strong { "Your new " (what) "." } " Copy it now: it is shown only this once." };
    notice_with_copy(lead, id, secret)
}

/// A new member's password link, shown once, to pass on.
pub fn invitation_link(link: &str) -> Markup {
    let lead = html! {
        strong { "Invitation made." }
        " Send this link to the new member: it sets their password, once, within 24 hours, and is shown only now."
    };
    notice_with_copy(lead, "invite-link", link)
}

fn notice_with_copy(lead: Markup, id: &str, text: &str) -> Markup {
    html! {
        div.notice role="status" {
            p { (lead) }
            div.secret {
                code id=(id) { (text) }
                button.secondary type="button" data-copy=(id) { "Copy" }
            }
        }
    }
}

pub fn status_badge(status: &str) -> Markup {
    html! { span class={ "badge " (status) } { (status) } }
}

/// The form that deactivates an active credential or activates it again.
pub fn status_form(action: &str, csrf: &str, active: bool, effect: &str) -> Markup {
    html! {
        form.card method="post" action=(action) {
            (csrf_field(csrf))
            @if active {
                input type="hidden" name="status" value="deactivated";
                p { (effect) }
                button.danger type="submit" { "Deactivate" }
            } @else {
                input type="hidden" name="status" value="active";
                p { "It is deactivated." }
                button type="submit" { "Activate" }
            }
        }
    }
}

/// How long the old secret keeps working after a roll or a rotation.
pub fn grace_period_field() -> Markup {
    html! {
        label for="grace" { "Grace period" }
        select #grace name="grace_period_seconds" {
            option value="3600" { "1 hour" }
            option value="86400" selected { "24 hours" }
            option value="604800" { "7 days" }
        }
    }
}

/// A delete that needs the credential's name typed.
pub fn delete_form(action: &str, csrf: &str, what: &str, name: &str) -> Markup {
    html! {
        form.card method="post" action=(action) data-confirm={ "Delete this " (what) " for good?" } {
            (csrf_field(csrf))
            label for="confirm" { "Type the " (what) "'s name, " code { (name) } ", to delete it at once" }
            input #confirm type="text" name="confirm" autocomplete="off" required;
            div.actions { button.danger type="submit" { "Delete " (what) } }
        }
    }
}

/// The control that creates a credential: disabled on a plan without API
/// access, absent for a role without `scope`.
pub fn create_button(org: &OrgPage<'_>, scope: &str, new_page: &str, label: &str) -> Markup {
    html! {
        @if !org.api_access {
            div {
                button type="button" disabled aria-describedby="no-access" { (label) }
                p #no-access .muted { "API access requires Starter or higher" }
            }
        } @else if org.can(scope) {
            a.button href=(org.url(new_page)) { (label) }
        }
    }
}

/// A time, or `never`.
pub fn when_or_never(at: Option<i64>) -> String {
    at.map(super::layout::when)
        .unwrap_or_else(|| "never".into())
}

/// A credential's effective rate limit and where it comes from.
pub fn rate_limit(limit: &EffectiveRateLimit) -> Markup {
    html! {
        @match limit.per_minute {
            Some(n) => { (n) " per minute" },
            None => "no limit",
        }
        span.hint {
            @match &limit.source {
                RateLimitSource::Credential => " (its own)",
                RateLimitSource::Scope(scope) => { " (the tier of scope " code { (scope.as_str()) } ")" },
                RateLimitSource::Default => " (the default: none of its own, no tier among its scopes)",
            }
        }
    }
}
