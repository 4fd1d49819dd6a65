//! Where an organisation's expiry warnings go and how they went: its
//! notification email (owners and admins change it; blank sends to them
//! again) and the deliveries of emails and webhooks. Every member reads it.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::deliveries::{self, DeliveryFilter};
use super::error::ConsoleError;
use super::layout::{csrf_field, Section};
use super::org_page::{see_other, OrgPage};
use super::session::SignedIn;
use crate::domain::management_scope::{CLIENTS_WRITE, MEMBERS_WRITE};
use crate::management::{Management, OrganisationChanges};

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    after: String,
}

impl PageQuery {
    fn filter(&self) -> DeliveryFilter<'_> {
        DeliveryFilter {
            kind: &self.kind,
            state: &self.state,
            after: &self.after,
        }
    }
}

#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    notification_email: String,
}

/// The address form as sent back with why it was refused.
struct Refused<'a> {
    typed: &'a str,
    why: &'a str,
}

pub async fn page(
    path: web::Path<String>,
    query: web::Query<PageQuery>,
    signed_in: SignedIn,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    let org = OrgPage::open(&signed_in, &management, &path, Section::Notifications).await?;
    render(&org, &management, &query.filter(), StatusCode::OK, None).await
}

pub async fn set_email(
    path: web::Path<String>,
    signed_in: SignedIn,
    input: web::Form<EmailForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let org = OrgPage::open(&signed_in, &management, &path, Section::Notifications).await?;
    org.require(CLIENTS_WRITE)?;
    let typed = input.notification_email.trim();
    let changes = OrganisationChanges {
        notification_email: Some(Some(typed.to_owned()).filter(|a| !a.is_empty())),
        ..OrganisationChanges::default()
    };
    match management
        .update_organisation(&org.caller(), &org.org.id, changes)
        .await
    {
        Ok(_) => Ok(see_other(org.url("/notifications"))),
        Err(refused) => {
            let (status, why) = ConsoleError::from(refused).for_form()?;
            let filter = PageQuery {
                kind: String::new(),
                state: String::new(),
                after: String::new(),
            };
            let refused = Refused { typed, why: &why };
            render(&org, &management, &filter.filter(), status, Some(refused)).await
        }
    }
}

async fn render(
    org: &OrgPage<'_>,
    management: &Management,
    filter: &DeliveryFilter<'_>,
    status: StatusCode,
    refused: Option<Refused<'_>>,
) -> Result<HttpResponse, ConsoleError> {
    let base = org.url("/notifications");
    let (rows, next) = deliveries::page_of(org, management, filter, &base).await?;
    let body = html! {
        h1 { "Notifications" }
        p {
            "Keyward warns before an API key or a client expires: by email, and by webhook when one is set."
        }
        (email_card(org, refused))
        (webhook_card(org))
        (deliveries::section(&base, filter, &rows, next.as_deref()))
    };
    Ok(org.page_with(status, "Notifications", body))
}

fn email_card(org: &OrgPage<'_>, refused: Option<Refused<'_>>) -> Markup {
    let current = org.org.notification_email.as_ref().map(|a| a.as_str());
    let shown = refused
        .as_ref()
        .map_or(current.unwrap_or_default(), |r| r.typed);
    html! {
        div.card {
            h2 { "Notification email" }
            @if org.can(CLIENTS_WRITE) {
                form method="post" action=(org.url("/notifications")) {
                    (csrf_field(&org.signed_in.csrf))
                    @if let Some(refused) = &refused {
                        div.notice.error role="alert" id="email-error" { (refused.why) }
                    }
                    label for="notification_email" {
                        "Address " span.hint { "(blank: the owners and admins)" }
                    }
                    input #notification_email type="text" inputmode="email" name="notification_email"
                        value=(shown) placeholder="alerts@example.com"
                        aria-invalid=[refused.is_some().then_some("true")];
                    div.actions { button type="submit" { "Save" } }
                }
            } @else {
                p #notification-email {
                    (current.unwrap_or("Not set: emails go to the owners and admins."))
                }
            }
        }
    }
}

fn webhook_card(org: &OrgPage<'_>) -> Markup {
    html! {
        div.card {
            h2 { "Webhook" }
            p {
                @match &org.org.webhook_url {
                    Some(url) => { code { (url) } }
                    None => "No webhook is set.",
                }
                @if org.can(MEMBERS_WRITE) {
                    " " a href=(org.url("/webhooks")) { "Webhook settings" }
                }
            }
        }
    }
}
