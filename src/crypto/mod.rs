//! Signing keys, access-token encoding, secret hashing, keyed digests and
//! the keys derived from the server secret.

pub mod console_tokens;
pub mod credential_digest;
pub mod dpop_nonce;
pub mod foreign_jws;
pub mod jwt;
pub mod keyring;
pub mod mail_seal;
pub mod password;
pub mod response_seal;
pub mod secret;
pub mod secret_digest;
pub mod secret_hasher;
pub mod server_secret;
pub mod signing_key;
pub mod webhook_signing;

pub use credential_digest::CredentialDigest;
pub use keyring::{KeyState, Keyring, KeyringError};
pub use password::PasswordHasher;
pub use response_seal::ResponseSealer;
pub use secret_digest::SecretDigests;
pub use secret_hasher::SecretHasher;
pub use server_secret::ServerSecret;
pub use signing_key::{SigningAlgorithm, SigningKey};
