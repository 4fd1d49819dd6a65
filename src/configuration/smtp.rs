//! The `smtp_*` settings: the mail server that expiry warnings and
//! invitations go through. Email is off while `smtp_host` is unset.

use secrecy::ExposeSecret;

use super::{invalid, ConfigError, Settings};
use crate::domain::{SmtpServer, SmtpTls};

impl Settings {
    /// The mail server when email is on, `None` when `smtp_host` is unset;
    /// an error names the setting at fault.
    pub fn smtp(&self) -> Result<Option<SmtpServer>, ConfigError> {
        if !(1..=1_000_000).contains(&self.email_max_per_org_per_hour) {
            return Err(invalid(
                "email_max_per_org_per_hour",
                "must be between 1 and 1000000",
            ));
        }
        let Some(host) = &self.smtp_host else {
            let stray = [
                ("smtp_port", self.smtp_port.is_some()),
                ("smtp_username", self.smtp_username.is_some()),
                ("smtp_password", self.smtp_password.is_some()),
                ("smtp_from", self.smtp_from.is_some()),
                ("smtp_ca_file", self.smtp_ca_file.is_some()),
            ];
            return match stray.into_iter().find(|(_, set)| *set) {
                Some((setting, _)) => Err(invalid(
                    setting,
                    "is set but smtp_host is not, so email is off; set smtp_host or unset it",
                )),
                None => Ok(None),
            };
        };
        let host = host.trim();
        if host.is_empty() || url::Host::parse(host).is_err() || host.contains(['/', ':', '@']) {
            return Err(invalid(
                "smtp_host",
                "must be a host name or IPv4 address, without port or scheme",
            ));
        }
        let port = self.smtp_port.unwrap_or(self.smtp_tls.default_port());
        if port == 0 {
            return Err(invalid("smtp_port", "must be between 1 and 65535"));
        }
        let credentials = match (&self.smtp_username, &self.smtp_password) {
            (None, None) => None,
            (Some(user), Some(password))
                if !user.is_empty() && !password.expose_secret().is_empty() =>
            {
                Some((user.clone(), password.clone()))
            }
            (_, None) | (Some(_), Some(_)) => {
                return Err(invalid(
                    "smtp_password",
                    "smtp_username and smtp_password are set together, neither empty",
                ))
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "smtp_username",
                    "smtp_username and smtp_password are set together, neither empty",
                ))
            }
        };
        if credentials.is_some() && self.smtp_tls == SmtpTls::None {
            return Err(invalid(
                "smtp_tls",
                "must be starttls or tls when a password is set: it would cross the network in clear",
            ));
        }
        let from = self
            .smtp_from
            .as_deref()
            .ok_or_else(|| invalid("smtp_from", "must be set when smtp_host is"))?;
        // lettre reads it again to send: parsed here, it cannot fail there.
        from.parse::<lettre::message::Mailbox>().map_err(|_| {
                invalid(
                    "smtp_from",
                    "must be an address such as keyward@example.com or \"Keyward <keyward@example.com>\"",
                )
            })?;
        Ok(Some(SmtpServer {
            host: host.to_owned(),
            port,
            tls: self.smtp_tls,
            credentials,
            from: from.trim().to_owned(),
            extra_roots_pem: self.smtp_extra_roots()?,
        }))
    }

    /// The certificates of `smtp_ca_file`, read once at start so a missing
    /// or unreadable file stops the server rather than every delivery.
    fn smtp_extra_roots(&self) -> Result<Option<Vec<u8>>, ConfigError> {
        let Some(path) = &self.smtp_ca_file else {
            return Ok(None);
        };
        if self.smtp_tls == SmtpTls::None {
            return Err(invalid(
                "smtp_ca_file",
                "is set but smtp_tls is none, so no certificate is checked",
            ));
        }
        let pem = std::fs::read(path).map_err(|e| {
            invalid(
                "smtp_ca_file",
                format!("cannot be read ({}): {e}", path.display()),
            )
        })?;
        let certificates = lettre::transport::smtp::client::Certificate::from_pem(&pem);
        let has_one = pem
            .windows(b"-----BEGIN CERTIFICATE-----".len())
            .any(|w| w == b"-----BEGIN CERTIFICATE-----");
        if certificates.is_err() || !has_one {
            return Err(invalid(
                "smtp_ca_file",
                "must hold one or more PEM certificates (-----BEGIN CERTIFICATE-----)",
            ));
        }
        Ok(Some(pem))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(configure: impl FnOnce(&mut Settings)) -> Result<Option<SmtpServer>, String> {
        let mut settings = Settings::default();
        configure(&mut settings);
        settings.smtp().map_err(|e| e.to_string())
    }

    fn relay(settings: &mut Settings) {
        settings.smtp_host = Some("smtp.example.com".into());
        settings.smtp_from = Some("Keyward <keyward@example.com>".into());
    }

    #[test]
    fn email_is_off_without_a_host_and_stray_settings_are_refused() {
        assert!(with(|_| {}).unwrap().is_none());
        let err = with(|s| s.smtp_from = Some("k@example.com".into())).unwrap_err();
        assert!(
            err.contains("smtp_from") && err.contains("smtp_host"),
            "{err}"
        );
    }

    #[test]
    fn ports_follow_the_tls_mode_unless_set() {
        let on = |tls, port| {
            with(|s| {
                relay(s);
                s.smtp_tls = tls;
                s.smtp_port = port;
            })
            .unwrap()
            .unwrap()
            .port
        };
        assert_eq!(on(SmtpTls::Starttls, None), 587);
        assert_eq!(on(SmtpTls::Tls, None), 465);
        assert_eq!(on(SmtpTls::None, None), 25);
        assert_eq!(on(SmtpTls::None, Some(2525)), 2525);
    }

    #[test]
    fn bad_settings_name_themselves() {
        type Change = Box<dyn Fn(&mut Settings)>;
        let cases: [(&str, Change); 10] = [
            (
                "email_max_per_org_per_hour",
                Box::new(|s| s.email_max_per_org_per_hour = 0),
            ),
            (
                "smtp_host",
                Box::new(|s| s.smtp_host = Some("smtp://x:25".into())),
            ),
            ("smtp_from", Box::new(|s| s.smtp_from = None)),
            (
                "smtp_from",
                Box::new(|s| s.smtp_from = Some("a\r\nBcc: x@y.example".into())),
            ),
            (
                "smtp_password",
                Box::new(|s| s.smtp_username = Some("u".into())),
            ),
            (
                "smtp_username",
                Box::new(|s| s.smtp_password = Some("p".into())),
            ),
            (
                "smtp_ca_file",
                Box::new(|s| s.smtp_ca_file = Some("/nonexistent/ca.pem".into())),
            ),
            (
                "smtp_ca_file",
                Box::new(|s| s.smtp_ca_file = Some("Cargo.toml".into())),
            ),
            (
                "smtp_ca_file",
                Box::new(|s| {
                    s.smtp_tls = SmtpTls::None;
                    s.smtp_ca_file = Some("Cargo.toml".into());
                }),
            ),
            (
                "smtp_tls",
                Box::new(|s| {
                    s.smtp_username = Some("u".into());
                    s.smtp_password = Some("p".into());
                    s.smtp_tls = SmtpTls::None;
                }),
            ),
        ];
        for (setting, configure) in cases {
            let err = with(|s| {
                relay(s);
                configure(s)
            })
            .unwrap_err();
            assert!(err.contains(setting), "{setting}: {err}");
        }
    }

    #[test]
    fn the_password_never_shows_in_debug() {
        let smtp = with(|s| {
            relay(s);
            s.smtp_username = Some("mailer".into());
            s.smtp_password = Some("smtp-pa55word-value".into());
        })
        .unwrap()
        .unwrap();
        let mut settings = Settings::default();
        relay(&mut settings);
        settings.smtp_password = Some("smtp-pa55word-value".into());
        for shown in [format!("{smtp:?}"), format!("{settings:?}")] {
            assert!(!shown.contains("pa55word"), "{shown}");
        }
        assert!(format!("{smtp:?}").contains("mailer"));
    }
}
