//! A [`Denial`] as an HTTP answer, for the web adapters to copy into their
//! own response types: one rendering, whatever the framework.

use crate::Denial;

pub(crate) struct Rendered {
    pub status: u16,
    pub challenge: Option<String>,
    /// A 429's `Retry-After` and rate-limit headers.
    pub headers: Vec<(String, String)>,
    /// `application/json`; a request without a credential gets no body.
    pub json: Option<Vec<u8>>,
}

pub(crate) fn render(denial: &Denial, realm: Option<&str>) -> Rendered {
    Rendered {
        status: denial.status(),
        challenge: denial.challenge(realm),
        headers: denial.headers().to_vec(),
        json: denial
            .body()
            .map(|body| serde_json::to_vec(&body).expect("a denial's body serialises")),
    }
}
