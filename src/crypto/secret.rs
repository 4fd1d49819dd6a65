//! Server-generated secrets: 256 bits from the OS CSPRNG behind a
//! recognisable prefix, so secret scanners can spot a leaked one.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;

use crate::domain::ClientSecret;

pub fn generate_client_secret() -> ClientSecret {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    ClientSecret::new(format!(
        "{}{}",
        ClientSecret::PREFIX,
        URL_SAFE_NO_PAD.encode(bytes)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_and_distinct() {
        let a = generate_client_secret();
        let b = generate_client_secret();
        assert!(a.expose().starts_with("kws_"));
        assert_eq!(a.expose().len(), 4 + 43);
        assert_ne!(a.expose(), b.expose());
    }
}
