//! A form-encoded OAuth request body (RFC 7662, RFC 7009): UTF-8, each
//! parameter at most once, an empty value the same as an omitted one.

use actix_web::http::header;
use actix_web::{web, HttpRequest};

use super::body::read_body;
use super::form::parse_pairs;
use super::token_request::media_type;
use crate::error::OAuthError;

pub struct OAuthForm {
    pairs: Vec<(String, String)>,
}

impl OAuthForm {
    pub async fn read(req: &HttpRequest, payload: web::Payload) -> Result<Self, OAuthError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if media_type(content_type).as_deref() != Some("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "Content-Type must be application/x-www-form-urlencoded",
            ));
        }
        let body = read_body(payload).await?;
        let body = std::str::from_utf8(&body)
            .map_err(|_| OAuthError::invalid_request("the body is not valid UTF-8"))?;
        let mut pairs = parse_pairs(body).ok_or_else(|| {
            OAuthError::invalid_request("the body is not valid form-urlencoded UTF-8")
        })?;
        pairs.retain(|(_, value)| !value.is_empty());
        for (i, (name, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(earlier, _)| earlier == name) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {name} must not be repeated"
                )));
            }
        }
        Ok(Self { pairs })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}
