//! The server secret: the input keying material of the keys that every
//! replica must derive alike, such as those of the idempotency store. It is
//! the `server_secret` setting or, when that is unset, the file
//! `server-secret` in the keys directory, which the first start writes and
//! replicas share with the signing keys.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aws_lc_rs::hkdf;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

pub const SECRET_FILE: &str = "server-secret";
pub const MIN_SECRET_LEN: usize = 32;
/// HKDF-Extract salt: fixed, as the secret itself is high-entropy.
const EXTRACT_SALT: &[u8] = b"keyward server secret v1";

/// Never logged: `Debug` is redacted, there is no `Display`, and the value
/// is zeroed on drop.
#[derive(Clone, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct ServerSecret(SecretString);

#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("must be at least {MIN_SECRET_LEN} characters, for example the output of `openssl rand -base64 32`")]
pub struct ServerSecretTooShort;

#[derive(Debug, thiserror::Error)]
pub enum ServerSecretError {
    #[error("server secret file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("server secret file {0}: {ServerSecretTooShort}")]
    TooShort(PathBuf),
}

impl TryFrom<String> for ServerSecret {
    type Error = ServerSecretTooShort;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value.len() < MIN_SECRET_LEN {
            return Err(ServerSecretTooShort);
        }
        Ok(Self(value.into()))
    }
}

impl ServerSecret {
    /// Reads `dir/server-secret`, first writing 32 random bytes (base64url)
    /// there when it does not exist. Of replicas starting together on an
    /// empty directory, the first to link its file wins and all read that.
    pub fn load_or_init(dir: &Path) -> Result<Self, ServerSecretError> {
        let path = dir.join(SECRET_FILE);
        let io = |source| ServerSecretError::Io {
            path: path.clone(),
            source,
        };
        match Self::read(&path) {
            Err(ServerSecretError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            read => return read,
        }
        if !dir.exists() {
            fs::create_dir_all(dir).map_err(io)?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
        }
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let tmp = dir.join(format!("{SECRET_FILE}.{:08x}.tmp", rand::random::<u32>()));
        let written = write_private(&tmp, format!("{}\n", URL_SAFE_NO_PAD.encode(bytes)));
        // A hard link, unlike a rename, never replaces a file another replica wrote.
        let linked = written.and_then(|()| fs::hard_link(&tmp, &path));
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => tracing::info!(path = %path.display(), "generated the server secret"),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(e)),
        }
        Self::read(&path)
    }

    fn read(path: &Path) -> Result<Self, ServerSecretError> {
        let text = fs::read_to_string(path).map_err(|source| ServerSecretError::Io {
            path: path.to_owned(),
            source,
        })?;
        if let Ok(meta) = fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(path = %path.display(), "the server secret file is readable by group or others; expected mode 0600");
            }
        }
        // Trimmed like a `*_FILE` setting, so pointing KEYWARD_SERVER_SECRET_FILE
        // at this file derives the same keys.
        Self::try_from(text.trim_end_matches(['\n', '\r']).to_owned())
            .map_err(|_| ServerSecretError::TooShort(path.to_owned()))
    }

    /// The HKDF-SHA256 pseudorandom key of this secret; each use expands it
    /// under its own `info` label.
    pub fn prk(&self) -> hkdf::Prk {
        hkdf::Salt::new(hkdf::HKDF_SHA256, EXTRACT_SALT).extract(self.0.expose_secret().as_bytes())
    }
}

impl std::fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerSecret([redacted])")
    }
}

fn write_private(path: &Path, contents: String) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exposed(secret: &ServerSecret) -> String {
        secret.0.expose_secret().to_owned()
    }

    #[test]
    fn generated_once_at_mode_0600_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let first = ServerSecret::load_or_init(&keys).unwrap();
        let path = keys.join(SECRET_FILE);
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(exposed(&first).len(), 43);

        let again = ServerSecret::load_or_init(&keys).unwrap();
        assert_eq!(exposed(&first), exposed(&again));
        let other = ServerSecret::load_or_init(tempfile::tempdir().unwrap().path()).unwrap();
        assert_ne!(exposed(&first), exposed(&other));
        assert_eq!(
            fs::read_dir(&keys).unwrap().count(),
            1,
            "no temporary file is left"
        );
    }

    #[test]
    fn a_short_secret_is_refused() {
        assert!(ServerSecret::try_from("too short".to_owned()).is_err());
        assert!(ServerSecret::try_from("x".repeat(MIN_SECRET_LEN)).is_ok());
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(SECRET_FILE), "short\n").unwrap();
        assert!(matches!(
            ServerSecret::load_or_init(dir.path()),
            Err(ServerSecretError::TooShort(_))
        ));
    }

    #[test]
    fn debug_is_redacted() {
        let secret = ServerSecret::try_from("a".repeat(40)).unwrap();
        assert_eq!(format!("{secret:?}"), "ServerSecret([redacted])");
    }
}
