//! `keyward keys …`: the signing keys in the keys directory.

use std::sync::Arc;

use serde_json::json;

use super::Output;
use crate::cli::KeysCommand;
use crate::configuration::Settings;
use crate::parts::keyring;
use crate::time::SystemClock;

pub(super) fn run(command: KeysCommand, settings: &Settings) -> anyhow::Result<Output> {
    let keyring = keyring(settings, Arc::new(SystemClock));
    match command {
        KeysCommand::Rotate => {
            let key = keyring.rotate()?;
            let text = format!(
                "new signing key {} ({}); running servers pick it up within seconds",
                key.kid, key.alg
            );
            Ok(Output::new(serde_json::to_value(&key)?, text))
        }
        KeysCommand::List => {
            let keys = keyring.list()?;
            let text = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}\t{}\t{}\t{}",
                        k.kid,
                        k.alg,
                        serde_json::to_value(k.state)
                            .unwrap_or_default()
                            .as_str()
                            .unwrap_or(""),
                        k.created_at.to_rfc3339()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Ok(Output::new(json!({"keys": keys}), text))
        }
    }
}
