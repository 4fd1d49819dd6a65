//! The two calls to Keyward: a key check, and a report of uses served
//! from a cached verdict. Neither logs the key.

use std::net::IpAddr;

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::verdict::VerifyAnswer;
use super::ResourceServerCredentials;
use crate::{Denial, RequiredScope};

/// The rate-limit headers of Keyward's answer, passed on with a 429.
const RATE_HEADERS: [&str; 6] = [
    "retry-after",
    "ratelimit-policy",
    "ratelimit",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
];

pub(crate) struct KeywardApi {
    http: reqwest::Client,
    verify_url: String,
    usage_url: String,
    credentials: ResourceServerCredentials,
}

#[derive(Serialize)]
struct VerifyRequest<'a> {
    key: &'a str,
    required_scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_ip: Option<IpAddr>,
}

#[derive(Serialize)]
struct UsageReport<'a> {
    key: &'a str,
    uses: u32,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    #[error("Keyward could not be reached")]
    Transport(#[from] reqwest::Error),
    #[error("Keyward answered {0}")]
    Status(StatusCode),
}

impl KeywardApi {
    pub(crate) fn new(
        http: reqwest::Client,
        keyward_url: &str,
        credentials: ResourceServerCredentials,
    ) -> Self {
        Self {
            http,
            verify_url: format!("{keyward_url}/v1/keys/verify"),
            usage_url: format!("{keyward_url}/v1/keys/usage"),
            credentials,
        }
    }

    /// Keyward's verdict on `key`, with its rate-limit headers; a 503 when
    /// it cannot give one.
    pub(crate) async fn verify(
        &self,
        key: &str,
        required: &RequiredScope,
        client_ip: Option<IpAddr>,
    ) -> Result<(VerifyAnswer, Vec<(String, String)>), Denial> {
        let body = VerifyRequest {
            key,
            required_scope: required.to_string(),
            client_ip,
        };
        let asked = async {
            let response = self.post(&self.verify_url, &body).await?;
            let headers = rate_headers(response.headers());
            Ok::<_, CallError>((response.json().await?, headers))
        };
        asked.await.map_err(|e| {
            tracing::warn!(error = %e, cause = ?std::error::Error::source(&e), "API key check failed");
            Denial::Unavailable
        })
    }

    /// Counts `uses` requests served on a cached verdict of `key`.
    pub(crate) async fn report_usage(
        &self,
        key: &SecretString,
        uses: u32,
    ) -> Result<(), CallError> {
        let body = UsageReport {
            key: key.expose_secret(),
            uses,
        };
        self.post(&self.usage_url, &body).await.map(drop)
    }

    async fn post(&self, url: &str, body: &impl Serialize) -> Result<reqwest::Response, CallError> {
        let response = self
            .http
            .post(url)
            .basic_auth(
                &self.credentials.client_id,
                Some(self.credentials.client_secret.expose_secret()),
            )
            .json(body)
            .send()
            .await?;
        match response.status() {
            status if status.is_success() => Ok(response),
            StatusCode::UNAUTHORIZED => {
                tracing::error!("Keyward refused the guard's resource-server credentials");
                Err(CallError::Status(StatusCode::UNAUTHORIZED))
            }
            status => Err(CallError::Status(status)),
        }
    }
}

fn rate_headers(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    RATE_HEADERS
        .iter()
        .filter_map(|name| {
            let value = headers.get(*name)?.to_str().ok()?;
            Some(((*name).to_owned(), value.to_owned()))
        })
        .collect()
}
