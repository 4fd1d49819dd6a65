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
        Self::from_body(&read_body(payload).await?)
    }

    /// The parameters of a form body already read.
    fn from_body(body: &[u8]) -> Result<Self, OAuthError> {
        let body = std::str::from_utf8(body)
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::routes::form::tests::encode;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]

        #[test]
        fn any_body_is_a_form_or_invalid_request(body in prop::collection::vec(any::<u8>(), 0..80)) {
            if let Err(e) = OAuthForm::from_body(&body) {
                prop_assert_eq!(e.code.as_str(), "invalid_request");
            }
        }

        #[test]
        fn distinct_parameters_round_trip(
            params in prop::collection::btree_map("\\PC{1,8}", "\\PC{1,12}", 0..6),
        ) {
            let body = params
                .iter()
                .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
                .collect::<Vec<_>>()
                .join("&");
            let form = OAuthForm::from_body(body.as_bytes()).unwrap();
            for (name, value) in &params {
                prop_assert_eq!(form.get(name), Some(value.as_str()));
            }
        }

        #[test]
        fn a_repeated_parameter_is_refused(name in "[a-z_]{1,10}", a in "[a-z]{1,5}", b in "[a-z]{1,5}") {
            let body = format!("{name}={a}&{name}={b}");
            let e = OAuthForm::from_body(body.as_bytes()).err().unwrap();
            prop_assert_eq!(e.code.as_str(), "invalid_request");
        }

        #[test]
        fn an_empty_value_is_an_omitted_one(name in "[a-z_]{1,10}", value in "[a-z]{1,5}") {
            let body = format!("{name}=&{name}={value}");
            let form = OAuthForm::from_body(body.as_bytes()).unwrap();
            prop_assert_eq!(form.get(&name), Some(value.as_str()));
        }
    }
}
