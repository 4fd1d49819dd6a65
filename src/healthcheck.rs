//! `keyward healthcheck`: the container's `HEALTHCHECK`, which has no shell
//! or curl in a distroless image. It asks the server this configuration
//! describes for `/healthz`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(3);

/// The address to reach a server listening on `listen`: a wildcard bind is
/// reached through loopback.
pub fn probe_address(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// `Ok` when `/healthz` answers 200 within the timeout.
pub async fn check(listen: SocketAddr) -> anyhow::Result<()> {
    let url = format!("http://{}/healthz", probe_address(listen));
    let client = crate::tls::client_builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{url}: {}", crate::error::error_chain(&e)))?;
    match response.status() {
        reqwest::StatusCode::OK => Ok(()),
        status => anyhow::bail!("{url} answered {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::probe_address;

    #[test]
    fn wildcard_binds_are_probed_on_loopback() {
        let cases = [
            ("0.0.0.0:8080", "127.0.0.1:8080"),
            ("[::]:9000", "[::1]:9000"),
            ("10.1.2.3:80", "10.1.2.3:80"),
        ];
        for (listen, probed) in cases {
            assert_eq!(
                probe_address(listen.parse().unwrap()),
                probed.parse().unwrap()
            );
        }
    }
}
