//! A minimal resource server: `GET /payouts` needs a scope in a Keyward token.
//!
//! ```sh
//! KEYWARD_URL=http://127.0.0.1:8080 RS_AUDIENCE=https://api.example.test \
//!   RS_REQUIRED_SCOPE=payouts:read cargo run --example resource_server
//! ```
//!
//! `RS_MODE=introspect` (with `RS_CLIENT_ID` and `RS_CLIENT_SECRET` of a
//! `--resource-server` client) asks Keyward instead of verifying offline.
//! `RS_PUBLIC_URL` is where clients call it (default `http://RS_LISTEN`):
//! DPoP proofs name it.

mod guard;

use std::process::ExitCode;
use std::time::Duration;

use actix_web::{web, App, HttpServer};
use anyhow::Context;
use guard::{Config, Guard, Mode};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("resource_server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let mode = match optional("RS_MODE").as_deref().unwrap_or("jwks") {
        "jwks" => Mode::Jwks {
            refetch_interval: Duration::from_secs(10),
        },
        "introspect" => Mode::Introspect {
            client_id: required("RS_CLIENT_ID")?,
            client_secret: required("RS_CLIENT_SECRET")?.into(),
            cache_ttl: Duration::from_secs(5),
        },
        other => anyhow::bail!("RS_MODE must be jwks or introspect, not {other:?}"),
    };
    let listen = optional("RS_LISTEN").unwrap_or_else(|| "127.0.0.1:9090".into());
    let config = Config {
        keyward_url: required("KEYWARD_URL")?,
        audience: required("RS_AUDIENCE")?,
        required_scope: required("RS_REQUIRED_SCOPE")?,
        mode,
        public_url: optional("RS_PUBLIC_URL").unwrap_or_else(|| format!("http://{listen}")),
    };
    let guard = web::Data::new(Guard::connect(config).await?);
    let server =
        HttpServer::new(move || App::new().app_data(guard.clone()).configure(guard::routes))
            .bind(&listen)
            .with_context(|| format!("RS_LISTEN {listen}"))?;
    tracing::info!(%listen, "resource server listening");
    server.run().await?;
    Ok(())
}

fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn required(name: &str) -> anyhow::Result<String> {
    optional(name).with_context(|| format!("{name} is required"))
}
