//! A throwaway certificate authority and a certificate it signs for
//! `localhost` and 127.0.0.1, made with the openssl CLI in a temporary
//! directory: the private CA of an operator's internal mail relay.

use std::path::PathBuf;
use std::process::Command;

pub struct TestCa {
    dir: tempfile::TempDir,
}

impl TestCa {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("the openssl CLI runs");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
        openssl(
            &[
                &["req", "-x509", "-nodes", "-days", "2"][..],
                &new_key,
                &[
                    "-subj",
                    "/CN=Keyward test CA",
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                ],
            ]
            .concat(),
        );
        openssl(
            &[
                &[
                    "req", "-x509", "-nodes", "-days", "2", "-CA", "ca.pem", "-CAkey", "ca.key",
                ][..],
                &new_key,
                &[
                    "-subj",
                    "/CN=localhost",
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.pem",
                ],
                &["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                &["-addext", "basicConstraints=critical,CA:FALSE"],
                &["-addext", "extendedKeyUsage=serverAuth"],
            ]
            .concat(),
        );
        Self { dir }
    }

    /// The CA's certificate, what a client is told to trust.
    pub fn ca_pem(&self) -> PathBuf {
        self.path("ca.pem")
    }

    /// The server's certificate and key.
    pub fn server_files(&self) -> (PathBuf, PathBuf) {
        (self.path("server.pem"), self.path("server.key"))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}
