//! The keys/ directory: one PKCS#8 PEM file per key, named `<kid>.pem`.
//! The newest key signs; an older key stays published in the JWKS until
//! every token it may have signed has expired, and is retired after that.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::time::Clock;

use super::signing_key::{generate_pkcs8, KeyMaterialError, SigningAlgorithm, SigningKey};

const PEM_LABEL: &str = "PRIVATE KEY";
const KID_TIME_FORMAT: &str = "%Y%m%dT%H%M%S%.3fZ";

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("keys directory {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("key file {path}: {source}")]
    Material {
        path: PathBuf,
        #[source]
        source: KeyMaterialError,
    },
    #[error("key file {0}: not a PEM \"PRIVATE KEY\" block")]
    NotPem(PathBuf),
    #[error("no signing key in {0}")]
    Empty(PathBuf),
    #[error(transparent)]
    Generation(KeyMaterialError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Signs new tokens.
    Active,
    /// No longer signs, still verifies tokens it signed.
    Retiring,
    /// Every token it signed has expired; no longer published.
    Retired,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: SigningAlgorithm,
    pub state: KeyState,
    pub created_at: DateTime<Utc>,
}

/// The keys in force at one moment: the signing key and every published key.
#[derive(Debug)]
pub struct KeySet {
    signing: Arc<SigningKey>,
    published: Vec<Arc<SigningKey>>,
    jwks: bytes::Bytes,
    infos: Vec<KeyInfo>,
}

impl KeySet {
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    pub fn published(&self) -> &[Arc<SigningKey>] {
        &self.published
    }

    /// The serialised JWKS document of the published keys.
    pub fn jwks_json(&self) -> &bytes::Bytes {
        &self.jwks
    }

    pub fn infos(&self) -> &[KeyInfo] {
        &self.infos
    }
}

pub struct Keyring {
    dir: PathBuf,
    alg: SigningAlgorithm,
    /// How long a key stays published after it stopped signing: the token
    /// lifetime plus the verification leeway.
    retire_after: Duration,
    clock: Arc<dyn Clock>,
}

struct KeyFile {
    created_at: DateTime<Utc>,
    key: SigningKey,
}

impl Keyring {
    pub fn new(
        dir: impl Into<PathBuf>,
        alg: SigningAlgorithm,
        retire_after: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            dir: dir.into(),
            alg,
            retire_after,
            clock,
        }
    }

    /// Loads the keys, first generating a signing key of the configured
    /// algorithm when there is none (an empty directory, or a newest key of
    /// another algorithm).
    pub fn load_or_init(&self) -> Result<KeySet, KeyringError> {
        let files = self.read_files()?;
        if files
            .last()
            .is_none_or(|newest| newest.key.algorithm() != self.alg)
        {
            let info = self.rotate()?;
            tracing::info!(kid = %info.kid, alg = %info.alg, dir = %self.dir.display(),
                "generated a new signing key");
            return self.load();
        }
        self.build(files)
    }

    /// Loads the keys as they are on disk.
    pub fn load(&self) -> Result<KeySet, KeyringError> {
        let files = self.read_files()?;
        self.build(files)
    }

    /// Every key with its state, oldest first.
    pub fn list(&self) -> Result<Vec<KeyInfo>, KeyringError> {
        let files = self.read_files()?;
        Ok(self.states(&files, self.clock.now()))
    }

    /// Writes a new key of the configured algorithm; it becomes the signing key.
    pub fn rotate(&self) -> Result<KeyInfo, KeyringError> {
        let der = generate_pkcs8(self.alg).map_err(KeyringError::Generation)?;
        // Keys order by the time in their kid: a new key must sort after the
        // newest, even when made within the same millisecond.
        // The kid keeps milliseconds, so that is the precision compared.
        let newest = self.read_files()?.last().map(|f| f.created_at);
        let now = self.clock.now();
        let created_at = match newest {
            Some(newest) if newest.timestamp_millis() >= now.timestamp_millis() => {
                newest + chrono::Duration::milliseconds(1)
            }
            _ => now,
        };
        let kid = format!(
            "{}-{:08x}",
            created_at.format(KID_TIME_FORMAT),
            rand::random::<u32>()
        );
        self.ensure_dir()?;
        let path = self.dir.join(format!("{kid}.pem"));
        let pem = pem::encode(&pem::Pem::new(PEM_LABEL, der));
        write_private(&path, pem.as_bytes()).map_err(|source| KeyringError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(KeyInfo {
            kid,
            alg: self.alg,
            state: KeyState::Active,
            created_at,
        })
    }

    fn ensure_dir(&self) -> Result<(), KeyringError> {
        let io = |source| KeyringError::Io {
            path: self.dir.clone(),
            source,
        };
        if !self.dir.exists() {
            fs::create_dir_all(&self.dir).map_err(io)?;
            fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
        }
        Ok(())
    }

    fn build(&self, files: Vec<KeyFile>) -> Result<KeySet, KeyringError> {
        let infos = self.states(&files, self.clock.now());
        let mut published = Vec::new();
        let mut signing = None;
        for (file, info) in files.into_iter().zip(&infos) {
            let key = Arc::new(file.key);
            match info.state {
                KeyState::Active => {
                    signing = Some(key.clone());
                    published.push(key);
                }
                KeyState::Retiring => published.push(key),
                KeyState::Retired => {}
            }
        }
        let signing = signing.ok_or_else(|| KeyringError::Empty(self.dir.clone()))?;
        // Newest first, so a resource server scanning the set meets the signing key first.
        published.reverse();
        let jwks = serde_json::json!({
            "keys": published.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()
        });
        Ok(KeySet {
            signing,
            published,
            jwks: serde_json::to_vec(&jwks)
                .expect("a JSON value serialises")
                .into(),
            infos,
        })
    }

    fn states(&self, files: &[KeyFile], now: DateTime<Utc>) -> Vec<KeyInfo> {
        let retire_after = chrono::Duration::from_std(self.retire_after).unwrap_or_default();
        files
            .iter()
            .enumerate()
            .map(|(i, file)| {
                let state = match files.get(i + 1) {
                    None => KeyState::Active,
                    Some(successor) if successor.created_at + retire_after > now => {
                        KeyState::Retiring
                    }
                    Some(_) => KeyState::Retired,
                };
                KeyInfo {
                    kid: file.key.kid().to_owned(),
                    alg: file.key.algorithm(),
                    state,
                    created_at: file.created_at,
                }
            })
            .collect()
    }

    /// The key files, oldest first. Files not named by our kid format are
    /// skipped with a warning.
    fn read_files(&self) -> Result<Vec<KeyFile>, KeyringError> {
        let io = |source| KeyringError::Io {
            path: self.dir.clone(),
            source,
        };
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(e)),
        };
        let mut files = Vec::new();
        for entry in entries {
            let path = entry.map_err(io)?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("pem") {
                continue;
            }
            let Some(kid) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let Some(created_at) = created_at_of(kid) else {
                tracing::warn!(path = %path.display(), "skipping a key file not named <kid>.pem");
                continue;
            };
            warn_if_readable_by_others(&path);
            let key = read_key(&path, kid)?;
            files.push(KeyFile { created_at, key });
        }
        files.sort_by(|a, b| (a.created_at, a.key.kid()).cmp(&(b.created_at, b.key.kid())));
        Ok(files)
    }
}

fn created_at_of(kid: &str) -> Option<DateTime<Utc>> {
    let (time, suffix) = kid.rsplit_once('-')?;
    if suffix.len() != 8 || !suffix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    NaiveDateTime::parse_from_str(time, KID_TIME_FORMAT)
        .ok()
        .map(|t| t.and_utc())
}

fn read_key(path: &Path, kid: &str) -> Result<SigningKey, KeyringError> {
    let text = fs::read(path).map_err(|source| KeyringError::Io {
        path: path.to_owned(),
        source,
    })?;
    let block = pem::parse(text).map_err(|_| KeyringError::NotPem(path.to_owned()))?;
    if block.tag() != PEM_LABEL {
        return Err(KeyringError::NotPem(path.to_owned()));
    }
    SigningKey::from_pkcs8(kid, block.contents()).map_err(|source| KeyringError::Material {
        path: path.to_owned(),
        source,
    })
}

fn warn_if_readable_by_others(path: &Path) {
    if let Ok(meta) = fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "a private key file is readable by group or others; expected mode 0600");
        }
    }
}

/// Writes to a temporary file at mode 0600 and renames it into place, so a
/// reader never sees half a key.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("pem.tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{ManualClock, SystemClock};

    fn clock() -> Arc<dyn Clock> {
        Arc::new(SystemClock)
    }

    #[test]
    fn kid_carries_its_creation_time() {
        let t = created_at_of("20261122T114518.123Z-0a1b2c3d").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-22T11:45:18.123+00:00");
        assert!(created_at_of("my-key").is_none());
    }

    #[test]
    fn rotation_publishes_both_then_retires_the_old_key() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::starting_now();
        let ring = Keyring::new(
            dir.path(),
            SigningAlgorithm::ES256,
            Duration::from_secs(960),
            clock.clone(),
        );
        let first = ring.load_or_init().unwrap();
        let old_kid = first.signing_key().kid().to_owned();
        let mode = fs::metadata(dir.path().join(format!("{old_kid}.pem")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        let new = ring.rotate().unwrap();
        let set = ring.load().unwrap();
        assert_eq!(set.signing_key().kid(), new.kid);
        assert_eq!(set.published().len(), 2);

        let states = || -> Vec<_> { ring.list().unwrap().into_iter().map(|i| i.state).collect() };
        clock.advance(Duration::from_secs(959));
        assert_eq!(states(), vec![KeyState::Retiring, KeyState::Active]);
        clock.advance(Duration::from_secs(2));
        assert_eq!(states(), vec![KeyState::Retired, KeyState::Active]);
        assert_eq!(ring.load().unwrap().published().len(), 1);
    }

    /// Several rotations within one millisecond: each new key still signs.
    #[test]
    fn the_newest_key_signs_however_fast_keys_are_made() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::new(
            dir.path(),
            SigningAlgorithm::EdDSA,
            Duration::from_secs(960),
            clock(),
        );
        let kids: Vec<String> = (0..50).map(|_| ring.rotate().unwrap().kid).collect();
        for pair in kids.windows(2) {
            assert!(pair[0] < pair[1], "{} sorts after {}", pair[0], pair[1]);
        }
        assert_eq!(ring.load().unwrap().signing_key().kid(), kids[49]);
    }

    #[test]
    fn a_new_algorithm_gets_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let es = Keyring::new(
            dir.path(),
            SigningAlgorithm::ES256,
            Duration::from_secs(1),
            clock(),
        );
        es.load_or_init().unwrap();
        let ed = Keyring::new(
            dir.path(),
            SigningAlgorithm::EdDSA,
            Duration::from_secs(1),
            clock(),
        );
        let set = ed.load_or_init().unwrap();
        assert_eq!(set.signing_key().algorithm(), SigningAlgorithm::EdDSA);
    }
}
