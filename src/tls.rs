//! Every HTTP client of ours starts here, so that its TLS runs on aws-lc-rs,
//! our one crypto backend: reqwest builds rustls on ring unless a
//! process-wide provider is installed first.

use std::sync::Once;

/// A `reqwest` client builder whose TLS uses aws-lc-rs.
pub fn client_builder() -> reqwest::ClientBuilder {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Err only when a provider is installed already: that one stays.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
    reqwest::Client::builder()
}

/// A client with reqwest's defaults, on `client_builder`.
pub fn client() -> reqwest::Client {
    client_builder()
        .build()
        .expect("a client with default settings builds")
}

#[cfg(test)]
mod tests {
    /// reqwest panics ("No provider set") building a client when no TLS
    /// provider is installed.
    #[test]
    fn clients_build_with_the_aws_lc_provider() {
        let _first = super::client();
        let _second = super::client_builder().https_only(true).build().unwrap();
        let provider = rustls::crypto::CryptoProvider::get_default().unwrap();
        let aws_lc = rustls::crypto::aws_lc_rs::default_provider();
        assert_eq!(
            format!("{:?}", provider.cipher_suites),
            format!("{:?}", aws_lc.cipher_suites)
        );
    }
}
