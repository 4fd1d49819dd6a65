//! Signing keys, access-token encoding, secret hashing and keyed digests.

pub mod credential_digest;
pub mod jwt;
pub mod keyring;
pub mod password;
pub mod secret;
pub mod signing_key;

pub use credential_digest::CredentialDigest;
pub use keyring::{KeyState, Keyring, KeyringError};
pub use password::PasswordHasher;
pub use signing_key::{SigningAlgorithm, SigningKey};
