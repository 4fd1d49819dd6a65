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

/// Whose session a cookie carries: an organisation member's, or the
/// operator's (signed in with the root token). Each has its own cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Member,
    Operator,
}

/// The cookie's name: `__Host-` binds it to this host over HTTPS; a
/// plain-http loopback issuer cannot use the prefix.
fn cookie_name(site: &ConsoleSite, kind: Kind) -> &'static str {
    match (site.secure, kind) {
        (true, Kind::Member) => "__Host-keyward-session",
        (false, Kind::Member) => "keyward-session",
        (true, Kind::Operator) => "__Host-keyward-operator",
        (false, Kind::Operator) => "keyward-operator",
    }
}

/// The cookie that carries a new session's id.
pub fn session_cookie(site: &ConsoleSite, kind: Kind, id: &SecretString) -> Cookie<'static> {
    Cookie::build(cookie_name(site, kind), id.expose_secret().to_owned())
        .path("/")
        .http_only(true)
        .secure(site.secure)
        .same_site(SameSite::Lax)
        .finish()
}

/// The cookie that removes it.
pub fn removal_cookie(site: &ConsoleSite, kind: Kind) -> Cookie<'static> {
    let mut cookie = session_cookie(site, kind, &SecretString::from(String::new()));
    cookie.make_removal();
    cookie
}

/// The session id of a request, if it carries one.
pub fn session_id(req: &HttpRequest, kind: Kind) -> Option<SecretString> {
    let site = req.app_data::<web::Data<ConsoleSite>>()?;
    req.cookie(cookie_name(site, kind))
        .map(|c| SecretString::from(c.value().to_owned()))
}

fn data<T: ?Sized + 'static>(req: &HttpRequest) -> web::Data<T> {
    req.app_data::<web::Data<T>>()
        .expect("the console's parts are registered")
        .clone()
}

/// A live session of a request: its forms' CSRF token, and the secrets it
/// may be shown once.
pub struct Session {
    /// The token every form of this session carries.
    pub csrf: String,
    id: SecretString,
    keys: web::Data<ConsoleKeys>,
    site: web::Data<ConsoleSite>,
}

impl Session {
    fn of(req: &HttpRequest, id: SecretString) -> Self {
        let keys = data::<ConsoleKeys>(req);
        Self {
            csrf: keys.token(&id),
            id,
            keys,
            site: data::<ConsoleSite>(req),
        }
    }

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

    pub fn site(&self) -> &ConsoleSite {
        &self.site
    }

    /// A cookie that shows `secret` once, on the page at `path`, to this
    /// session only.
    fn reveal_cookie(&self, path: &str, secret: &str) -> Cookie<'static> {
        Cookie::build(REVEAL_COOKIE, self.keys.seal(&self.id, path, secret))
            .path(path.to_owned())
            .http_only(true)
            .secure(self.site.secure)
            .same_site(SameSite::Strict)
            .max_age(actix_web::cookie::time::Duration::minutes(5))
            .finish()
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
        let secret = self.keys.open(&self.id, path, sealed.value());
        let mut response = render(secret.as_ref().map(|s| s.expose_secret()));
        let mut removal = self.reveal_cookie(path, "");
        removal.make_removal();
        response
            .add_cookie(&removal)
            .map_err(|_| ConsoleError::Unavailable)?;
        Ok(response)
    }
}

/// The signed-in member of a console request.
pub struct SignedIn {
    pub member: Member,
    pub session: Session,
    source: Option<std::net::IpAddr>,
    request_id: String,
}

impl std::ops::Deref for SignedIn {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.session
    }
}

impl FromRequest for SignedIn {
    type Error = ConsoleError;
    type Future = LocalBoxFuture<'static, Result<Self, ConsoleError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let sessions = data::<ConsoleSessions>(&req);
            let id = session_id(&req, Kind::Member).ok_or(ConsoleError::SignInRequired)?;
            let member = sessions
                .resolve(id.expose_secret())
                .await?
                .ok_or(ConsoleError::SignInRequired)?;
            Ok(Self {
                member,
                session: Session::of(&req, id),
                source: source_ip(&req),
                request_id: request_id(&req),
            })
        })
    }
}

impl SignedIn {
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

/// The operator, signed in with the root token: a request of theirs, as
/// the management core's root caller.
pub struct Operator {
    pub session: Session,
    pub caller: Caller,
}

impl std::ops::Deref for Operator {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.session
    }
}

impl FromRequest for Operator {
    type Error = ConsoleError;
    type Future = LocalBoxFuture<'static, Result<Self, ConsoleError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let sessions = data::<ConsoleSessions>(&req);
            let refused = || ConsoleError::OperatorSignInRequired;
            let id = session_id(&req, Kind::Operator).ok_or_else(refused)?;
            if !sessions.operator(id.expose_secret()).await? {
                return Err(refused());
            }
            Ok(Self {
                session: Session::of(&req, id),
                caller: Caller {
                    actor: crate::management::Actor::Root,
                    source_ip: source_ip(&req),
                    request_id: request_id(&req),
                },
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookies_are_host_bound_http_only_and_lax() {
        let site = ConsoleSite::for_issuer("https://auth.example.com");
        let id = SecretString::from("id".to_owned());
        for (kind, name) in [
            (Kind::Member, "__Host-keyward-session"),
            (Kind::Operator, "__Host-keyward-operator"),
        ] {
            let cookie = session_cookie(&site, kind, &id).to_string();
            assert!(cookie.starts_with(&format!("{name}=id")), "{cookie}");
            for flag in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
                assert!(cookie.contains(flag), "{flag} in {cookie}");
            }
            assert!(!cookie.contains("Domain"), "__Host- cookies name no domain");
        }
    }
}
