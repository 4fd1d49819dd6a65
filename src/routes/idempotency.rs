//! The `Idempotency-Key` middleware of the management API.
//!
//! On POST, PATCH and DELETE with an `Idempotency-Key` header (a UUIDv4),
//! the first request claims the key for its caller in the database, runs,
//! and leaves its response sealed there for an hour; a retry with the same
//! key gets that response again, with `X-Idempotent-Replayed: true`, without
//! running the handler. A retry while the first still runs gets 409, and the
//! same key on another method, path or body gets 422. A 5xx, an error or a
//! dropped request releases the claim, so the client can retry. Other
//! methods, and requests without the header, pass through untouched.
//!
//! ```ignore
//! web::scope("/admin/v1")
//!     .wrap(state.idempotency.clone()) // inner: runs after authentication
//!     .wrap(authentication)            // outer: inserts `IdempotencyCaller`
//! ```

mod claim;
mod request;
mod stored;

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{forward_ready, Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::{header, Method, StatusCode};
use actix_web::{HttpMessage, HttpResponse};

use crate::crypto::{ResponseSealer, ServerSecret};
use crate::domain::IdempotencyKey;
use crate::error::error_chain;
use crate::storage::{ClaimOutcome, IdempotencyClaim, IdempotencySlot, Store};
use crate::time::Clock;

use claim::ClaimGuard;
use request::{caller_identity, parse_key, read_body, request_digest};
use stored::{problem, StoredResponse};

pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "x-idempotent-replayed";
/// How long a completed request is replayed.
const ENTRY_TTL_SECONDS: i64 = 3600;
/// How long an unfinished claim holds, so that a crashed node's claims lapse.
const CLAIM_LEASE_SECONDS: i64 = 60;
const PURGE_EVERY_SECONDS: i64 = 60;
/// A larger response is returned but not kept for replay.
const MAX_STORED_BODY_BYTES: usize = 256 * 1024;

/// Who an Idempotency-Key belongs to: keys of different callers never meet.
///
/// The management API's authentication inserts it into the request
/// extensions (`req.extensions_mut().insert(IdempotencyCaller(..))`) before
/// this middleware runs, that is from a middleware wrapped outside it.
/// Without it, the caller is the SHA-256 of the `Authorization` header
/// value(s); without that header, one shared anonymous caller, whose keys
/// are still safe as a UUIDv4 is not guessable. Only a keyed hash of the
/// caller identity is stored, never the header in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyCaller(pub String);

/// The middleware: `.wrap(Idempotency::new(store, &server_secret))`.
/// Cheap to clone; replicas given the same database and server secret
/// share their keys.
#[derive(Clone)]
pub struct Idempotency {
    shared: Arc<Shared>,
    /// The methods the wrapped resource serves, when known.
    methods: Option<&'static [&'static str]>,
}

struct Shared {
    store: Arc<dyn Store>,
    sealer: ResponseSealer,
    next_purge: AtomicI64,
    clock: Arc<dyn Clock>,
}

impl Idempotency {
    pub fn new(store: Arc<dyn Store>, secret: &ServerSecret, clock: Arc<dyn Clock>) -> Self {
        Self {
            shared: Arc::new(Shared {
                store,
                sealer: ResponseSealer::new(secret),
                next_purge: AtomicI64::new(0),
                clock,
            }),
            methods: None,
        }
    }

    /// For a resource serving only `methods` (in any case): a request with
    /// another method passes through to its 405 without claiming the key,
    /// so a key used elsewhere does not turn that 405 into a 422.
    pub fn for_methods(&self, methods: &'static [&'static str]) -> Self {
        Self {
            shared: self.shared.clone(),
            methods: Some(methods),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Idempotency
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Transform = IdempotencyMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(IdempotencyMiddleware {
            service: Rc::new(service),
            shared: self.shared.clone(),
            methods: self.methods,
        }))
    }
}

pub struct IdempotencyMiddleware<S> {
    service: Rc<S>,
    shared: Arc<Shared>,
    methods: Option<&'static [&'static str]>,
}

type Answer = Result<ServiceResponse<BoxBody>, actix_web::Error>;

impl<S, B> Service<ServiceRequest> for IdempotencyMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Answer>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let served = self.methods.is_none_or(|methods| {
            methods
                .iter()
                .any(|m| m.eq_ignore_ascii_case(req.method().as_str()))
        });
        let applies = served
            && matches!(*req.method(), Method::POST | Method::PATCH | Method::DELETE)
            && req.headers().contains_key(IDEMPOTENCY_KEY_HEADER);
        let service = self.service.clone();
        if !applies {
            return Box::pin(async move { Ok(service.call(req).await?.map_into_boxed_body()) });
        }
        Box::pin(handle(self.shared.clone(), service, req))
    }
}

/// The stored identity of one request's key.
struct Entry {
    key: IdempotencyKey,
    slot: IdempotencySlot,
    fingerprint: String,
}

impl Entry {
    fn of(sealer: &ResponseSealer, key: IdempotencyKey, req: &ServiceRequest, body: &[u8]) -> Self {
        let caller_hash = sealer.caller_hash(&caller_identity(req));
        Self {
            slot: IdempotencySlot {
                key_hash: sealer.key_hash(&caller_hash, &key),
                caller_hash,
            },
            fingerprint: sealer.fingerprint(request_digest(req, body).as_ref()),
            key,
        }
    }

    /// Binds a sealed response to its row.
    fn aad(&self) -> Vec<u8> {
        format!("{}/{}", self.slot.caller_hash, self.slot.key_hash).into_bytes()
    }
}

async fn handle<S, B>(shared: Arc<Shared>, service: Rc<S>, mut req: ServiceRequest) -> Answer
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    let Some(key) = parse_key(&req) else {
        return Ok(req.into_response(problem(
            StatusCode::BAD_REQUEST,
            "INVALID_IDEMPOTENCY_KEY",
            "The Idempotency-Key header must be one UUIDv4.",
        )));
    };
    let body = match read_body(req.take_payload()).await {
        Ok(body) => body,
        Err(refusal) => return Ok(req.into_response(refusal)),
    };
    req.set_payload(Payload::from(body.clone()));
    let entry = Entry::of(&shared.sealer, key, &req, &body);
    let now = shared.clock.unix();
    shared.purge_now_and_then(now);
    let claim = IdempotencyClaim {
        slot: entry.slot.clone(),
        claim_id: uuid::Uuid::new_v4().simple().to_string(),
        fingerprint: entry.fingerprint.clone(),
        now,
        lease_until: now + CLAIM_LEASE_SECONDS,
    };
    let refusal = match shared.store.claim_idempotency_key(&claim).await {
        Ok(ClaimOutcome::Claimed) => {
            let guard = ClaimGuard::new(shared.clone(), claim);
            return run(&shared, guard, &entry, service, req).await;
        }
        Ok(ClaimOutcome::Completed {
            fingerprint,
            sealed_response,
        }) if fingerprint == entry.fingerprint => replay(&shared, &entry, &sealed_response),
        Ok(ClaimOutcome::Completed { .. }) => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "IDEMPOTENCY_KEY_REUSED",
            "This Idempotency-Key was used for a request with another method, path or body.",
        ),
        Ok(ClaimOutcome::InFlight) => {
            let mut response = problem(
                StatusCode::CONFLICT,
                "IDEMPOTENCY_KEY_IN_USE",
                "A request with this Idempotency-Key is still being processed; retry later.",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            response
        }
        Err(e) => {
            tracing::error!(error = %error_chain(&e), "claiming an idempotency key failed");
            stored::unavailable()
        }
    };
    Ok(req.into_response(refusal))
}

/// Runs the request under our claim and keeps its response, unless a 5xx.
async fn run<S, B>(
    shared: &Shared,
    mut guard: ClaimGuard,
    entry: &Entry,
    service: Rc<S>,
    req: ServiceRequest,
) -> Answer
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    let response = match service.call(req).await {
        Ok(response) => response,
        Err(e) => {
            guard.release().await;
            return Err(e);
        }
    };
    if response.status().is_server_error() {
        guard.release().await;
        return Ok(response.map_into_boxed_body());
    }
    let (req, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let bytes = match body::to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let e: Box<dyn std::error::Error> = e.into();
            tracing::error!(error = %e, "reading a response body failed");
            guard.release().await;
            return Ok(ServiceResponse::new(req, stored::internal_error()));
        }
    };
    if bytes.len() > MAX_STORED_BODY_BYTES {
        tracing::warn!(len = bytes.len(), "a response too large to keep for replay");
        guard.release().await;
    } else {
        let plaintext = StoredResponse::capture(&head, &bytes).encode();
        let sealed = shared.sealer.seal(&entry.key, &entry.aad(), &plaintext);
        guard.complete(&sealed).await;
    }
    Ok(ServiceResponse::new(
        req,
        head.set_body(bytes).map_into_boxed_body(),
    ))
}

fn replay(shared: &Shared, entry: &Entry, sealed: &[u8]) -> HttpResponse {
    let response = shared
        .sealer
        .open(&entry.key, &entry.aad(), sealed)
        .ok()
        .and_then(|plaintext| StoredResponse::decode(&plaintext))
        .and_then(StoredResponse::into_replay);
    response.unwrap_or_else(|| {
        tracing::error!(
            "a stored idempotent response does not open; was the server secret changed?"
        );
        stored::internal_error()
    })
}

impl Shared {
    /// Deletes expired entries in the background, at most once a minute per node.
    fn purge_now_and_then(self: &Arc<Self>, now: i64) {
        let due = self.next_purge.load(Ordering::Relaxed);
        if now < due
            || self
                .next_purge
                .compare_exchange(
                    due,
                    now + PURGE_EVERY_SECONDS,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return;
        }
        let shared = self.clone();
        tokio::spawn(async move {
            match shared.store.purge_idempotency_keys(now).await {
                Ok(purged) => tracing::debug!(purged, "purged expired idempotency keys"),
                Err(e) => {
                    tracing::warn!(error = %error_chain(&e), "purging idempotency keys failed")
                }
            }
        });
    }
}
