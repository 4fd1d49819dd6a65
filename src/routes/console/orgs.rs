//! The console's start: the member's organisations, and each one's overview
//! (plan, API access, keys against the plan's limit).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use maud::html;

use super::error::ConsoleError;
use super::layout::{self, Section};
use super::org_page::OrgPage;
use super::session::SignedIn;
use crate::domain::Plan;
use crate::management::{ApiKeyList, Management};
use crate::storage::PageRequest;

pub async fn home(
    signed_in: SignedIn,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    if let [only] = signed_in.member.memberships.as_slice() {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/console/orgs/{}", only.org_id)))
            .finish());
    }
    let mut orgs = Vec::new();
    for membership in &signed_in.member.memberships {
        let caller = signed_in.caller(&membership.org_id);
        let org = management
            .get_organisation(&caller, &membership.org_id)
            .await?;
        orgs.push((org, membership.role));
    }
    let body = html! {
        h1 { "Your organisations" }
        @if orgs.is_empty() {
            p.muted { "You are not a member of any organisation yet." }
        }
        ul {
            @for (org, role) in &orgs {
                li {
                    a href={ "/console/orgs/" (org.id) } { (org.name.as_str()) }
                    " " span.muted { "(" (role.as_str()) ")" }
                }
            }
        }
    };
    let frame = signed_in.frame(None, None);
    Ok(layout::respond(
        StatusCode::OK,
        layout::page("Organisations", &frame, body),
    ))
}

pub async fn overview(
    path: web::Path<String>,
    signed_in: SignedIn,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    let org = OrgPage::open(&signed_in, &management, &path, Section::Overview).await?;
    let limit = management.plans.of(org.org.plan);
    let counted = limit.max_api_keys.map_or(1_000, |max| i64::from(max) + 1);
    let active = management
        .list_api_keys(
            &org.caller(),
            &org.org.id,
            ApiKeyList {
                status: Some("active".into()),
                expiring_within: None,
            },
            PageRequest {
                limit: counted,
                after: None,
            },
        )
        .await?
        .len();
    let plan = plan_name(org.org.plan);
    let body = html! {
        h1 { (org.org.name.as_str()) }
        div.card {
            dl.facts {
                dt { "Plan" } dd { (plan) }
                dt { "API access" }
                dd {
                    @if limit.api_access { "Yes" }
                    @else { "API access requires Starter or higher" }
                }
                dt { "Active API keys" }
                dd {
                    (active)
                    @if let Some(max) = limit.max_api_keys { " of " (max) " the plan allows" }
                }
                dt { "Your role" } dd { (org.role.as_str()) }
            }
        }
        @if !limit.api_access {
            div.notice.warn role="note" {
                "API access requires Starter or higher: keys and clients cannot be created on the "
                (plan) " plan."
            }
        }
        div.actions {
            a.button href=(org.url("/api-keys")) { "API keys" }
            a.button.secondary href=(org.url("/clients")) { "OAuth clients" }
        }
    };
    Ok(org.page(org.org.name.as_str(), body))
}

pub fn plan_name(plan: Plan) -> &'static str {
    match plan {
        Plan::Free => "Free",
        Plan::Starter => "Starter",
        Plan::Professional => "Professional",
        Plan::Enterprise => "Enterprise",
    }
}
