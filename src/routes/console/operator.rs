//! The operator's pages, signed in with the root token: the organisations,
//! a new one, and its first owner, whose password link is shown once.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::error::ConsoleError;
use super::form_fields::CsrfForm;
use super::layout::{self, csrf_field, when};
use super::orgs::plan_name;
use super::session::{removal_cookie, session_id, Kind, Operator};
use super::sign_in::{refusal, session_started};
use super::widgets::invitation_link;
use super::ConsoleSite;
use crate::domain::{OrgId, Plan};
use crate::management::console_sessions::ConsoleSessions;
use crate::management::{password_link, Management, NewMember, NewOrganisation};
use crate::routes::admin::audit::source_ip;
use crate::storage::PageRequest;

#[derive(Deserialize)]
pub struct TokenForm {
    token: SecretString,
}

#[derive(Deserialize)]
pub struct OrgForm {
    #[serde(default)]
    csrf: String,
    name: String,
    plan: String,
}

#[derive(Deserialize)]
pub struct OwnerForm {
    #[serde(default)]
    csrf: String,
    email: String,
}

const HOME: &str = "/console/operator";

fn sign_in_form(problem: Option<&str>) -> Markup {
    let form = html! {
        form method="post" action="/console/operator/sign-in" {
            label for="token" { "Root token" }
            input #token type="password" name="token" autocomplete="off" required autofocus;
            div.actions { button type="submit" { "Sign in" } }
        }
    };
    layout::card("Operator sign-in", problem, form)
}

pub async fn sign_in_page() -> HttpResponse {
    layout::respond(StatusCode::OK, sign_in_form(None))
}

pub async fn sign_in(
    req: HttpRequest,
    input: web::Form<TokenForm>,
    sessions: web::Data<ConsoleSessions>,
    site: web::Data<ConsoleSite>,
) -> Result<HttpResponse, ConsoleError> {
    match sessions
        .operator_sign_in(&input.token, source_ip(&req))
        .await
    {
        Ok(id) => {
            if let Some(old) = session_id(&req, Kind::Operator) {
                sessions.operator_sign_out(old.expose_secret()).await?;
            }
            Ok(session_started(&site, Kind::Operator, &id, HOME))
        }
        Err(refused) => refusal(refused, "That is not the root token.", |why| {
            sign_in_form(Some(why))
        }),
    }
}

pub async fn sign_out(
    req: HttpRequest,
    operator: Operator,
    input: web::Form<CsrfForm>,
    sessions: web::Data<ConsoleSessions>,
    site: web::Data<ConsoleSite>,
) -> Result<HttpResponse, ConsoleError> {
    operator.check(&input.csrf)?;
    if let Some(id) = session_id(&req, Kind::Operator) {
        sessions.operator_sign_out(id.expose_secret()).await?;
    }
    Ok(HttpResponse::SeeOther()
        .cookie(removal_cookie(&site, Kind::Operator))
        .insert_header((header::LOCATION, "/console/operator/sign-in"))
        .finish())
}

pub async fn home(
    req: HttpRequest,
    operator: Operator,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    let orgs = management
        .list_organisations(&operator.caller, &PageRequest::everything())
        .await?;
    let csrf = &operator.csrf;
    operator.page_revealing(&req, |link| {
        let body = html! {
            h1 { "Organisations" }
            @if let Some(link) = link {
                (invitation_link(link))
            }
            div.table-wrap {
                table {
                    thead { tr {
                        th scope="col" { "Name" }
                        th scope="col" { "Plan" }
                        th.optional scope="col" { "Created" }
                        th scope="col" { "Add an owner" }
                    } }
                    tbody {
                        @for org in &orgs {
                            tr {
                                td { (org.name.as_str()) br; code { (org.id) } }
                                td { (plan_name(org.plan)) }
                                td.optional { (when(org.created_at)) }
                                td {
                                    form.row method="post" action={ (HOME) "/orgs/" (org.id) "/owners" } {
                                        (csrf_field(csrf))
                                        label.visually-hidden for={ "owner-" (org.id) } { "Email of a new owner of " (org.name.as_str()) }
                                        input id={ "owner-" (org.id) } type="email" name="email" placeholder="owner@example.com" required;
                                        button.secondary type="submit" { "Add owner" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "New organisation" }
            form.card method="post" action={ (HOME) "/orgs" } {
                (csrf_field(csrf))
                label for="name" { "Name" }
                input #name type="text" name="name" required maxlength="200";
                label for="plan" { "Plan" }
                select #plan name="plan" {
                    @for plan in Plan::ALL {
                        option value=(plan.as_str()) selected[plan == Plan::Starter] { (plan_name(plan)) }
                    }
                }
                div.actions { button type="submit" { "Create organisation" } }
            }
        };
        layout::respond(StatusCode::OK, layout::operator_page("Organisations", csrf, body))
    })
}

pub async fn create_org(
    operator: Operator,
    input: web::Form<OrgForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    operator.check(&input.csrf)?;
    let new = NewOrganisation {
        name: input.name.clone(),
        plan: input.plan.clone(),
        notification_email: None,
    };
    management
        .create_organisation(&operator.caller, new)
        .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, HOME))
        .finish())
}

pub async fn add_owner(
    path: web::Path<String>,
    operator: Operator,
    input: web::Form<OwnerForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    operator.check(&input.csrf)?;
    let org = OrgId::parse(&path).map_err(|_| ConsoleError::NotFound)?;
    let new = NewMember {
        email: input.email.clone(),
        display_name: None,
        role: "owner".into(),
    };
    let invitation = management
        .invite_member(&operator.caller, &org, new)
        .await?;
    Ok(match invitation.password_link {
        Some(token) => {
            let link = password_link(&operator.site().issuer, &token);
            operator.redirect_revealing(HOME.to_owned(), &link)
        }
        None => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, HOME))
            .finish(),
    })
}
