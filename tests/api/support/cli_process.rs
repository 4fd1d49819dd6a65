//! The `keyward` binary run as a command, with only the environment given.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use super::helpers::TestApp;

/// Runs the binary in `cwd` with only the given `KEYWARD_*` variables.
pub fn run(cwd: &Path, env: &[(&str, String)], args: &[&str]) -> Output {
    run_with_stdin(cwd, env, args, None)
}

/// `run`, with `stdin` written to the binary's standard input.
fn run_with_stdin(
    cwd: &Path,
    env: &[(&str, String)],
    args: &[&str],
    stdin: Option<&str>,
) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("KEYWARD_")) {
        command.env_remove(key);
    }
    command
        .current_dir(cwd)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("KEYWARD_LOG", "warn")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

/// Runs the binary against a test app's database and keys.
pub fn keyward(app: &TestApp, args: &[&str]) -> Output {
    run(app.dir.path(), &app_env(app), args)
}

/// `keyward`, with further `KEYWARD_*` settings in its environment.
pub fn keyward_with_env(app: &TestApp, settings: &[(&str, &str)], args: &[&str]) -> Output {
    let mut env: Vec<(&str, String)> = app_env(app);
    env.extend(settings.iter().map(|(k, v)| (*k, (*v).to_owned())));
    run(app.dir.path(), &env, args)
}

/// `keyward`, with `stdin` on its standard input.
pub fn keyward_with_stdin(app: &TestApp, args: &[&str], stdin: &str) -> Output {
    run_with_stdin(app.dir.path(), &app_env(app), args, Some(stdin))
}

fn app_env(app: &TestApp) -> Vec<(&'static str, String)> {
    vec![
        ("KEYWARD_DATABASE_URL", app.db.url.clone()),
        ("KEYWARD_KEYS_DIR", app.keys_dir().display().to_string()),
    ]
}

pub fn one_json_object(output: &Output) -> Value {
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(
        stdout.trim().lines().count(),
        1,
        "exactly one line: {stdout}"
    );
    let value: Value = serde_json::from_str(&stdout).unwrap();
    assert!(value.is_object(), "{stdout}");
    value
}

/// Stops the child process even when an assertion fails.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
