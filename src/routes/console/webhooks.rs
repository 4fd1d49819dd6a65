//! An organisation's webhook, for its owners: where expiry warnings go and
//! the signing secret (shown once when made or rotated). Its deliveries are
//! listed with the emails' on the notifications page.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::error::ConsoleError;
use super::form_fields::CsrfForm;
use super::layout::{csrf_field, Section};
use super::org_page::{see_other, OrgPage};
use super::session::SignedIn;
use super::widgets::shown_once;
use crate::domain::management_scope::MEMBERS_WRITE;
use crate::management::{Management, OrganisationChanges};

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
    signed_in: SignedIn,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    let org = open(&signed_in, &management, &path).await?;
    signed_in.page_revealing(&req, |secret| {
        org.page("Webhooks", webhooks_page(&org, secret))
    })
}

fn webhooks_page(org: &OrgPage<'_>, secret: Option<&str>) -> Markup {
    let csrf = &org.signed_in.csrf;
    let url = org.org.webhook_url.as_deref().unwrap_or_default();
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
        p {
            "What was sent and how it went: "
            a href={ (org.url("/notifications")) "?kind=webhook" } { "the webhook deliveries" } "."
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
