//! A password link's page: the user chooses a password, once. The link's
//! token travels in the query and then the form, never in a path, so the
//! request log (which writes paths) never holds it.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::error::ConsoleError;
use super::layout;
use crate::management::{Management, ManagementError, MIN_PASSWORD_CHARS};

#[derive(Deserialize)]
pub struct LinkQuery {
    token: String,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    token: String,
    password: SecretString,
    confirm: SecretString,
}

fn form(token: &str, problem: Option<&str>) -> Markup {
    let form = html! {
        form method="post" action="/console/password" {
            input type="hidden" name="token" value=(token);
            label for="password" {
                "Password "
                span.hint { "(at least " (MIN_PASSWORD_CHARS) " characters)" }
            }
            input #password type="password" name="password" autocomplete="new-password"
                minlength=(MIN_PASSWORD_CHARS) required autofocus;
            label for="confirm" { "The same again" }
            input #confirm type="password" name="confirm" autocomplete="new-password" required;
            div.actions { button type="submit" { "Set password" } }
        }
    };
    layout::card("Choose a password", problem, form)
}

fn spent() -> HttpResponse {
    layout::respond(
        StatusCode::NOT_FOUND,
        layout::card(
            "This link is not valid",
            None,
            html! {
                p { "It was used already or has expired. Ask an owner of your organisation for a new invitation." }
            },
        ),
    )
}

pub async fn page(
    query: web::Query<LinkQuery>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    if management.link_user(&query.token).await?.is_none() {
        return Ok(spent());
    }
    Ok(layout::respond(StatusCode::OK, form(&query.token, None)))
}

pub async fn submit(
    input: web::Form<PasswordForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    let token = &input.token;
    if input.password.expose_secret() != input.confirm.expose_secret() {
        let problem = Some("The two passwords differ.");
        return Ok(layout::respond(
            StatusCode::BAD_REQUEST,
            form(token, problem),
        ));
    }
    match management.set_password(token, &input.password).await {
        Ok(_) => Ok(layout::respond(
            StatusCode::OK,
            layout::card(
                "Your password is set",
                None,
                html! { p { a.button href="/console/sign-in" { "Sign in" } } },
            ),
        )),
        Err(ManagementError::NotFound) => Ok(spent()),
        Err(ManagementError::InvalidField { reason, .. }) => {
            let problem = format!("The password {reason}.");
            Ok(layout::respond(
                StatusCode::BAD_REQUEST,
                form(token, Some(&problem)),
            ))
        }
        Err(other) => Err(other.into()),
    }
}
