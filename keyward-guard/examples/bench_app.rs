//! The app behind the workspace's `bench/guard.sh`: one trivial route, and
//! the same route behind keyward-guard's `RequireScope`, so that one run
//! measures what the guard's offline check costs.
//!
//! ```sh
//! KEYWARD_URL=http://127.0.0.1:18080 BENCH_AUDIENCE=https://api.example.test \
//!   BENCH_LISTEN=127.0.0.1:18090 \
//!   cargo run --release -p keyward-guard --features actix --example bench_app
//! ```
//!
//! `BENCH_TOKEN_CACHE=0` turns the verified-token cache off.

use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::Context;
use keyward_guard::actix::RequireScope;
use keyward_guard::Guard;

async fn trivial() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let var = |name: &str| std::env::var(name).with_context(|| format!("{name} is required"));
    let listen = var("BENCH_LISTEN")?;
    let cache = match std::env::var("BENCH_TOKEN_CACHE").ok() {
        Some(capacity) => capacity.parse().context("BENCH_TOKEN_CACHE")?,
        None => 10_000,
    };
    let guard = Guard::builder(var("KEYWARD_URL")?, var("BENCH_AUDIENCE")?)
        .token_cache_capacity(cache)
        .connect()
        .await?;
    let scoped = RequireScope::new(&guard, "payouts:read")?;
    HttpServer::new(move || {
        App::new()
            .route("/trivial", web::get().to(trivial))
            .service(
                web::resource("/guarded")
                    .wrap(scoped.clone())
                    .route(web::get().to(trivial)),
            )
    })
    .bind(&listen)
    .with_context(|| format!("BENCH_LISTEN {listen}"))?
    .run()
    .await?;
    Ok(())
}
