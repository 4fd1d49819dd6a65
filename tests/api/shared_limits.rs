//! Rate budgets shared through Redis (the local server, as CI has it): one
//! budget across replicas, and local budgets while Redis is down.

use std::process::Command;
use std::time::{Duration, Instant};

use keyward::domain::Plan;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::helpers::{spawn_app_with, Backend, TestApiKey, TestApp, TestClient, API};

/// Tests that stop Redis must not overlap those that need it (metrics.rs too).
static REDIS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Holds Redis for one test: against the other tests of this run, and
/// against other test runs on the machine (another checkout's suite), by an
/// exclusive lock on a file that the OS releases when the process ends.
pub struct RedisTurn {
    _in_process: tokio::sync::MutexGuard<'static, ()>,
    _file: std::fs::File,
}

pub async fn redis_turn() -> RedisTurn {
    let in_process = REDIS.lock().await;
    let file = tokio::task::spawn_blocking(|| {
        let path = std::env::temp_dir().join("keyward-tests-redis.lock");
        let file = std::fs::File::create(path).unwrap();
        file.lock().unwrap();
        file
    })
    .await
    .unwrap();
    RedisTurn {
        _in_process: in_process,
        _file: file,
    }
}

fn redis_url() -> String {
    std::env::var("KEYWARD_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn redis() -> redis::Connection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_connection()
        .expect("Redis must be reachable for the shared rate-limit tests")
}

fn budget_exists(key_id: &str) -> bool {
    redis::cmd("EXISTS")
        .arg(format!(
            "{}{key_id}",
            keyward::services::rate_limit::shared::KEY_PREFIX
        ))
        .query::<bool>(&mut redis())
        .unwrap()
}

async fn code(app: &TestApp, rs: &TestClient, key: &TestApiKey) -> String {
    let (status, body) = app.verify_key(rs, json!({ "key": key.key })).await;
    assert_eq!(status, 200, "{body}");
    body["code"].as_str().unwrap().to_owned()
}

async fn limiter_mode(app: &TestApp) -> Value {
    app.get_json("/readyz").await["rate_limiter"].clone()
}

async fn two_replicas_share_one_budget(backend: Backend) {
    let _redis = redis_turn().await;
    let a = spawn_app_with(backend, |s| s.redis_url = Some(redis_url())).await;
    let b = a.replica().await;
    let (rs, _, key) = a
        .key_to_check(|k| k.rate_limit_per_minute = Some(100))
        .await;

    // One check on each node first, so the burst finds both warm.
    let started = Instant::now();
    let mut codes = vec![code(&a, &rs, &key).await, code(&b, &rs, &key).await];
    let checks = (0..200).map(|i| {
        let node = if i % 2 == 0 { &a } else { &b };
        code(node, &rs, &key)
    });
    codes.extend(futures_util::future::join_all(checks).await);
    let elapsed = started.elapsed().as_secs_f64();
    let accepted = codes.iter().filter(|c| *c == "VALID").count();
    // 100 a minute refills one every 0.6 s while the burst runs.
    let refilled = (elapsed / 0.6).floor() as usize;
    assert!(
        (100..=100 + refilled).contains(&accepted),
        "{accepted} accepted in {elapsed:.2} s; two separate budgets would give 200"
    );
    assert!(codes.iter().all(|c| c == "VALID" || c == "RATE_LIMITED"));
    assert_eq!(limiter_mode(&a).await, "redis");
    assert!(budget_exists(&key.id));
}

/// How many times Redis ran a Lua script by its digest since it started.
fn scripts_run() -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut redis())
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_evalsha:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().unwrap())
}

/// Uses a resource server reports (`POST /v1/keys/usage`) spend the shared
/// budget in one script call, whatever their number, and never past it.
async fn reported_uses_spend_the_shared_budget_at_once(backend: Backend) {
    let _redis = redis_turn().await;
    let a = spawn_app_with(backend, |s| s.redis_url = Some(redis_url())).await;
    let b = a.replica().await;
    let (rs, _, key) = a.key_to_check(|k| k.rate_limit_per_minute = Some(50)).await;
    let report = |app: &TestApp, uses: u32| {
        app.http
            .post(app.url("/v1/keys/usage"))
            .basic_auth(&rs.id, Some(&rs.secret))
            .json(&json!({"key": key.key, "uses": uses}))
            .send()
    };

    let before = scripts_run();
    assert_eq!(report(&a, 40).await.unwrap().status(), 204);
    let calls = scripts_run() - before;
    assert!((1..=2).contains(&calls), "{calls} script calls for 40 uses");
    let (_, verdict) = b.verify_key(&rs, json!({ "key": key.key })).await;
    assert_eq!(verdict["code"], "VALID", "{verdict}");
    assert!(
        (9..=10).contains(&verdict["ratelimit"]["remaining"].as_i64().unwrap()),
        "the other replica sees 40 + 1 of 50 spent: {verdict}"
    );

    // More than is left empties the budget and leaves no debt behind it.
    assert_eq!(report(&b, 100).await.unwrap().status(), 204);
    assert_eq!(code(&a, &rs, &key).await, "RATE_LIMITED");
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    assert_eq!(
        code(&a, &rs, &key).await,
        "VALID",
        "50 a minute refill one in 1.2 s"
    );
}

on_both_backends!(
    two_replicas_share_one_budget,
    reported_uses_spend_the_shared_budget_at_once,
);

/// Above 60,000 a minute a request is due more often than once a
/// millisecond; the budget is still kept in Redis (it once fell back to local).
#[tokio::test]
async fn rates_beyond_one_a_millisecond_are_shared_too() {
    let _redis = redis_turn().await;
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.redis_url = Some(redis_url());
        s.max_rate_limit_per_minute = 100_000_000;
    })
    .await;
    let rs = app.create_resource_server(&[API]).await;
    let org = app.create_org(Plan::Enterprise).await;
    let key = app
        .create_api_key(&org, &["payouts:read"], |k| {
            k.rate_limit_per_minute = Some(100_000_000)
        })
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(code(&app, &rs, &key).await, "VALID");
    }
    // A failed script call would have marked Redis unreachable. (The budget's
    // key itself lives only microseconds at this rate: a full bucket is no key.)
    assert_eq!(limiter_mode(&app).await, "redis");
}

/// Starts Redis again however the test ends.
struct RestartRedis;

impl RestartRedis {
    fn start() {
        let started = Command::new("redis-server")
            .args([
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "-::1",
                "--port",
                "6379",
            ])
            .args(["--save", "", "--appendonly", "no"])
            .status()
            .expect("redis-server runs");
        assert!(started.success());
        for _ in 0..100 {
            if redis::Client::open(redis_url())
                .and_then(|c| c.get_connection())
                .is_ok()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("Redis did not come back");
    }
}

impl Drop for RestartRedis {
    fn drop(&mut self) {
        if redis::Client::open(redis_url())
            .and_then(|c| c.get_connection())
            .is_err()
        {
            Self::start();
        }
    }
}

#[tokio::test]
async fn checks_ride_out_a_redis_outage_on_local_budgets() {
    let _redis = redis_turn().await;
    let app = spawn_app_with(Backend::Sqlite, |s| s.redis_url = Some(redis_url())).await;
    let (rs, _, key) = app
        .key_to_check(|k| k.rate_limit_per_minute = Some(5))
        .await;
    assert_eq!(code(&app, &rs, &key).await, "VALID");
    assert!(budget_exists(&key.id), "the budget lives in Redis");

    let restart = RestartRedis;
    let _ = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"])
        .output();
    for _ in 0..3 {
        assert_eq!(code(&app, &rs, &key).await, "VALID", "requests never fail");
    }
    assert_eq!(limiter_mode(&app).await, "local (redis unreachable)");

    RestartRedis::start();
    drop(restart);
    let start = Instant::now();
    loop {
        code(&app, &rs, &key).await;
        if limiter_mode(&app).await == "redis" && budget_exists(&key.id) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "still not back on Redis"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
