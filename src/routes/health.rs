use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde_json::json;

use arc_swap::ArcSwap;

use crate::crypto::keyring::KeySet;
use crate::drain::Drain;
use crate::services::rate_limit::RateLimits;
use crate::storage::Store;

const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz`: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers, a signing key is loaded and the
/// server is not stopping.
pub async fn readyz(
    store: web::Data<dyn Store>,
    keys: web::Data<ArcSwap<KeySet>>,
    drain: web::Data<Drain>,
    limiter: web::Data<RateLimits>,
) -> HttpResponse {
    let database = matches!(
        tokio::time::timeout(READY_TIMEOUT, store.ping()).await,
        Ok(Ok(()))
    );
    // The application does not start without a signing key, and a reload
    // never replaces a loaded set with an empty one.
    let signing_key = !keys.load().signing_key().kid().is_empty();
    let status = |ok: bool| if ok { "ok" } else { "unavailable" };
    let stopping = drain.is_stopping();
    let ready = database && signing_key && !stopping;
    let body = json!({
        "status": if stopping { "stopping" } else if ready { "ready" } else { "not_ready" },
        "checks": { "database": status(database), "signing_key": status(signing_key) },
        // Informational: a node without Redis limits on its own budgets.
        "rate_limiter": limiter.mode(),
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
