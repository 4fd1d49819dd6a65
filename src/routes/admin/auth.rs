//! Who calls the management API: the operator with the root token, or an
//! organisation admin with an access token we issued or an API key, either
//! carrying `keyward:*` management scopes. Every caller sends
//! `Authorization: Bearer <token-or-key>`.

use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde_json::Map;

use super::audit;
use super::problem::Problem;
use crate::domain::{OrgId, ScopeSet};
use crate::management::{Actor, AuditSubject, Caller};
use crate::routes::idempotency::IdempotencyCaller;
use crate::routes::rate_limit_headers;
use crate::services::audit_writer::AuditWriter;
use crate::services::auth_failure_tally::AuthFailureTally;
use crate::services::introspection::CredentialKind;
use crate::services::rate_limit::RateLimits;
use crate::services::root_token::RootToken;
use crate::services::{ApiKeyVerifier, Introspector};
use crate::time::Clock;

/// What authenticating a management call takes.
pub struct AdminAuth {
    pub root_token: RootToken,
    pub api_keys: Arc<ApiKeyVerifier>,
    pub introspector: Arc<Introspector>,
    /// `aud` that access tokens for the management API carry: the issuer.
    pub audience: String,
    /// Failed authentications, audited once per source and minute.
    pub failures: Arc<AuthFailureTally>,
    pub audit: Arc<AuditWriter>,
    pub limiter: Arc<RateLimits>,
    /// Management calls a minute, per caller.
    pub rate_limit_per_minute: u32,
    pub clock: Arc<dyn Clock>,
}

/// Authenticates every management call before anything else runs, the
/// Idempotency-Key handling included, which then scopes keys by caller.
/// Records the authentication, or its failure, in the audit trail.
pub async fn authenticate_first(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let state = req
        .app_data::<web::Data<AdminAuth>>()
        .expect("the admin authentication is registered")
        .clone();
    let caller = match authenticate(req.request()).await {
        Ok(caller) => caller,
        Err(refused) => {
            if refused.problem.status == StatusCode::UNAUTHORIZED {
                let request = req.request();
                let source = audit::source_ip(request);
                let now = state.clock.unix();
                let request_id = audit::request_id(request);
                state
                    .failures
                    .failed(source, refused.named, &request_id, now);
            }
            return Err(refused.problem.into());
        }
    };
    let target = AuditSubject {
        org_id: caller.org(),
        kind: "credential",
        id: Some(caller.identity()),
    };
    let authenticated = audit::caller(req.request(), caller.clone());
    let action = "admin.authenticated";
    let at = state.clock.now();
    audit::record(&state.audit, &authenticated, action, target, Map::new(), at).await;
    let now = at.timestamp();
    let budget = format!("admin:{}", caller.identity());
    let decision = state
        .limiter
        .check(&budget, state.rate_limit_per_minute)
        .await;
    if !decision.allowed {
        let problem = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            format!(
                "this caller may make {} management calls a minute",
                decision.limit
            ),
        );
        let mut response = actix_web::ResponseError::error_response(&problem);
        rate_limit_headers::insert(response.headers_mut(), &decision, now);
        return Ok(req.into_response(response).map_into_right_body());
    }
    req.extensions_mut()
        .insert(IdempotencyCaller(caller.identity().to_owned()));
    req.extensions_mut().insert(caller);
    let mut response = next.call(req).await?;
    rate_limit_headers::insert(response.headers_mut(), &decision, now);
    Ok(response.map_into_left_body())
}

/// A credential we did not accept; `named` is the organisation and
/// credential (`key:<id>`, `client:<id>`) of one that verified but may
/// not be used here, such as a deactivated key.
struct Refused {
    problem: Problem,
    named: Option<(OrgId, String)>,
}

impl From<Problem> for Refused {
    fn from(problem: Problem) -> Self {
        Self {
            problem,
            named: None,
        }
    }
}

impl From<crate::storage::StorageError> for Refused {
    fn from(err: crate::storage::StorageError) -> Self {
        Problem::from(err).into()
    }
}

/// The actor `authenticate_first` found, and where it calls from.
impl FromRequest for Caller {
    type Error = Problem;
    type Future = LocalBoxFuture<'static, Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let known = req.extensions().get::<Actor>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let actor = match known {
                Some(actor) => actor,
                None => authenticate(&req).await.map_err(|r| r.problem)?,
            };
            Ok(audit::caller(&req, actor))
        })
    }
}

async fn authenticate(req: &HttpRequest) -> Result<Actor, Refused> {
    let state = req
        .app_data::<web::Data<AdminAuth>>()
        .expect("the admin authentication is registered");
    let invalid =
        || Problem::unauthorized("a valid Bearer root token, access token or API key is required");
    let mut headers = req
        .headers()
        .get_all(actix_web::http::header::AUTHORIZATION);
    let (Some(header), None) = (headers.next(), headers.next()) else {
        return Err(invalid().into());
    };
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or_else(invalid)?;
    let now = state.clock.unix();

    if state.root_token.matches(token) {
        return Ok(Actor::Root);
    }
    match CredentialKind::of(token) {
        CredentialKind::ApiKey => {
            let peer = audit::source_ip(req);
            let key = state.api_keys.find(token).await?.ok_or_else(invalid)?;
            let credential = format!("key:{}", key.credentials.key.id);
            if state.api_keys.rejection(&key, peer, now).is_some() {
                return Err(Refused {
                    problem: invalid(),
                    named: Some((key.credentials.key.org_id.clone(), credential)),
                });
            }
            Ok(Actor::OrgAdmin {
                org_id: key.credentials.key.org_id.clone(),
                scopes: key.granted.clone(),
                credential,
            })
        }
        CredentialKind::AccessToken => {
            let claims = state
                .introspector
                .live_bearer_token(token, now)
                .await?
                .ok_or_else(invalid)?;
            // The management API is a resource server of its own: its
            // audience is the issuer.
            let org_id = OrgId::parse(&claims.org_id).map_err(|_| invalid())?;
            let credential = format!("client:{}", claims.client_id);
            if !claims.aud.iter().any(|a| *a == state.audience) {
                return Err(Refused {
                    problem: invalid(),
                    named: Some((org_id, credential)),
                });
            }
            let granted = ScopeSet::parse_issued(&claims.scope).map_err(|_| invalid())?;
            Ok(Actor::OrgAdmin {
                org_id,
                scopes: state.introspector.expand(&granted),
                credential,
            })
        }
        CredentialKind::Unknown => Err(invalid().into()),
    }
}
