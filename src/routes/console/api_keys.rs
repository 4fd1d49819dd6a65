//! An organisation's API keys: the filtered list, create (the key shown
//! once), the key's page with edit, deactivate or activate, roll and delete.
//! Every change is a management use case, called as the signed-in member.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::error::ConsoleError;
use super::form_fields::{entries, expiry, local_time, rate_limit};
use super::layout::{self, csrf_field, when, Section};
use super::orgs::org_id;
use super::session::SignedIn;
use crate::domain::api_key::DEFAULT_KEY_RATE_LIMIT;
use crate::domain::management_scope::KEYS_WRITE;
use crate::domain::{ApiKey, ApiKeyId, ApiKeyStatus, OrgId, Organisation, Scope};
use crate::management::{ApiKeyChanges, ApiKeyList, Management, NewApiKey};
use crate::storage::PageRequest;

const PAGE_SIZE: i64 = 50;

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    expiring: String,
    /// `<created_at>.<id>` of the last key of the previous page.
    #[serde(default)]
    after: String,
}

#[derive(Deserialize, Default)]
pub struct KeyForm {
    csrf: String,
    name: String,
    #[serde(default)]
    scopes: String,
    #[serde(default)]
    expires_at: String,
    #[serde(default)]
    rate_limit: String,
    #[serde(default)]
    ip_allowlist: String,
}

#[derive(Deserialize)]
pub struct StatusForm {
    csrf: String,
    status: String,
}

#[derive(Deserialize)]
pub struct RollForm {
    csrf: String,
    grace_period_seconds: i64,
}

#[derive(Deserialize)]
pub struct DeleteForm {
    csrf: String,
    #[serde(default)]
    confirm: String,
}

/// What the pages of one organisation's keys share.
struct Keys {
    org: Organisation,
    can_write: bool,
    api_access: bool,
}

impl Keys {
    async fn of(
        signed_in: &SignedIn,
        management: &Management,
        org_id: &OrgId,
    ) -> Result<Self, ConsoleError> {
        let role = signed_in.role_in(org_id)?;
        let org = management
            .get_organisation(&signed_in.caller(org_id), org_id)
            .await?;
        let write = Scope::parse(KEYS_WRITE).expect("a valid scope");
        Ok(Self {
            api_access: management.plans.of(org.plan).api_access,
            can_write: role.scopes().grants(&write),
            org,
        })
    }

    fn base(&self) -> String {
        format!("/console/orgs/{}/api-keys", self.org.id)
    }

    fn page(&self, signed_in: &SignedIn, title: &str, body: Markup) -> HttpResponse {
        self.page_with(signed_in, StatusCode::OK, title, body)
    }

    fn page_with(
        &self,
        signed_in: &SignedIn,
        status: StatusCode,
        title: &str,
        body: Markup,
    ) -> HttpResponse {
        let frame = signed_in.frame(Some(&self.org), Some(Section::ApiKeys));
        layout::respond(status, layout::page(title, &frame, body))
    }
}

fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

fn key_id(raw: &str) -> Result<ApiKeyId, ConsoleError> {
    ApiKeyId::parse(raw).map_err(|_| ConsoleError::NotFound)
}

pub async fn list(
    path: web::Path<String>,
    query: web::Query<ListQuery>,
    signed_in: SignedIn,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    let org_id = org_id(&path)?;
    let keys = Keys::of(&signed_in, &management, &org_id).await?;
    let after = query
        .after
        .split_once('.')
        .and_then(|(t, id)| Some((t.parse().ok()?, id.to_owned())));
    let filter = ApiKeyList {
        status: Some(query.status.clone()).filter(|s| !s.is_empty()),
        expiring_within: Some(query.expiring.clone()).filter(|s| !s.is_empty()),
    };
    let page = PageRequest {
        limit: PAGE_SIZE + 1,
        after,
    };
    let caller = signed_in.caller(&org_id);
    let mut found = management
        .list_api_keys(&caller, &org_id, filter, page)
        .await?;
    let more = found.len() as i64 > PAGE_SIZE;
    found.truncate(PAGE_SIZE as usize);
    let now = management.clock.unix();
    let next = found.last().filter(|_| more).map(|last| {
        format!(
            "{}?status={}&expiring={}&after={}.{}",
            keys.base(),
            query.status,
            query.expiring,
            last.created_at,
            last.id
        )
    });
    let option = |value: &str, label: &str, chosen: &str| {
        html! { option value=(value) selected[value == chosen] { (label) } }
    };
    let body = html! {
        div.row.spread {
            h1 { "API keys" }
            (create_button(&keys))
        }
        form.filters method="get" action=(keys.base()) {
            div {
                label for="status" { "Status" }
                select #status name="status" {
                    (option("", "Any", &query.status))
                    (option("active", "Active", &query.status))
                    (option("deactivated", "Deactivated", &query.status))
                    (option("expired", "Expired", &query.status))
                }
            }
            div {
                label for="expiring" { "Expiring" }
                select #expiring name="expiring" {
                    (option("", "Any time", &query.expiring))
                    (option("7d", "Within 7 days", &query.expiring))
                    (option("30d", "Within 30 days", &query.expiring))
                }
            }
            div { button.secondary type="submit" { "Filter" } }
        }
        @if found.is_empty() {
            p.muted { "No API keys match." }
        } @else {
            div.table-wrap {
                table {
                    thead { tr {
                        th scope="col" { "Name" }
                        th scope="col" { "Prefix" }
                        th.optional scope="col" { "Scopes" }
                        th scope="col" { "Status" }
                        th.optional scope="col" { "Expires" }
                        th.optional scope="col" { "Rate / min" }
                        th.optional scope="col" { "Last used" }
                        th scope="col" { "Requests" }
                    } }
                    tbody {
                        @for key in &found {
                            tr {
                                td { a href={ (keys.base()) "/" (key.id) } { (key.name.as_str()) } }
                                td { code { (key.id.key_prefix()) } }
                                td.optional { (key.scopes.to_string()) }
                                td { (status_badge(key, now)) }
                                td.optional { (key.expires_at.map(when).unwrap_or_else(|| "never".into())) }
                                td.optional { (key.rate_limit_per_minute) }
                                td.optional { (key.last_used_at.map(when).unwrap_or_else(|| "never".into())) }
                                td { (key.request_count) }
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
    Ok(keys.page(&signed_in, "API keys", body))
}

fn create_button(keys: &Keys) -> Markup {
    html! {
        @if !keys.api_access {
            div {
                button type="button" disabled aria-describedby="no-access" { "Create API key" }
                p #no-access .muted { "API access requires Starter or higher" }
            }
        } @else if keys.can_write {
            a.button href={ (keys.base()) "/new" } { "Create API key" }
        }
    }
}

fn status_badge(key: &ApiKey, now: i64) -> Markup {
    let status = key.display_status(now);
    html! { span class={ "badge " (status) } { (status) } }
}

fn key_form(keys: &Keys, signed_in: &SignedIn, values: &KeyForm, problem: Option<&str>) -> Markup {
    html! {
        h1 { "Create an API key" }
        @if let Some(problem) = problem {
            div.notice.error role="alert" { (problem) }
        }
        form.card method="post" action=(keys.base()) {
            (csrf_field(&signed_in.csrf))
            (key_fields(values))
            div.actions {
                button type="submit" { "Create key" }
                a.button.secondary href=(keys.base()) { "Cancel" }
            }
        }
    }
}

/// The fields that create and edit share.
fn key_fields(values: &KeyForm) -> Markup {
    html! {
        label for="name" { "Name" }
        input #name type="text" name="name" value=(values.name) required maxlength="200";
        label for="scopes" { "Scopes " span.hint { "(separated by spaces)" } }
        input #scopes type="text" name="scopes" value=(values.scopes) required;
        label for="expires_at" { "Expires " span.hint { "(UTC; blank for never)" } }
        input #expires_at type="datetime-local" name="expires_at" value=(values.expires_at);
        label for="rate_limit" {
            "Rate limit per minute "
            span.hint { "(1–10,000; blank for the default " (DEFAULT_KEY_RATE_LIMIT) ")" }
        }
        input #rate_limit type="number" name="rate_limit" min="1" max="10000" value=(values.rate_limit);
        label for="ip_allowlist" { "IP allowlist " span.hint { "(addresses or CIDR ranges, separated by spaces; blank for any)" } }
        input #ip_allowlist type="text" name="ip_allowlist" value=(values.ip_allowlist);
    }
}

pub async fn new_form(
    path: web::Path<String>,
    signed_in: SignedIn,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    let org_id = org_id(&path)?;
    let keys = Keys::of(&signed_in, &management, &org_id).await?;
    if !keys.can_write {
        return Err(ConsoleError::Forbidden(
            "Your role in this organisation does not allow this.".into(),
        ));
    }
    if !keys.api_access {
        return Err(ConsoleError::Forbidden(
            "API access requires Starter or higher.".into(),
        ));
    }
    let body = key_form(&keys, &signed_in, &KeyForm::default(), None);
    Ok(keys.page(&signed_in, "Create an API key", body))
}

pub async fn create(
    path: web::Path<String>,
    signed_in: SignedIn,
    input: web::Form<KeyForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let org_id = org_id(&path)?;
    let keys = Keys::of(&signed_in, &management, &org_id).await?;
    let created = async {
        let new = NewApiKey {
            name: input.name.clone(),
            scopes: entries(&input.scopes),
            expires_at: expiry(&input.expires_at)?,
            rate_limit_per_minute: rate_limit(&input.rate_limit)?,
            ip_allowlist: Some(entries(&input.ip_allowlist)),
            metadata: None,
        };
        let caller = signed_in.caller(&org_id);
        Ok::<_, ConsoleError>(management.create_api_key(&caller, &org_id, new).await?)
    };
    match created.await {
        Ok((key, secret)) => {
            let page = format!("{}/{}", keys.base(), key.id);
            Ok(HttpResponse::SeeOther()
                .cookie(signed_in.reveal_cookie(&page, secret.expose()))
                .insert_header((header::LOCATION, page))
                .finish())
        }
        Err(refused @ (ConsoleError::Invalid(_) | ConsoleError::Forbidden(_))) => {
            let status = actix_web::ResponseError::status_code(&refused);
            let body = key_form(&keys, &signed_in, &input, Some(&refused.to_string()));
            Ok(keys.page_with(&signed_in, status, "Create an API key", body))
        }
        Err(other) => Err(other),
    }
}

pub async fn detail(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    signed_in: SignedIn,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    let (org_id, key_id) = (org_id(&path.0)?, key_id(&path.1)?);
    let keys = Keys::of(&signed_in, &management, &org_id).await?;
    let caller = signed_in.caller(&org_id);
    let key = management.get_api_key(&caller, &org_id, &key_id).await?;
    let revealed = signed_in.take_revealed(&req);
    let body = key_page(
        &keys,
        &signed_in,
        &key,
        management.clock.unix(),
        revealed.as_ref().map(|(s, _)| s.expose_secret()),
    );
    let mut response = keys.page(&signed_in, key.name.as_str(), body);
    if let Some((_, removal)) = revealed {
        response
            .add_cookie(&removal)
            .map_err(|_| ConsoleError::Unavailable)?;
    }
    Ok(response)
}

fn key_page(
    keys: &Keys,
    signed_in: &SignedIn,
    key: &ApiKey,
    now: i64,
    secret: Option<&str>,
) -> Markup {
    let here = format!("{}/{}", keys.base(), key.id);
    let values = KeyForm {
        csrf: String::new(),
        name: key.name.as_str().to_owned(),
        scopes: key.scopes.to_string(),
        expires_at: key.expires_at.map(local_time).unwrap_or_default(),
        rate_limit: key.rate_limit_per_minute.to_string(),
        ip_allowlist: key.ip_allowlist.entries().collect::<Vec<_>>().join(" "),
    };
    html! {
        p { a href=(keys.base()) { "← API keys" } }
        h1 { (key.name.as_str()) " " (status_badge(key, now)) }
        @if let Some(secret) = secret {
            div.notice role="status" {
                p { strong { "Your new API key." } " Copy it now: it is shown only this once." }
                div.secret {
                    code #new-secret { (secret) }
                    button.secondary type="button" data-copy="new-secret" { "Copy" }
                }
            }
        }
        div.card {
            dl.facts {
                dt { "Prefix" } dd { code { (key.id.key_prefix()) } }
                dt { "Scopes" } dd { (key.scopes.to_string()) }
                dt { "Created" } dd { (when(key.created_at)) }
                dt { "Expires" } dd { (key.expires_at.map(when).unwrap_or_else(|| "never".into())) }
                dt { "Rate limit" } dd #rate-limit { (key.rate_limit_per_minute) " per minute" }
                dt { "IP allowlist" } dd { @if key.ip_allowlist.is_empty() { "any address" } @else { (values.ip_allowlist) } }
                dt { "Last used" } dd { (key.last_used_at.map(when).unwrap_or_else(|| "never".into())) }
                dt { "Requests" } dd { (key.request_count) }
            }
        }
        @if keys.can_write {
            h2 { "Edit" }
            form.card method="post" action={ (here) "/edit" } {
                (csrf_field(&signed_in.csrf))
                (key_fields(&values))
                div.actions { button type="submit" { "Save changes" } }
            }
            h2 { "Status" }
            form.card method="post" action={ (here) "/status" } {
                (csrf_field(&signed_in.csrf))
                @if key.status == ApiKeyStatus::Active {
                    input type="hidden" name="status" value="deactivated";
                    p { "A deactivated key is refused at once, on every node." }
                    button.danger type="submit" { "Deactivate" }
                } @else {
                    input type="hidden" name="status" value="active";
                    p { "The key is deactivated." }
                    button type="submit" { "Activate" }
                }
            }
            h2 { "Roll" }
            form.card method="post" action={ (here) "/roll" } {
                (csrf_field(&signed_in.csrf))
                p { "A new key with the same settings; this one keeps working for the grace period." }
                label for="grace" { "Grace period" }
                select #grace name="grace_period_seconds" {
                    option value="3600" { "1 hour" }
                    option value="86400" selected { "24 hours" }
                    option value="604800" { "7 days" }
                }
                div.actions { button type="submit" { "Roll key" } }
            }
            h2 { "Delete" }
            form.card method="post" action={ (here) "/delete" } data-confirm="Delete this API key for good?" {
                (csrf_field(&signed_in.csrf))
                label for="confirm" { "Type the key's name, " code { (key.name.as_str()) } ", to delete it at once" }
                input #confirm type="text" name="confirm" autocomplete="off" required;
                div.actions { button.danger type="submit" { "Delete key" } }
            }
        }
    }
}

pub async fn edit(
    path: web::Path<(String, String)>,
    signed_in: SignedIn,
    input: web::Form<KeyForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let (org_id, key_id) = (org_id(&path.0)?, key_id(&path.1)?);
    let keys = Keys::of(&signed_in, &management, &org_id).await?;
    let caller = signed_in.caller(&org_id);
    let key = management.get_api_key(&caller, &org_id, &key_id).await?;
    // An expiry left as shown is not sent: an expired key stays editable.
    let shown = key.expires_at.map(local_time).unwrap_or_default();
    let expires_at = if input.expires_at.trim() == shown {
        None
    } else {
        Some(expiry(&input.expires_at)?)
    };
    let changes = ApiKeyChanges {
        name: Some(input.name.clone()),
        scopes: Some(entries(&input.scopes)),
        expires_at,
        rate_limit_per_minute: Some(
            rate_limit(&input.rate_limit)?.unwrap_or(DEFAULT_KEY_RATE_LIMIT),
        ),
        ip_allowlist: Some(entries(&input.ip_allowlist)),
        metadata: None,
    };
    management
        .update_api_key(&caller, &org_id, &key_id, changes)
        .await?;
    Ok(see_other(format!("{}/{}", keys.base(), key_id)))
}

pub async fn set_status(
    path: web::Path<(String, String)>,
    signed_in: SignedIn,
    input: web::Form<StatusForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let (org_id, key_id) = (org_id(&path.0)?, key_id(&path.1)?);
    let status = ApiKeyStatus::parse(&input.status)
        .ok_or_else(|| ConsoleError::Invalid("status: must be active or deactivated".into()))?;
    let caller = signed_in.caller(&org_id);
    management
        .set_api_key_status(&caller, &org_id, &key_id, status)
        .await?;
    Ok(see_other(format!(
        "/console/orgs/{org_id}/api-keys/{key_id}"
    )))
}

pub async fn roll(
    path: web::Path<(String, String)>,
    signed_in: SignedIn,
    input: web::Form<RollForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let (org_id, key_id) = (org_id(&path.0)?, key_id(&path.1)?);
    let caller = signed_in.caller(&org_id);
    let rolled = management
        .roll_api_key(&caller, &org_id, &key_id, Some(input.grace_period_seconds))
        .await?;
    let page = format!("/console/orgs/{org_id}/api-keys/{}", rolled.new.id);
    Ok(HttpResponse::SeeOther()
        .cookie(signed_in.reveal_cookie(&page, rolled.secret.expose()))
        .insert_header((header::LOCATION, page))
        .finish())
}

pub async fn delete(
    path: web::Path<(String, String)>,
    signed_in: SignedIn,
    input: web::Form<DeleteForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let (org_id, key_id) = (org_id(&path.0)?, key_id(&path.1)?);
    let caller = signed_in.caller(&org_id);
    let key = management.get_api_key(&caller, &org_id, &key_id).await?;
    if input.confirm.trim() != key.name.as_str() {
        return Err(ConsoleError::Invalid(
            "To delete the key, type its name exactly.".into(),
        ));
    }
    management.delete_api_key(&caller, &org_id, &key_id).await?;
    Ok(see_other(format!("/console/orgs/{org_id}/api-keys")))
}
