//! The programs of `tests/clients/`, at their pinned versions: the tests
//! run `tests/clients/install.sh` when they do not find them, and fail if
//! it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const INSTALL: &str = "tests/clients/install.sh";

pub fn repository_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn clients_dir() -> PathBuf {
    repository_root().join("tests/clients")
}

/// The virtualenv's Python, with `python/requirements.txt` installed.
pub fn venv_python() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| repository_root().join("target"), PathBuf::from);
    let venv = target.join("clients-venv");
    ensure_installed(
        &clients_dir().join("python/requirements.txt"),
        &venv.join(".requirements"),
    );
    venv.join("bin/python")
}

/// Installs unless `installed` (the copy of the pins that install.sh leaves
/// beside an installation) matches `pins`; panics if it still does not.
pub fn ensure_installed(pins: &Path, installed: &Path) {
    let pinned = std::fs::read(pins).unwrap();
    let current = || std::fs::read(installed).is_ok_and(|stamp| stamp == pinned);
    if !current() {
        install();
    }
    assert!(
        current(),
        "the clients are not installed at the versions of {}: run {INSTALL}",
        pins.display()
    );
}

fn install() {
    static INSTALLED: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut done = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if !*done {
        let status = Command::new(repository_root().join(INSTALL)).status();
        assert!(
            status.as_ref().is_ok_and(|s| s.success()),
            "{INSTALL} failed ({status:?}): it needs python3 with venv, Node and npm, and PyPI and the npm registry"
        );
        *done = true;
    }
}
