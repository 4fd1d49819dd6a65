//! Signing in and out. A sign-in always opens a new session (its old one,
//! if the browser had one, ends), and the answer for an unknown email is
//! the answer for a wrong password.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::error::ConsoleError;
use super::form_fields::CsrfForm;
use super::layout;
use super::session::{removal_cookie, session_cookie, session_id, Kind, SignedIn};
use super::ConsoleSite;
use crate::management::console_sessions::{ConsoleSessions, SignInError};
use crate::routes::admin::audit::source_ip;

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: SecretString,
}

fn form(email: &str, problem: Option<&str>) -> Markup {
    let form = html! {
        form method="post" action="/console/sign-in" {
            label for="email" { "Email" }
            input #email type="email" name="email" value=(email) autocomplete="username" required autofocus;
            label for="password" { "Password" }
            input #password type="password" name="password" autocomplete="current-password" required;
            div.actions { button type="submit" { "Sign in" } }
        }
        p.muted { "The operator signs in " a href="/console/operator/sign-in" { "with the root token" } "." }
    };
    layout::card("Sign in", problem, form)
}

pub async fn page() -> HttpResponse {
    layout::respond(StatusCode::OK, form("", None))
}

pub async fn submit(
    req: HttpRequest,
    input: web::Form<SignInForm>,
    sessions: web::Data<ConsoleSessions>,
    site: web::Data<ConsoleSite>,
) -> Result<HttpResponse, ConsoleError> {
    let SignInForm { email, password } = input.into_inner();
    match sessions.sign_in(&email, &password, source_ip(&req)).await {
        Ok((id, _user)) => {
            if let Some(old) = session_id(&req, Kind::Member) {
                sessions.sign_out(old.expose_secret()).await?;
            }
            Ok(session_started(&site, Kind::Member, &id, "/console"))
        }
        Err(refused) => refusal(refused, "The email or the password is not right.", |why| {
            form(&email, Some(why))
        }),
    }
}

/// A new session's cookie, and the way to `home`.
pub fn session_started(
    site: &ConsoleSite,
    kind: Kind,
    id: &SecretString,
    home: &str,
) -> HttpResponse {
    HttpResponse::SeeOther()
        .cookie(session_cookie(site, kind, id))
        .insert_header((header::LOCATION, home))
        .finish()
}

/// A refused sign-in: its form again, saying why (`wrong` for a wrong
/// credential), with `Retry-After` when the address must wait.
pub fn refusal(
    refused: SignInError,
    wrong: &str,
    form: impl FnOnce(&str) -> Markup,
) -> Result<HttpResponse, ConsoleError> {
    match refused {
        SignInError::Refused => Ok(layout::respond(StatusCode::UNAUTHORIZED, form(wrong))),
        SignInError::TooManyAttempts { retry_after } => {
            let message = format!(
                "Too many failed sign-ins from your address; try again in {retry_after} seconds."
            );
            let mut response = layout::respond(StatusCode::TOO_MANY_REQUESTS, form(&message));
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(retry_after));
            Ok(response)
        }
        SignInError::Storage(e) => Err(e.into()),
    }
}

pub async fn sign_out(
    req: HttpRequest,
    signed_in: SignedIn,
    input: web::Form<CsrfForm>,
    sessions: web::Data<ConsoleSessions>,
    site: web::Data<ConsoleSite>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    if let Some(id) = session_id(&req, Kind::Member) {
        sessions.sign_out(id.expose_secret()).await?;
    }
    Ok(HttpResponse::SeeOther()
        .cookie(removal_cookie(&site, Kind::Member))
        .insert_header((header::LOCATION, "/console/sign-in"))
        .finish())
}
