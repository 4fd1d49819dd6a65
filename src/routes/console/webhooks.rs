//! An organisation's webhook, for its owners: where expiry warnings go, the
//! signing secret (shown once when made or rotated), and the deliveries.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::error::ConsoleError;
use super::form_fields::CsrfForm;
use super::layout::{csrf_field, when, Section};
use super::org_page::{see_other, OrgPage};
use super::paging;
use super::session::SignedIn;
use super::widgets::{shown_once, when_or_never};
use crate::domain::management_scope::MEMBERS_WRITE;
use crate::domain::WebhookDelivery;
use crate::management::{Management, OrganisationChanges};

#[derive(Deserialize)]
pub struct DeliveriesQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    after: String,
}

#[derive(Deserialize)]
pub struct UrlForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
}

async fn open<'a>(
    signed_in: &'a SignedIn,
    management: &Management,
    org_id: &str,
) -> Result<OrgPage<'a>, ConsoleError> {
    let org = OrgPage::open(signed_in, management, org_id, Section::Webhooks).await?;
    org.require(MEMBERS_WRITE)?;
    Ok(org)
}

pub async fn page(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<DeliveriesQuery>,
    signed_in: SignedIn,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    let org = open(&signed_in, &management, &path).await?;
    let page = paging::request(&query.after);
    let state = Some(query.state.as_str()).filter(|s| !s.is_empty());
    let mut deliveries = management
        .list_webhook_deliveries(&org.caller(), &org.org.id, state, &page)
        .await?;
    let next = paging::next_page(
        &mut deliveries,
        |d| (d.created_at, d.id.as_str()),
        &org.url("/webhooks"),
        &[("state", query.state.as_str())],
    );
    signed_in.page_revealing(&req, |secret| {
        let body = webhooks_page(&org, secret, &deliveries, &query.state, next.as_deref());
        org.page("Webhooks", body)
    })
}

fn webhooks_page(
    org: &OrgPage<'_>,
    secret: Option<&str>,
    deliveries: &[WebhookDelivery],
    state: &str,
    next: Option<&str>,
) -> Markup {
    let csrf = &org.signed_in.csrf;
    let url = org.org.webhook_url.as_deref().unwrap_or_default();
    let option = |value: &str, label: &str| {
        html! { option value=(value) selected[value == state] { (label) } }
    };
    html! {
        h1 { "Webhooks" }
        @if let Some(secret) = secret {
            (shown_once("signing secret", "new-secret", secret))
        }
        p { "Keyward sends a signed webhook (" code { "X-Keyward-Signature" } ") when an API key or a client is about to expire." }
        form.card method="post" action=(org.url("/webhooks")) {
            (csrf_field(csrf))
            label for="url" { "Webhook URL " span.hint { "(https; blank for none)" } }
            input #url type="text" name="url" value=(url) placeholder="https://example.com/keyward";
            div.actions { button type="submit" { "Save" } }
        }
        @if org.org.webhook_signing_nonce.is_some() {
            form.card method="post" action=(org.url("/webhooks/rotate-secret")) {
                (csrf_field(csrf))
                p { "A new signing secret, shown once; the current one stops signing at once." }
                button.secondary type="submit" { "Rotate the signing secret" }
            }
        }
        h2 { "Deliveries" }
        form.filters method="get" action=(org.url("/webhooks")) {
            div {
                label for="state" { "State" }
                select #state name="state" {
                    (option("", "Any"))
                    (option("pending", "Pending"))
                    (option("delivered", "Delivered"))
                    (option("failed", "Failed"))
                }
            }
            div { button.secondary type="submit" { "Filter" } }
        }
        @if deliveries.is_empty() {
            p.muted { "No deliveries." }
        } @else {
            div.table-wrap {
                table {
                    thead { tr {
                        th scope="col" { "Created" }
                        th scope="col" { "Event" }
                        th scope="col" { "State" }
                        th scope="col" { "Attempts" }
                        th.optional scope="col" { "Last result" }
                        th.optional scope="col" { "Next attempt" }
                    } }
                    tbody {
                        @for delivery in deliveries {
                            tr {
                                td.nowrap { (when(delivery.created_at)) }
                                td { code { (delivery.event_type) } }
                                td { (delivery.state.as_str()) }
                                td { (delivery.attempts) }
                                td.optional { (delivery.last_error.as_deref().unwrap_or("")) }
                                td.optional { (when_or_never(delivery.next_attempt_at)) }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next {
            p.pager { a href=(next) { "Older deliveries" } }
        }
    }
}

pub async fn set_url(
    path: web::Path<String>,
    signed_in: SignedIn,
    input: web::Form<UrlForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let org = open(&signed_in, &management, &path).await?;
    let url = Some(input.url.trim().to_owned()).filter(|u| !u.is_empty());
    let changes = OrganisationChanges {
        webhook_url: Some(url),
        ..OrganisationChanges::default()
    };
    let updated = management
        .update_organisation(&org.caller(), &org.org.id, changes)
        .await?;
    let page = org.url("/webhooks");
    Ok(match updated.webhook_secret {
        Some(secret) => signed_in.redirect_revealing(page, secret.expose_secret()),
        None => see_other(page),
    })
}

pub async fn rotate_secret(
    path: web::Path<String>,
    signed_in: SignedIn,
    input: web::Form<CsrfForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let org = open(&signed_in, &management, &path).await?;
    let secret = management
        .rotate_webhook_secret(&org.caller(), &org.org.id)
        .await?;
    Ok(signed_in.redirect_revealing(org.url("/webhooks"), secret.expose_secret()))
}
