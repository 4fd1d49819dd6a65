//! The frame of every console page: the document, the top bar with the
//! organisation's sections, and the sign-out form.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use maud::{html, Markup, DOCTYPE};

use crate::domain::{Organisation, Role};
use crate::management::console_sessions::Member;

/// The parts of an organisation the top bar links to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overview,
    ApiKeys,
    Clients,
    Audit,
    Members,
    Notifications,
    Webhooks,
}

/// Who is signed in, where they are, and the token their forms carry.
pub struct Frame<'a> {
    pub member: &'a Member,
    pub org: Option<&'a Organisation>,
    pub section: Option<Section>,
    pub csrf: &'a str,
}

fn document(title: &str, top: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Keyward console" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                (top)
                main #main tabindex="-1" { (body) }
            }
        }
    }
}

/// A page outside any organisation: sign-in, password links, errors.
pub fn bare(title: &str, body: Markup) -> Markup {
    let top = html! {
        header.top { div.bar { a.brand href="/console" { "Keyward" } } }
    };
    document(title, top, body)
}

/// A small card of its own outside any organisation (sign-in, password
/// links): a heading, what went wrong if anything, and `content`.
pub fn card(title: &str, problem: Option<&str>, content: Markup) -> Markup {
    bare(
        title,
        html! {
            div.card.narrow {
                h1 { (title) }
                @if let Some(problem) = problem {
                    div.notice.error role="alert" { (problem) }
                }
                (content)
            }
        },
    )
}

/// A page of the operator, signed in with the root token.
pub fn operator_page(title: &str, csrf: &str, body: Markup) -> Markup {
    let top = html! {
        header.top {
            div.bar {
                a.brand href="/console/operator" { "Keyward · operator" }
                form method="post" action="/console/operator/sign-out" {
                    (csrf_field(csrf))
                    button type="submit" { "Sign out" }
                }
            }
        }
    };
    document(title, top, body)
}

/// A page of a signed-in member.
pub fn page(title: &str, frame: &Frame<'_>, body: Markup) -> Markup {
    let link = |section: Section, href: String, label: &str| {
        let current = frame.section == Some(section);
        html! {
            a href=(href) aria-current=[current.then_some("page")] { (label) }
        }
    };
    let top = html! {
        header.top {
            div.bar {
                a.brand href="/console" { "Keyward" }
                @if let Some(org) = frame.org {
                    nav aria-label="Organisation" {
                        (link(Section::Overview, format!("/console/orgs/{}", org.id), org.name.as_str()))
                        (link(Section::ApiKeys, format!("/console/orgs/{}/api-keys", org.id), "API keys"))
                        (link(Section::Clients, format!("/console/orgs/{}/clients", org.id), "OAuth clients"))
                        (link(Section::Audit, format!("/console/orgs/{}/audit", org.id), "Audit trail"))
                        (link(Section::Notifications, format!("/console/orgs/{}/notifications", org.id), "Notifications"))
                        @if frame.member.membership(&org.id).is_some_and(|m| m.role == Role::Owner) {
                            (link(Section::Members, format!("/console/orgs/{}/members", org.id), "Members"))
                            (link(Section::Webhooks, format!("/console/orgs/{}/webhooks", org.id), "Webhooks"))
                        }
                    }
                }
                span.muted { (frame.member.user.display_name.as_str()) }
                form method="post" action="/console/sign-out" {
                    input type="hidden" name="csrf" value=(frame.csrf);
                    button type="submit" { "Sign out" }
                }
            }
        }
    };
    document(title, top, body)
}

/// An HTML response of `markup`.
pub fn respond(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}

/// A hidden field with the session's CSRF token, for every form.
pub fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// A timestamp as the pages show it: `2026-11-30 17:04 UTC`.
pub fn when(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}
