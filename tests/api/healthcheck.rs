//! `keyward healthcheck`, the container's HEALTHCHECK: exit 0 when the
//! configured server answers `/healthz`, 1 otherwise.

use crate::support::cli_process::run;
use crate::support::helpers::{spawn_app, Backend};
use crate::support::server_process::free_port;

fn healthcheck(listen: String) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), &[("KEYWARD_LISTEN", listen)], &["healthcheck"])
}

#[tokio::test]
async fn healthcheck_exits_0_when_the_server_answers() {
    // The probe needs no database: the server's storage does not matter.
    let app = spawn_app(Backend::Sqlite).await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    // A wildcard bind, as in the image, is probed on loopback.
    let output = tokio::task::spawn_blocking(move || healthcheck(format!("0.0.0.0:{port}")))
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
}

#[test]
fn healthcheck_exits_1_when_nothing_answers() {
    let output = healthcheck(format!("127.0.0.1:{}", free_port()));
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("/healthz"));
}

#[test]
fn healthcheck_exits_1_on_a_bad_setting() {
    // Docker reserves exit code 2 of a health check.
    let output = healthcheck("nowhere".into());
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("listen"));
}
