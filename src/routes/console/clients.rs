//! An organisation's OAuth clients: the list, create (the secret shown
//! once, beside the client id), the client's page with edit, its keys
//! (`client_keys`), deactivate or activate, secret rotation with an
//! overlap, and delete.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::error::ConsoleError;
use super::form_fields::{
    entries, expiry, local_time, rate_limit, DeleteForm, GraceForm, StatusForm,
};
use super::layout::{csrf_field, when, Section};
use super::org_page::{see_other, OrgPage};
use super::paging;
use super::session::SignedIn;
use super::widgets::{
    self, create_button, delete_form, grace_period_field, shown_once, status_badge, status_form,
    when_or_never,
};
use crate::domain::management_scope::CLIENTS_WRITE;
use crate::domain::{Client, ClientId, ClientStatus, RateTiers};
use crate::management::{ClientChanges, Management, NewClient, SecretRotation};

#[derive(Deserialize)]
pub struct ListQuery {
    /// `<created_at>.<id>` of the last client of the previous page.
    #[serde(default)]
    after: String,
}

#[derive(Deserialize, Default)]
pub struct ClientForm {
    #[serde(default)]
    csrf: String,
    name: String,
    #[serde(default)]
    scopes: String,
    #[serde(default)]
    audiences: String,
    #[serde(default)]
    expires_at: String,
    #[serde(default)]
    rate_limit: String,
    #[serde(default)]
    ip_allowlist: String,
}

fn client_id(raw: &str) -> Result<ClientId, ConsoleError> {
    ClientId::parse(raw).map_err(|_| ConsoleError::NotFound)
}

async fn open<'a>(
    signed_in: &'a SignedIn,
    management: &Management,
    org_id: &str,
) -> Result<OrgPage<'a>, ConsoleError> {
    OrgPage::open(signed_in, management, org_id, Section::Clients).await
}

/// The organisation's page and the id of the path `(org_id, id)`.
pub(super) async fn open_client<'a>(
    signed_in: &'a SignedIn,
    management: &Management,
    path: &(String, String),
) -> Result<(OrgPage<'a>, ClientId), ConsoleError> {
    let org = open(signed_in, management, &path.0).await?;
    Ok((org, client_id(&path.1)?))
}

pub async fn list(
    path: web::Path<String>,
    query: web::Query<ListQuery>,
    signed_in: SignedIn,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    let org = open(&signed_in, &management, &path).await?;
    let page = paging::request(&query.after);
    let mut found = management
        .list_clients(&org.caller(), Some(&org.org.id), &page)
        .await?;
    let now = management.clock.unix();
    let base = org.url("/clients");
    let next = paging::next_page(&mut found, |c| (c.created_at, c.id.as_str()), &base, &[]);
    let body = html! {
        div.row.spread {
            h1 { "OAuth clients" }
            (create_button(&org, CLIENTS_WRITE, "/clients/new", "Create client"))
        }
        @if found.is_empty() {
            p.muted { "No OAuth clients yet." }
        } @else {
            div.table-wrap {
                table {
                    thead { tr {
                        th scope="col" { "Name" }
                        th scope="col" { "Client id" }
                        th.optional scope="col" { "Scopes" }
                        th scope="col" { "Status" }
                        th.optional scope="col" { "Expires" }
                        th.optional scope="col" { "Last used" }
                        th scope="col" { "Requests" }
                    } }
                    tbody {
                        @for client in &found {
                            tr {
                                td { a href={ (base) "/" (client.id) } { (client.name.as_str()) } }
                                td { code { (client.id) } }
                                td.optional { (client.scopes.to_string()) }
                                td { (status_badge(status_of(client, now))) }
                                td.optional { (when_or_never(client.expires_at)) }
                                td.optional { (when_or_never(client.last_used_at)) }
                                td { (client.request_count) }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next {
            p.pager { a href=(next) { "Next page" } }
        }
    };
    Ok(org.page("OAuth clients", body))
}

fn status_of(client: &Client, now: i64) -> &'static str {
    if client.status == ClientStatus::Deactivated {
        "deactivated"
    } else if client.is_expired(now) {
        "expired"
    } else {
        "active"
    }
}

/// The fields that create and edit share.
fn client_fields(values: &ClientForm) -> Markup {
    html! {
        label for="name" { "Name" }
        input #name type="text" name="name" value=(values.name) required maxlength="200";
        label for="scopes" { "Scopes " span.hint { "(separated by spaces)" } }
        input #scopes type="text" name="scopes" value=(values.scopes) required;
        label for="audiences" { "Audiences " span.hint { "(the APIs its tokens are for, as URLs; separated by spaces)" } }
        input #audiences type="text" name="audiences" value=(values.audiences);
        label for="expires_at" { "Expires " span.hint { "(UTC; blank for never)" } }
        input #expires_at type="datetime-local" name="expires_at" value=(values.expires_at);
        label for="rate_limit" { "Token requests per minute " span.hint { "(1–10,000; blank for none of its own: its scopes' tier, else no limit)" } }
        input #rate_limit type="number" name="rate_limit" min="1" max="10000" value=(values.rate_limit);
        label for="ip_allowlist" { "IP allowlist " span.hint { "(addresses or CIDR ranges that may ask for tokens; blank for any)" } }
        input #ip_allowlist type="text" name="ip_allowlist" value=(values.ip_allowlist);
    }
}

fn client_form(org: &OrgPage<'_>, values: &ClientForm, problem: Option<&str>) -> Markup {
    html! {
        h1 { "Create an OAuth client" }
        @if let Some(problem) = problem {
            div.notice.error role="alert" { (problem) }
        }
        form.card method="post" action=(org.url("/clients")) {
            (csrf_field(&org.signed_in.csrf))
            (client_fields(values))
            div.actions {
                button type="submit" { "Create client" }
                a.button.secondary href=(org.url("/clients")) { "Cancel" }
            }
        }
    }
}

pub async fn new_form(
    path: web::Path<String>,
    signed_in: SignedIn,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    let org = open(&signed_in, &management, &path).await?;
    org.require(CLIENTS_WRITE)?;
    org.require_api_access()?;
    let body = client_form(&org, &ClientForm::default(), None);
    Ok(org.page("Create an OAuth client", body))
}

pub async fn create(
    path: web::Path<String>,
    signed_in: SignedIn,
    input: web::Form<ClientForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let org = open(&signed_in, &management, &path).await?;
    let created = async {
        let new = NewClient {
            name: input.name.clone(),
            scopes: entries(&input.scopes),
            audiences: entries(&input.audiences),
            expires_at: expiry(&input.expires_at)?,
            rate_limit_per_minute: rate_limit(&input.rate_limit)?,
            ip_allowlist: entries(&input.ip_allowlist),
            resource_server: false,
            client_secret: None,
            token_endpoint_auth_method: None,
            public_keys: Vec::new(),
            jwks_uri: None,
            dpop_bound_access_tokens: false,
        };
        Ok::<_, ConsoleError>(
            management
                .create_client(&org.caller(), &org.org.id, new)
                .await?,
        )
    };
    match created.await {
        Ok(created) => {
            let page = org.url(&format!("/clients/{}", created.client.id));
            let secret = created.secret.expect("a generated secret");
            Ok(signed_in.redirect_revealing(page, secret.expose()))
        }
        Err(refused) => {
            let (status, why) = refused.for_form()?;
            let body = client_form(&org, &input, Some(&why));
            Ok(org.page_with(status, "Create an OAuth client", body))
        }
    }
}

pub async fn detail(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    signed_in: SignedIn,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    let (org, id) = open_client(&signed_in, &management, &path).await?;
    let client = management
        .get_client(&org.caller(), &org.org.id, &id)
        .await?;
    let now = management.clock.unix();
    signed_in.page_revealing(&req, |secret| {
        org.page(
            client.name.as_str(),
            client_page(&org, &client, now, &management.rate_tiers, secret),
        )
    })
}

fn client_page(
    org: &OrgPage<'_>,
    client: &Client,
    now: i64,
    tiers: &RateTiers,
    secret: Option<&str>,
) -> Markup {
    let here = org.url(&format!("/clients/{}", client.id));
    let csrf = &org.signed_in.csrf;
    let list = |items: Vec<String>| items.join(" ");
    let values = ClientForm {
        csrf: String::new(),
        name: client.name.as_str().to_owned(),
        scopes: client.scopes.to_string(),
        audiences: list(
            client
                .audiences
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect(),
        ),
        expires_at: client.expires_at.map(local_time).unwrap_or_default(),
        rate_limit: client
            .rate_limit_per_minute
            .map(|n| n.to_string())
            .unwrap_or_default(),
        ip_allowlist: list(client.ip_allowlist.entries().collect()),
    };
    html! {
        p { a href=(org.url("/clients")) { "← OAuth clients" } }
        h1 { (client.name.as_str()) " " (status_badge(status_of(client, now))) }
        @if let Some(secret) = secret {
            (shown_once("client secret", "new-secret", secret))
        }
        div.card {
            dl.facts {
                dt { "Client id" }
                dd.secret {
                    code #client-id { (client.id) }
                    button.secondary type="button" data-copy="client-id" { "Copy" }
                }
                dt { "Scopes" } dd { (client.scopes.to_string()) }
                dt { "Audiences" } dd { @if values.audiences.is_empty() { "the issuer" } @else { (values.audiences) } }
                dt { "Created" } dd { (when(client.created_at)) }
                dt { "Expires" } dd { (when_or_never(client.expires_at)) }
                dt { "Rate limit" } dd #rate-limit { (widgets::rate_limit(&tiers.of_client(client))) }
                dt { "IP allowlist" } dd { @if client.ip_allowlist.is_empty() { "any address" } @else { (values.ip_allowlist) } }
                dt { "Last used" } dd { (when_or_never(client.last_used_at)) }
                dt { "Requests" } dd { (client.request_count) }
            }
        }
        @if !org.can(CLIENTS_WRITE) {
            (super::client_keys::section(org, client))
        }
        @if org.can(CLIENTS_WRITE) {
            h2 { "Edit" }
            form.card method="post" action={ (here) "/edit" } {
                (csrf_field(csrf))
                (client_fields(&values))
                div.actions { button type="submit" { "Save changes" } }
            }
            (super::client_keys::section(org, client))
            h2 { "Rotate the secret" }
            form.card method="post" action={ (here) "/rotate" } {
                (csrf_field(csrf))
                p { "A new secret, shown once; the current one keeps working for the grace period." }
                (grace_period_field())
                div.actions { button type="submit" { "Rotate secret" } }
            }
            h2 { "Status" }
            (status_form(&format!("{here}/status"), csrf, client.status == ClientStatus::Active,
                "A deactivated client gets no tokens, and its tokens introspect inactive."))
            h2 { "Delete" }
            (delete_form(&format!("{here}/delete"), csrf, "client", client.name.as_str()))
        }
    }
}

pub async fn edit(
    path: web::Path<(String, String)>,
    signed_in: SignedIn,
    input: web::Form<ClientForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let (org, id) = open_client(&signed_in, &management, &path).await?;
    let caller = org.caller();
    let client = management.get_client(&caller, &org.org.id, &id).await?;
    // An expiry left as shown is not sent: an expired client stays editable.
    let shown = client.expires_at.map(local_time).unwrap_or_default();
    let expires_at = if input.expires_at.trim() == shown {
        None
    } else {
        Some(expiry(&input.expires_at)?)
    };
    let changes = ClientChanges {
        name: Some(input.name.clone()),
        scopes: Some(entries(&input.scopes)),
        audiences: Some(entries(&input.audiences)),
        expires_at,
        rate_limit_per_minute: Some(rate_limit(&input.rate_limit)?),
        ip_allowlist: Some(entries(&input.ip_allowlist)),
        resource_server: None,
        token_endpoint_auth_method: None,
        jwks_uri: None,
        dpop_bound_access_tokens: None,
    };
    management
        .update_client(&caller, &org.org.id, &id, changes)
        .await?;
    Ok(see_other(org.url(&format!("/clients/{id}"))))
}

pub async fn rotate(
    path: web::Path<(String, String)>,
    signed_in: SignedIn,
    input: web::Form<GraceForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let (org, id) = open_client(&signed_in, &management, &path).await?;
    let rotation = SecretRotation {
        grace_period_seconds: Some(input.grace_period_seconds),
        client_secret: None,
    };
    let rotated = management
        .rotate_client_secret(&org.caller(), &org.org.id, &id, rotation)
        .await?;
    let page = org.url(&format!("/clients/{id}"));
    let secret = rotated.secret.expect("a generated secret");
    Ok(signed_in.redirect_revealing(page, secret.expose()))
}

pub async fn set_status(
    path: web::Path<(String, String)>,
    signed_in: SignedIn,
    input: web::Form<StatusForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let (org, id) = open_client(&signed_in, &management, &path).await?;
    let status = ClientStatus::parse(&input.status)
        .ok_or_else(|| ConsoleError::Invalid("status: must be active or deactivated".into()))?;
    management
        .set_client_status(&org.caller(), &org.org.id, &id, status)
        .await?;
    Ok(see_other(org.url(&format!("/clients/{id}"))))
}

pub async fn delete(
    path: web::Path<(String, String)>,
    signed_in: SignedIn,
    input: web::Form<DeleteForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let (org, id) = open_client(&signed_in, &management, &path).await?;
    let caller = org.caller();
    let client = management.get_client(&caller, &org.org.id, &id).await?;
    input.confirms(client.name.as_str(), "client")?;
    management.delete_client(&caller, &org.org.id, &id).await?;
    Ok(see_other(org.url("/clients")))
}
