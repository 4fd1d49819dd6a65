//! An organisation's members, for its owners: who they are and their
//! roles, invitations (the password link shown once, to pass on), and
//! ending a member's sessions.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::error::ConsoleError;
use super::form_fields::CsrfForm;
use super::layout::{csrf_field, when, Section};
use super::org_page::{see_other, OrgPage};
use super::session::SignedIn;
use super::widgets::invitation_link;
use crate::domain::management_scope::MEMBERS_WRITE;
use crate::domain::{Membership, Role, User, UserId};
use crate::management::{password_link, Management, NewMember};

#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    csrf: String,
    email: String,
    #[serde(default)]
    name: String,
    role: String,
}

async fn open<'a>(
    signed_in: &'a SignedIn,
    management: &Management,
    org_id: &str,
) -> Result<OrgPage<'a>, ConsoleError> {
    let org = OrgPage::open(signed_in, management, org_id, Section::Members).await?;
    org.require(MEMBERS_WRITE)?;
    Ok(org)
}

pub async fn list(
    req: HttpRequest,
    path: web::Path<String>,
    signed_in: SignedIn,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    let org = open(&signed_in, &management, &path).await?;
    let members = management.list_members(&org.caller(), &org.org.id).await?;
    signed_in.page_revealing(&req, |link| {
        org.page("Members", members_page(&org, &members, link, None))
    })
}

fn members_page(
    org: &OrgPage<'_>,
    members: &[(User, Membership)],
    link: Option<&str>,
    problem: Option<&str>,
) -> Markup {
    let csrf = &org.signed_in.csrf;
    html! {
        h1 { "Members" }
        @if let Some(link) = link {
            (invitation_link(link))
        }
        div.table-wrap {
            table {
                thead { tr {
                    th scope="col" { "Name" }
                    th scope="col" { "Email" }
                    th scope="col" { "Role" }
                    th.optional scope="col" { "Member since" }
                    th scope="col" { "Change" }
                } }
                tbody {
                    @for (user, membership) in members {
                        tr {
                            td { (user.display_name.as_str()) }
                            td { (user.email.as_str()) }
                            td {
                                (membership.role.as_str())
                                @if user.password_hash.is_none() { " " span.muted { "(invited)" } }
                            }
                            td.optional { (when(membership.created_at)) }
                            td {
                                div.row {
                                    form.row method="post" action=(org.url(&format!("/members/{}/role", user.id))) {
                                        (csrf_field(csrf))
                                        label.visually-hidden for={ "role-" (user.id) } { "Role of " (user.email.as_str()) }
                                        select id={ "role-" (user.id) } name="role" {
                                            @for role in Role::ALL {
                                                option value=(role.as_str()) selected[role == membership.role] { (role.as_str()) }
                                            }
                                        }
                                        button.secondary type="submit" { "Set role" }
                                    }
                                    form method="post" action=(org.url(&format!("/members/{}/end-sessions", user.id))) {
                                        (csrf_field(csrf))
                                        button.secondary type="submit" { "End sessions" }
                                    }
                                    form method="post" action=(org.url(&format!("/members/{}/remove", user.id)))
                                        data-confirm={ "Remove " (user.email.as_str()) " from this organisation?" } {
                                        (csrf_field(csrf))
                                        button.danger type="submit" { "Remove" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Invite a member" }
        @if let Some(problem) = problem {
            div.notice.error role="alert" { (problem) }
        }
        form.card method="post" action=(org.url("/members")) {
            (csrf_field(csrf))
            label for="email" { "Email" }
            input #email type="email" name="email" required;
            label for="name" { "Name " span.hint { "(blank for the part of the email before the @)" } }
            input #name type="text" name="name" maxlength="200";
            label for="role" { "Role" }
            select #role name="role" {
                @for role in Role::ALL {
                    option value=(role.as_str()) selected[role == Role::Admin] { (role.as_str()) }
                }
            }
            p.hint { "Viewers read; admins also change keys and clients; owners also manage members." }
            div.actions { button type="submit" { "Invite" } }
        }
    }
}

pub async fn invite(
    path: web::Path<String>,
    signed_in: SignedIn,
    input: web::Form<InviteForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let org = open(&signed_in, &management, &path).await?;
    let new = NewMember {
        email: input.email.clone(),
        display_name: Some(input.name.trim().to_owned()).filter(|n| !n.is_empty()),
        role: input.role.clone(),
    };
    let page = org.url("/members");
    match management
        .invite_member(&org.caller(), &org.org.id, new)
        .await
    {
        Ok(invitation) => Ok(match invitation.password_link {
            Some(token) => {
                let link = password_link(&signed_in.site().issuer, &token);
                signed_in.redirect_revealing(page, &link)
            }
            None => see_other(page),
        }),
        Err(refused) => {
            let (status, why) = ConsoleError::from(refused).for_form()?;
            let members = management.list_members(&org.caller(), &org.org.id).await?;
            let body = members_page(&org, &members, None, Some(&why));
            Ok(org.page_with(status, "Members", body))
        }
    }
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    csrf: String,
    role: String,
}

pub async fn set_role(
    path: web::Path<(String, String)>,
    signed_in: SignedIn,
    input: web::Form<RoleForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    change(&signed_in, &management, &path, Some(&input.role)).await
}

pub async fn remove(
    path: web::Path<(String, String)>,
    signed_in: SignedIn,
    input: web::Form<CsrfForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    change(&signed_in, &management, &path, None).await
}

async fn change(
    signed_in: &SignedIn,
    management: &Management,
    path: &(String, String),
    role: Option<&str>,
) -> Result<HttpResponse, ConsoleError> {
    let org = open(signed_in, management, &path.0).await?;
    let user = UserId::parse(&path.1).map_err(|_| ConsoleError::NotFound)?;
    management
        .change_member(&org.caller(), &org.org.id, &user, role)
        .await?;
    Ok(see_other(org.url("/members")))
}

pub async fn end_sessions(
    path: web::Path<(String, String)>,
    signed_in: SignedIn,
    input: web::Form<CsrfForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let org = open(&signed_in, &management, &path.0).await?;
    let user = UserId::parse(&path.1).map_err(|_| ConsoleError::NotFound)?;
    management
        .end_member_sessions(&org.caller(), &org.org.id, &user)
        .await?;
    Ok(see_other(org.url("/members")))
}
