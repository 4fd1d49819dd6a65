//! The signed-in member of a console request, from the session cookie, and
//! the cookie itself.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::error::ConsoleError;
use super::layout::{Frame, Section};
use super::ConsoleCookies;
use crate::crypto::console_tokens::ConsoleKeys;
use crate::domain::{OrgId, Organisation, Role};
use crate::management::console_sessions::{ConsoleSessions, Member};
use crate::management::Caller;
use crate::routes::admin::audit::{request_id, source_ip};

const REVEAL_COOKIE: &str = "keyward-reveal";

/// The cookie's name: `__Host-` binds it to this host over HTTPS; a
/// plain-http loopback issuer cannot use the prefix.
fn cookie_name(cookies: &ConsoleCookies) -> &'static str {
    if cookies.secure {
        "__Host-keyward-session"
    } else {
        "keyward-session"
    }
}

/// The cookie that carries a new session's id.
pub fn session_cookie(cookies: &ConsoleCookies, id: &SecretString) -> Cookie<'static> {
    Cookie::build(cookie_name(cookies), id.expose_secret().to_owned())
        .path("/")
        .http_only(true)
        .secure(cookies.secure)
        .same_site(SameSite::Lax)
        .finish()
}

/// The cookie that removes it.
pub fn removal_cookie(cookies: &ConsoleCookies) -> Cookie<'static> {
    let mut cookie = session_cookie(cookies, &SecretString::from(String::new()));
    cookie.make_removal();
    cookie
}

/// The session id of a request, if it carries one.
pub fn session_id(req: &HttpRequest) -> Option<SecretString> {
    let cookies = req.app_data::<web::Data<ConsoleCookies>>()?;
    req.cookie(cookie_name(cookies))
        .map(|c| SecretString::from(c.value().to_owned()))
}

pub struct SignedIn {
    pub member: Member,
    /// The token every form of this session carries.
    pub csrf: String,
    session_id: SecretString,
    keys: web::Data<ConsoleKeys>,
    cookies: web::Data<ConsoleCookies>,
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
            let cookies = req
                .app_data::<web::Data<ConsoleCookies>>()
                .expect("the console's cookie settings are registered")
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
                cookies,
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
    pub fn reveal_cookie(&self, path: &str, secret: &str) -> Cookie<'static> {
        Cookie::build(
            REVEAL_COOKIE,
            self.keys.seal(&self.session_id, path, secret),
        )
        .path(path.to_owned())
        .http_only(true)
        .secure(self.cookies.secure)
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::minutes(5))
        .finish()
    }

    /// The secret a reveal cookie of `req` holds for its page, and the
    /// cookie that removes it: it is shown once.
    pub fn take_revealed(&self, req: &HttpRequest) -> Option<(SecretString, Cookie<'static>)> {
        let path = req.path();
        let sealed = req.cookie(REVEAL_COOKIE)?;
        let secret = self.keys.open(&self.session_id, path, sealed.value());
        let mut removal = self.reveal_cookie(path, "");
        removal.make_removal();
        secret.map(|s| (s, removal))
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
