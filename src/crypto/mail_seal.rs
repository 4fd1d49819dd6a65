//! Queued emails are stored sealed: an invitation carries a link that sets
//! a password, and the database holds such links only as digests
//! elsewhere. AES-256-GCM under a key derived (HKDF-SHA256) from the server
//! secret, so every replica opens what another queued, with the delivery's
//! id as associated data, so sealed bytes do not open in another row.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use super::server_secret::ServerSecret;

const MAIL_INFO: &[u8] = b"keyward/email/body/v1";

pub struct MailSealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a sealed email does not open with this server secret")]
pub struct MailSealError;

impl MailSealer {
    pub fn new(secret: &ServerSecret) -> Self {
        let prk = secret.prk();
        let info = [MAIL_INFO];
        let okm = prk
            .expand(&info, &AES_256_GCM)
            .expect("an AES-256 key is a valid HKDF length");
        Self {
            key: LessSafeKey::new(UnboundKey::from(okm)),
            rng: SystemRandom::new(),
        }
    }

    /// `nonce || ciphertext || tag`, bound to the delivery `id`.
    pub fn seal(&self, id: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).expect("the OS RNG is available");
        let mut sealed = Vec::with_capacity(NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(plaintext);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(id.as_bytes()),
                &mut sealed[NONCE_LEN..],
            )
            .expect("an email is far below the AES-GCM length limit");
        sealed.extend_from_slice(tag.as_ref());
        sealed
    }

    pub fn open(&self, id: &str, sealed: &[u8]) -> Result<Vec<u8>, MailSealError> {
        if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(MailSealError);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| MailSealError)?;
        let mut buffer = ciphertext.to_vec();
        let len = self
            .key
            .open_in_place(nonce, Aad::from(id.as_bytes()), &mut buffer)
            .map_err(|_| MailSealError)?
            .len();
        buffer.truncate(len);
        Ok(buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(secret: &str) -> MailSealer {
        MailSealer::new(&ServerSecret::try_from(secret.repeat(32)).unwrap())
    }

    const BODY: &[u8] = b"set a password at https://k.example/console/password?token=s3cret";

    #[test]
    fn opens_only_in_its_row_under_its_secret() {
        let s = sealer("a");
        let sealed = s.seal("eml_1", BODY);
        assert_eq!(s.open("eml_1", &sealed).unwrap(), BODY);
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(s.open("eml_2", &sealed), Err(MailSealError));
        assert_eq!(sealer("b").open("eml_1", &sealed), Err(MailSealError));
        assert_eq!(s.open("eml_1", &sealed[..8]), Err(MailSealError));
        assert_ne!(s.seal("eml_1", BODY), sealed, "a fresh nonce each time");
    }
}
