//! The HTTP client that webhooks and client key sets (`jwks_uri`) go out
//! through. Unless the operator allows
//! private networks, every address it connects to passes
//! domain::outbound_address. Names are resolved here and only an all-public
//! answer reaches the connector, so the address checked is the address
//! connected to, and a name that answers differently at send time than
//! when it was set (DNS rebinding) gains nothing. Literal addresses skip
//! the resolver, so they are checked before the request. Redirects are not
//! followed, and no proxy is used: a proxy would resolve the name out of
//! the check's sight.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::outbound_address::{self, NotPublic};

pub struct OutboundHttp {
    client: reqwest::Client,
    public_only: bool,
}

/// Why a request was not even started.
#[derive(Debug, thiserror::Error)]
pub enum Unsendable {
    #[error("the URL does not parse: {0}")]
    Url(#[from] url::ParseError),
    #[error(transparent)]
    NotPublic(#[from] NotPublic),
}

impl OutboundHttp {
    pub fn new(allow_private_networks: bool, timeout: Duration) -> reqwest::Result<Self> {
        let mut builder = crate::tls::client_builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Keyward/", env!("CARGO_PKG_VERSION")));
        if !allow_private_networks {
            builder = builder.dns_resolver(Arc::new(PublicOnly)).no_proxy();
        }
        Ok(Self {
            client: builder.build()?,
            public_only: !allow_private_networks,
        })
    }

    /// A POST to `url`, unless the URL's host is a literal address that
    /// may not be reached.
    pub fn post(&self, url: &str) -> Result<reqwest::RequestBuilder, Unsendable> {
        self.request(reqwest::Method::POST, url)
    }

    /// A GET of `url`, under the same rule.
    pub fn get(&self, url: &str) -> Result<reqwest::RequestBuilder, Unsendable> {
        self.request(reqwest::Method::GET, url)
    }

    fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, Unsendable> {
        let url = reqwest::Url::parse(url)?;
        if self.public_only {
            let literal: Option<IpAddr> = match url.host() {
                Some(url::Host::Ipv4(v4)) => Some(v4.into()),
                Some(url::Host::Ipv6(v6)) => Some(v6.into()),
                _ => None,
            };
            if let Some(ip) = literal {
                outbound_address::check_ip(ip)?;
            }
        }
        Ok(self.client.request(method, url))
    }
}

/// The body of `response`, read a chunk at a time and refused once past
/// `max` bytes, so an answer cannot grow without bound in memory.
pub async fn read_bounded(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        body.extend_from_slice(&chunk);
        if body.len() > max {
            return Err(format!("answered more than {max} bytes"));
        }
    }
    Ok(body)
}

/// Resolves with the system resolver and lets through only public answers.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let name = name.as_str().to_owned();
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let addrs: Addrs = Box::new(public_only(found)?.into_iter());
            Ok(addrs)
        })
    }
}

/// Every address, if each is public. A name that answers with any
/// internal address is refused whole, not filtered: such a name is not a
/// receiver on the internet, whatever else it answers.
fn public_only(found: impl IntoIterator<Item = SocketAddr>) -> Result<Vec<SocketAddr>, NotPublic> {
    found
        .into_iter()
        .map(|addr| outbound_address::check_ip(addr.ip()).map(|()| addr))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(raw: &[&str]) -> Vec<SocketAddr> {
        raw.iter()
            .map(|ip| SocketAddr::new(ip.parse().unwrap(), 0))
            .collect()
    }

    #[test]
    fn an_answer_with_any_internal_address_is_refused_whole() {
        let public = addrs(&["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]);
        assert_eq!(public_only(public.clone()), Ok(public));
        for mixed in [
            addrs(&["93.184.215.14", "127.0.0.1"]),
            addrs(&["10.0.0.7"]),
            addrs(&["93.184.215.14", "::ffff:169.254.169.254"]),
        ] {
            assert!(public_only(mixed.clone()).is_err(), "{mixed:?}");
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_a_name_that_resolves_to_loopback() {
        // `localhost` resolves offline, through /etc/hosts, to loopback.
        let error = PublicOnly
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .expect("refused");
        assert!(
            error.to_string().contains("not a public address"),
            "{error}"
        );
    }

    /// A receiver listening on loopback is never connected to, by name or
    /// by address, unless private networks are allowed.
    #[tokio::test]
    async fn loopback_receivers_are_not_connected_to() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let http = OutboundHttp::new(false, Duration::from_secs(2)).unwrap();
        let by_name = http
            .post(&format!("http://localhost:{port}/hooks"))
            .unwrap()
            .send()
            .await;
        assert!(by_name.is_err());
        for literal in [
            format!("http://127.0.0.1:{port}/hooks"),
            format!("http://[::ffff:127.0.0.1]:{port}/hooks"),
        ] {
            assert!(
                matches!(http.post(&literal), Err(Unsendable::NotPublic(_))),
                "{literal}"
            );
        }
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(accepted.is_err(), "something connected");

        let internal = OutboundHttp::new(true, Duration::from_secs(2)).unwrap();
        let request = internal
            .post(&format!("http://localhost:{port}/hooks"))
            .unwrap();
        tokio::spawn(request.send());
        let accepted = tokio::time::timeout(Duration::from_secs(2), listener.accept()).await;
        assert!(accepted.is_ok(), "private networks allowed: connects");
    }
}
