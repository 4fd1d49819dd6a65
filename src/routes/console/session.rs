//! The signed-in member of a console request, from the session cookie, and
//! the cookie itself.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::error::ConsoleError;
use super::layout::{Frame, Section};
use super::ConsoleSite;
use crate::crypto::console_tokens::ConsoleKeys;
use crate::domain::{OrgId, Organisation, Role};
use crate::management::console_sessions::{ConsoleSessions, Member};
use crate::management::Caller;
use crate::routes::admin::audit::{request_id, source_ip};

const REVEAL_COOKIE: &str = "keyward-reveal";

/// The cookie's name: `__Host-` binds it to this host over HTTPS; a
/// plain-http loopback issuer cannot use the prefix.
fn cookie_name(site: &ConsoleSite) -> &'static str {
    if site.secure {
        "__Host-keyward-session"
    } else {
        "keyward-session"
    }
}

/// The cookie that carries a new session's id.
pub fn session_cookie(site: &ConsoleSite, id: &SecretString) -> Cookie<'static> {
    Cookie::build(cookie_name(site), id.expose_secret().to_owned())
        .path("/")
        .http_only(true)
        .secure(site.secure)
        .same_site(SameSite::Lax)
        .finish()
}

/// The cookie that removes it.
pub fn removal_cookie(site: &ConsoleSite) -> Cookie<'static> {
    let mut cookie = session_cookie(site, &SecretString::from(String::new()));
    cookie.make_removal();
    cookie
}

/// The session id of a request, if it carries one.
pub fn session_id(req: &HttpRequest) -> Option<SecretString> {
    let site = req.app_data::<web::Data<ConsoleSite>>()?;
    req.cookie(cookie_name(site))
        .map(|c| SecretString::from(c.value().to_owned()))
}

pub struct SignedIn {
    pub member: Member,
    /// The token every form of this session carries.
    pub csrf: String,
    session_id: SecretString,
    keys: web::Data<ConsoleKeys>,
    site: web::Data<ConsoleSite>,
    source: Option<std::net::IpAddr>,
    request_id: String,
}

impl FromRequest for SignedIn {
    type Error = ConsoleError;
    type Future = LocalBoxFuture<'static, Result<Self, ConsoleError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let sessions = req
                .app_data::<web::Data<ConsoleSessions>>()
                .expect("the console's sessions are registered")
                .clone();
            let keys = req
                .app_data::<web::Data<ConsoleKeys>>()
                .expect("the console's keys are registered")
                .clone();
            let site = req
                .app_data::<web::Data<ConsoleSite>>()
                .expect("the console's site is registered")
                .clone();
            let id = session_id(&req).ok_or(ConsoleError::SignInRequired)?;
            let member = sessions
                .resolve(id.expose_secret())
                .await?
                .ok_or(ConsoleError::SignInRequired)?;
            Ok(Self {
                member,
                csrf: keys.token(&id),
                session_id: id,
                keys,
                site,
                source: source_ip(&req),
                request_id: request_id(&req),
            })
        })
    }
}

impl SignedIn {
    /// Refuses a form that does not carry this session's CSRF token.
    pub fn check(&self, presented: &str) -> Result<(), ConsoleError> {
        if bool::from(self.csrf.as_bytes().ct_eq(presented.as_bytes())) {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden(
                "This form has expired; reload the page and send it again.".into(),
            ))
        }
    }

    /// The member's role in `org`; an organisation they are not in does
    /// not exist for them.
    pub fn role_in(&self, org: &OrgId) -> Result<Role, ConsoleError> {
        self.member
            .membership(org)
            .map(|m| m.role)
            .ok_or(ConsoleError::NotFound)
    }

    pub fn caller(&self, org: &OrgId) -> Caller {
        self.member
            .caller(org, self.source, self.request_id.clone())
    }

    /// A cookie that shows `secret` once, on the page at `path`, to this
    /// session only.
    fn reveal_cookie(&self, path: &str, secret: &str) -> Cookie<'static> {
        Cookie::build(
            REVEAL_COOKIE,
            self.keys.seal(&self.session_id, path, secret),
        )
        .path(path.to_owned())
        .http_only(true)
        .secure(self.site.secure)
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::minutes(5))
        .finish()
    }

    pub fn site(&self) -> &ConsoleSite {
        &self.site
    }

    /// A redirect to `page`, which shows `secret` there once.
    pub fn redirect_revealing(&self, page: String, secret: &str) -> HttpResponse {
        HttpResponse::SeeOther()
            .cookie(self.reveal_cookie(&page, secret))
            .insert_header((actix_web::http::header::LOCATION, page))
            .finish()
    }

    /// The page of `req`, rendered with the secret its reveal cookie holds
    /// if any; the cookie is removed, so the secret is shown once.
    pub fn page_revealing(
        &self,
        req: &HttpRequest,
        render: impl FnOnce(Option<&str>) -> HttpResponse,
    ) -> Result<HttpResponse, ConsoleError> {
        let Some(sealed) = req.cookie(REVEAL_COOKIE) else {
            return Ok(render(None));
        };
        let path = req.path();
        let secret = self.keys.open(&self.session_id, path, sealed.value());
        let mut response = render(secret.as_ref().map(|s| s.expose_secret()));
        let mut removal = self.reveal_cookie(path, "");
        removal.make_removal();
        response
            .add_cookie(&removal)
            .map_err(|_| ConsoleError::Unavailable)?;
        Ok(response)
    }

    pub fn frame<'a>(
        &'a self,
        org: Option<&'a Organisation>,
        section: Option<Section>,
    ) -> Frame<'a> {
        Frame {
            member: &self.member,
            org,
            section,
            csrf: &self.csrf,
        }
    }
}
