use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::startup::AppState;

const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz`: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers, a signing key is loaded and the
/// server is not stopping.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = matches!(
        tokio::time::timeout(READY_TIMEOUT, state.store.ping()).await,
        Ok(Ok(()))
    );
    // The application does not start without a signing key, and a reload
    // never replaces a loaded set with an empty one.
    let signing_key = !state.keys.load().signing_key().kid().is_empty();
    let status = |ok: bool| if ok { "ok" } else { "unavailable" };
    let stopping = state.drain.is_stopping();
    let ready = database && signing_key && !stopping;
    let body = json!({
        "status": if stopping { "stopping" } else if ready { "ready" } else { "not_ready" },
        "checks": { "database": status(database), "signing_key": status(signing_key) },
        // Informational: a node without Redis limits on its own budgets.
        "rate_limiter": state.limiter.mode(),
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
