//! An organisation's API keys: the filtered list, create (the key shown
//! once), the key's page with edit, deactivate or activate, roll and delete.
//! Every change is a management use case, called as the signed-in member.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::error::ConsoleError;
use super::form_fields::{
    entries, expiry, local_time, rate_limit, DeleteForm, GraceForm, StatusForm,
};
use super::key_requests;
use super::layout::{csrf_field, when, Section};
use super::org_page::{see_other, OrgPage};
use super::paging;
use super::session::SignedIn;
use super::usage_chart::{chart, Window};
use super::widgets::{
    self, create_button, delete_form, grace_period_field, shown_once, status_badge, status_form,
    when_or_never,
};
use crate::domain::api_key::DEFAULT_KEY_RATE_LIMIT;
use crate::domain::management_scope::KEYS_WRITE;
use crate::domain::{ApiKey, ApiKeyId, ApiKeyStatus, RateTiers};
use crate::management::{
    ApiKeyChanges, ApiKeyList, Management, NewApiKey, UsageQuery, UsageSeries,
};
use crate::time::rfc3339;

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
    #[serde(default)]
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

fn key_id(raw: &str) -> Result<ApiKeyId, ConsoleError> {
    ApiKeyId::parse(raw).map_err(|_| ConsoleError::NotFound)
}

async fn open<'a>(
    signed_in: &'a SignedIn,
    management: &Management,
    org_id: &str,
) -> Result<OrgPage<'a>, ConsoleError> {
    OrgPage::open(signed_in, management, org_id, Section::ApiKeys).await
}

/// The organisation's page and the id of the path `(org_id, id)`.
async fn open_key<'a>(
    signed_in: &'a SignedIn,
    management: &Management,
    path: &(String, String),
) -> Result<(OrgPage<'a>, ApiKeyId), ConsoleError> {
    let org = open(signed_in, management, &path.0).await?;
    Ok((org, key_id(&path.1)?))
}

pub async fn list(
    path: web::Path<String>,
    query: web::Query<ListQuery>,
    signed_in: SignedIn,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    let org = open(&signed_in, &management, &path).await?;
    let filter = ApiKeyList {
        status: Some(query.status.clone()).filter(|s| !s.is_empty()),
        expiring_within: Some(query.expiring.clone()).filter(|s| !s.is_empty()),
    };
    let mut found = management
        .list_api_keys(
            &org.caller(),
            &org.org.id,
            filter,
            paging::request(&query.after),
        )
        .await?;
    let now = management.clock.unix();
    let base = org.url("/api-keys");
    let filters = [
        ("status", query.status.as_str()),
        ("expiring", &query.expiring),
    ];
    let next = paging::next_page(
        &mut found,
        |k| (k.created_at, k.id.as_str()),
        &base,
        &filters,
    );
    let option = |value: &str, label: &str, chosen: &str| {
        html! { option value=(value) selected[value == chosen] { (label) } }
    };
    let body = html! {
        div.row.spread {
            h1 { "API keys" }
            (create_button(&org, KEYS_WRITE, "/api-keys/new", "Create API key"))
        }
        form.filters method="get" action=(base) {
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
                                td { a href={ (base) "/" (key.id) } { (key.name.as_str()) } }
                                td { code { (key.id.key_prefix()) } }
                                td.optional { (key.scopes.to_string()) }
                                td { (status_badge(key.display_status(now))) }
                                td.optional { (when_or_never(key.expires_at)) }
                                td.optional { (per_minute(&management.rate_tiers, key)) }
                                td.optional { (when_or_never(key.last_used_at)) }
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
    Ok(org.page("API keys", body))
}

fn key_form(org: &OrgPage<'_>, values: &KeyForm, problem: Option<&str>) -> Markup {
    html! {
        h1 { "Create an API key" }
        @if let Some(problem) = problem {
            div.notice.error role="alert" { (problem) }
        }
        form.card method="post" action=(org.url("/api-keys")) {
            (csrf_field(&org.signed_in.csrf))
            (key_fields(values))
            div.actions {
                button type="submit" { "Create key" }
                a.button.secondary href=(org.url("/api-keys")) { "Cancel" }
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
            span.hint {
                "(1–10,000; blank for none of its own: its scopes' tier, else "
                (DEFAULT_KEY_RATE_LIMIT) ")"
            }
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
    let org = open(&signed_in, &management, &path).await?;
    org.require(KEYS_WRITE)?;
    org.require_api_access()?;
    let body = key_form(&org, &KeyForm::default(), None);
    Ok(org.page("Create an API key", body))
}

pub async fn create(
    path: web::Path<String>,
    signed_in: SignedIn,
    input: web::Form<KeyForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let org = open(&signed_in, &management, &path).await?;
    let created = async {
        let new = NewApiKey {
            name: input.name.clone(),
            scopes: entries(&input.scopes),
            expires_at: expiry(&input.expires_at)?,
            rate_limit_per_minute: rate_limit(&input.rate_limit)?,
            ip_allowlist: Some(entries(&input.ip_allowlist)),
            metadata: None,
        };
        Ok::<_, ConsoleError>(
            management
                .create_api_key(&org.caller(), &org.org.id, new)
                .await?,
        )
    };
    match created.await {
        Ok((key, secret)) => {
            let page = org.url(&format!("/api-keys/{}", key.id));
            Ok(signed_in.redirect_revealing(page, secret.expose()))
        }
        Err(refused) => {
            let (status, why) = refused.for_form()?;
            let body = key_form(&org, &input, Some(&why));
            Ok(org.page_with(status, "Create an API key", body))
        }
    }
}

#[derive(Deserialize)]
pub struct DetailQuery {
    /// The usage chart's window: `day` (the default) or `month`.
    #[serde(default)]
    usage: String,
}

pub async fn detail(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<DetailQuery>,
    signed_in: SignedIn,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    let (org, key_id) = open_key(&signed_in, &management, &path).await?;
    let caller = org.caller();
    let key = management
        .get_api_key(&caller, &org.org.id, &key_id)
        .await?;
    let now = management.clock.unix();
    let window = Window::parse(&query.usage);
    let (from, to) = window.range(now);
    let usage = UsageQuery {
        from: Some(rfc3339(from)),
        to: Some(rfc3339(to - 1)),
        granularity: Some(window.granularity().to_owned()),
    };
    let series = management
        .api_key_usage(&caller, &org.org.id, &key_id, usage)
        .await?;
    let usage = usage_section(&org, &key, &series, window, from);
    let requests = key_requests::latest(&org, &management, &key_id).await?;
    let usage = html! { (usage) (requests) };
    signed_in.page_revealing(&req, |secret| {
        let tiers = &management.rate_tiers;
        org.page(
            key.name.as_str(),
            key_page(&org, &key, now, tiers, secret, usage),
        )
    })
}

fn usage_section(
    org: &OrgPage<'_>,
    key: &ApiKey,
    series: &UsageSeries,
    window: Window,
    from: i64,
) -> Markup {
    let here = org.url(&format!("/api-keys/{}", key.id));
    let link = |value: &str, label: &str, shown: bool| {
        html! {
            a href={ (here) "?usage=" (value) } aria-current=[shown.then_some("true")] { (label) }
        }
    };
    html! {
        h2 #usage { "Usage" }
        div.card {
            p.row {
                (link("day", "Last 24 hours", window == Window::Day))
                (link("month", "Last 30 days", window == Window::Month))
            }
            (chart(series, window, from))
        }
    }
}

fn key_page(
    org: &OrgPage<'_>,
    key: &ApiKey,
    now: i64,
    tiers: &RateTiers,
    secret: Option<&str>,
    usage: Markup,
) -> Markup {
    let here = org.url(&format!("/api-keys/{}", key.id));
    let csrf = &org.signed_in.csrf;
    let values = KeyForm {
        csrf: String::new(),
        name: key.name.as_str().to_owned(),
        scopes: key.scopes.to_string(),
        expires_at: key.expires_at.map(local_time).unwrap_or_default(),
        rate_limit: key
            .rate_limit_per_minute
            .map(|n| n.to_string())
            .unwrap_or_default(),
        ip_allowlist: key.ip_allowlist.entries().collect::<Vec<_>>().join(" "),
    };
    html! {
        p { a href=(org.url("/api-keys")) { "← API keys" } }
        h1 { (key.name.as_str()) " " (status_badge(key.display_status(now))) }
        @if let Some(secret) = secret {
            (shown_once("API key", "new-secret", secret))
        }
        div.card {
            dl.facts {
                dt { "Prefix" } dd { code { (key.id.key_prefix()) } }
                dt { "Scopes" } dd { (key.scopes.to_string()) }
                dt { "Created" } dd { (when(key.created_at)) }
                dt { "Expires" } dd { (when_or_never(key.expires_at)) }
                dt { "Rate limit" } dd #rate-limit { (widgets::rate_limit(&tiers.of_key(key))) }
                dt { "IP allowlist" } dd { @if key.ip_allowlist.is_empty() { "any address" } @else { (values.ip_allowlist) } }
                dt { "Last used" } dd { (when_or_never(key.last_used_at)) }
                dt { "Requests" } dd { (key.request_count) }
            }
        }
        (usage)
        @if org.can(KEYS_WRITE) {
            h2 { "Edit" }
            form.card method="post" action={ (here) "/edit" } {
                (csrf_field(csrf))
                (key_fields(&values))
                div.actions { button type="submit" { "Save changes" } }
            }
            h2 { "Status" }
            (status_form(&format!("{here}/status"), csrf, key.status == ApiKeyStatus::Active,
                "A deactivated key is refused at once, on every node."))
            h2 { "Roll" }
            form.card method="post" action={ (here) "/roll" } {
                (csrf_field(csrf))
                p { "A new key with the same settings; this one keeps working for the grace period." }
                (grace_period_field())
                div.actions { button type="submit" { "Roll key" } }
            }
            h2 { "Delete" }
            (delete_form(&format!("{here}/delete"), csrf, "key", key.name.as_str()))
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
    let (org, key_id) = open_key(&signed_in, &management, &path).await?;
    let caller = org.caller();
    let key = management
        .get_api_key(&caller, &org.org.id, &key_id)
        .await?;
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
        rate_limit_per_minute: Some(rate_limit(&input.rate_limit)?),
        ip_allowlist: Some(entries(&input.ip_allowlist)),
        metadata: None,
    };
    management
        .update_api_key(&caller, &org.org.id, &key_id, changes)
        .await?;
    Ok(see_other(org.url(&format!("/api-keys/{key_id}"))))
}

pub async fn set_status(
    path: web::Path<(String, String)>,
    signed_in: SignedIn,
    input: web::Form<StatusForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let (org, key_id) = open_key(&signed_in, &management, &path).await?;
    let status = ApiKeyStatus::parse(&input.status)
        .ok_or_else(|| ConsoleError::Invalid("status: must be active or deactivated".into()))?;
    management
        .set_api_key_status(&org.caller(), &org.org.id, &key_id, status)
        .await?;
    Ok(see_other(org.url(&format!("/api-keys/{key_id}"))))
}

pub async fn roll(
    path: web::Path<(String, String)>,
    signed_in: SignedIn,
    input: web::Form<GraceForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let (org, key_id) = open_key(&signed_in, &management, &path).await?;
    let grace = Some(input.grace_period_seconds);
    let rolled = management
        .roll_api_key(&org.caller(), &org.org.id, &key_id, grace)
        .await?;
    let page = org.url(&format!("/api-keys/{}", rolled.new.id));
    Ok(signed_in.redirect_revealing(page, rolled.secret.expose()))
}

pub async fn delete(
    path: web::Path<(String, String)>,
    signed_in: SignedIn,
    input: web::Form<DeleteForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let (org, key_id) = open_key(&signed_in, &management, &path).await?;
    let caller = org.caller();
    let key = management
        .get_api_key(&caller, &org.org.id, &key_id)
        .await?;
    input.confirms(key.name.as_str(), "key")?;
    management
        .delete_api_key(&caller, &org.org.id, &key_id)
        .await?;
    Ok(see_other(org.url("/api-keys")))
}

/// The per-minute limit applied to a key, for the list.
fn per_minute(tiers: &RateTiers, key: &ApiKey) -> String {
    match tiers.of_key(key).per_minute {
        Some(n) => n.to_string(),
        None => "none".into(),
    }
}
