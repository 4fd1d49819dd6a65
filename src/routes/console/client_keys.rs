//! A client's keys for `private_key_jwt` on its console page: the list
//! with each key's removal, a form that registers one (a PEM public key or
//! a JWK, pasted), the one authentication method it may use and the URL
//! where it publishes its keys.

use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::clients::open_client;
use super::error::ConsoleError;
use super::layout::csrf_field;
use super::org_page::{see_other, OrgPage};
use super::session::SignedIn;
use crate::domain::management_scope::CLIENTS_WRITE;
use crate::domain::{AuthMethod, Client};
use crate::management::{ClientChanges, KeyRegistration, Management};

#[derive(Deserialize)]
pub struct AddKeyForm {
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    kid: String,
}

#[derive(Deserialize)]
pub struct RemoveKeyForm {
    csrf: String,
    kid: String,
}

#[derive(Deserialize)]
pub struct MethodForm {
    csrf: String,
    /// Empty: whatever the client holds.
    #[serde(default)]
    method: String,
    /// Empty: none.
    #[serde(default)]
    jwks_uri: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    require_dpop: Option<String>,
}

/// The keys section of a client's page.
pub fn section(org: &OrgPage<'_>, client: &Client) -> Markup {
    let here = org.url(&format!("/clients/{}", client.id));
    let csrf = &org.signed_in.csrf;
    let writable = org.can(CLIENTS_WRITE);
    let method = client.auth_method.map(AuthMethod::as_str);
    html! {
        h2 #keys { "Signing keys (private_key_jwt)" }
        div.card {
            p {
                "The client signs a short assertion with its private key instead of sending a secret; "
                "Keyward keeps only these public keys."
            }
            @if client.public_keys.is_empty() {
                p.muted { "No keys registered." }
            } @else {
                table {
                    thead { tr { th { "Key id" } th { "Type" } th { "Thumbprint (RFC 7638)" } @if writable { th {} } } }
                    tbody {
                        @for key in client.public_keys.iter() {
                            tr {
                                td { code { (key.kid()) } }
                                td { (key.kty()) @if let Some(alg) = key.alg() { " · " (alg.as_str()) } }
                                td { code { (key.thumbprint()) } }
                                @if writable {
                                    td {
                                        form method="post" action={ (here) "/keys/remove" } {
                                            (csrf_field(csrf))
                                            input type="hidden" name="kid" value=(key.kid());
                                            button.secondary type="submit" { "Remove" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p { "Authentication: " strong { (method.unwrap_or("any it holds (secret or key)")) } }
            p { "Key set URL: " @match &client.jwks_uri { Some(uri) => code { (uri) }, None => "none" } }
            p {
                "DPoP: "
                strong { @if client.dpop_bound_access_tokens { "required: every token is bound to the client's key" } @else { "optional" } }
            }
        }
        @if writable {
            form.card method="post" action={ (here) "/keys" } {
                (csrf_field(csrf))
                label for="key" { "Public key: PEM (BEGIN PUBLIC KEY) or JWK" }
                textarea #key name="key" rows="6" required {}
                label for="kid" { "Key id (for a PEM; default: its thumbprint)" }
                input #kid name="kid" type="text" maxlength="128";
                div.actions { button type="submit" { "Add key" } }
            }
            form.card method="post" action={ (here) "/auth-method" } {
                (csrf_field(csrf))
                label for="method" { "The one way this client may authenticate" }
                select #method name="method" {
                    option value="" selected[method.is_none()] { "any it holds" }
                    @for choice in AuthMethod::ALL {
                        option value=(choice.as_str()) selected[method == Some(choice.as_str())] { (choice.as_str()) }
                    }
                }
                label for="jwks_uri" { "Key set URL (jwks_uri): where the client publishes its keys, fetched when an assertion's key is not registered here" }
                input #jwks_uri name="jwks_uri" type="url" value=(client.jwks_uri.as_deref().unwrap_or(""));
                label.check {
                    input #require_dpop name="require_dpop" type="checkbox" value="on" checked[client.dpop_bound_access_tokens];
                    " Require DPoP: refuse token requests without a proof of the client's key (RFC 9449)"
                }
                div.actions { button type="submit" { "Save" } }
            }
        }
    }
}

pub async fn add(
    path: web::Path<(String, String)>,
    signed_in: SignedIn,
    input: web::Form<AddKeyForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let (org, id) = open_client(&signed_in, &management, &path).await?;
    let kid = Some(input.kid.trim().to_owned()).filter(|k| !k.is_empty());
    let registration = KeyRegistration::from_text(&input.key, kid)?;
    management
        .add_client_key(&org.caller(), &org.org.id, &id, registration)
        .await?;
    Ok(see_other(org.url(&format!("/clients/{id}#keys"))))
}

pub async fn remove(
    path: web::Path<(String, String)>,
    signed_in: SignedIn,
    input: web::Form<RemoveKeyForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let (org, id) = open_client(&signed_in, &management, &path).await?;
    management
        .remove_client_key(&org.caller(), &org.org.id, &id, &input.kid)
        .await?;
    Ok(see_other(org.url(&format!("/clients/{id}#keys"))))
}

pub async fn set_method(
    path: web::Path<(String, String)>,
    signed_in: SignedIn,
    input: web::Form<MethodForm>,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    signed_in.check(&input.csrf)?;
    let (org, id) = open_client(&signed_in, &management, &path).await?;
    let method = Some(input.method.clone()).filter(|m| !m.is_empty());
    let jwks_uri = Some(input.jwks_uri.trim().to_owned()).filter(|u| !u.is_empty());
    let changes = ClientChanges {
        token_endpoint_auth_method: Some(method),
        jwks_uri: Some(jwks_uri),
        dpop_bound_access_tokens: Some(input.require_dpop.is_some()),
        ..ClientChanges::default()
    };
    management
        .update_client(&org.caller(), &org.org.id, &id, changes)
        .await?;
    Ok(see_other(org.url(&format!("/clients/{id}#keys"))))
}
