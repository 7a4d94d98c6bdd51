//! End to end on real PostgreSQL and Redis (`AUTH_TEST_DATABASE_URL`, `AUTH_TEST_REDIS_URL`):
//! state survives a restart, and two instances share it.
#![allow(clippy::unwrap_used)]

mod common;

use auth_core::secrecy::ExposeSecret;
use auth_core::store::redis::{RedisConfig, RedisStore};
use auth_core::token::{Algorithm, Key};
use common::*;
use serde_json::json;

fn redis_url() -> Option<String> {
    auth_core::testing::needs::redis_url()
}

/// One signing key for every instance of a test, as a deployment shares AUTH_SIGNING_KEYS.
fn signing_keys() -> String {
    let key = Key::generate(Algorithm::EdDsa).unwrap();
    json!([{ "alg": "EdDSA", "key": key.export_private().unwrap().expose_secret() }]).to_string()
}

const CREDENTIALS: &str =
    r#"{"email":"ops@example.com","password":"correct horse battery staple"}"#;

/// SIGTERM, a clean exit, and the pools closed after the drain.
async fn stop(mut server: Server) {
    let joined = terminate_and_collect_logs(&mut server).await;
    let drained = joined.find("drained").expect("no drain line");
    let closed = joined
        .find("connections closed")
        .expect("no pool close line");
    assert!(drained < closed, "pools close after the drain: {joined}");
}

#[tokio::test]
async fn state_survives_a_restart_on_postgres() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let keys = signing_keys();
    let env = [
        ("DATABASE_URL", schema.url.as_str()),
        ("AUTH_SIGNING_KEYS", keys.as_str()),
    ];
    let credentials: serde_json::Value = serde_json::from_str(CREDENTIALS).unwrap();

    let first = start_with(&env).await;
    assert_eq!(
        post_json(first.port, "/v1/auth/register", &credentials, None)
            .await
            .status,
        201
    );
    let login = post_json(first.port, "/v1/auth/login", &credentials, None).await;
    let refresh = login.body["refresh_token"].clone();
    let (status, body) = request(first.port, "GET", "/health/readiness").await;
    assert_eq!(
        (status, body["info"]["postgres"]["status"].as_str()),
        (200, Some("up"))
    );
    stop(first).await;

    let second = start_with(&env).await;
    let again = post_json(second.port, "/v1/auth/login", &credentials, None).await;
    assert_eq!(
        again.status, 200,
        "the account outlived the process: {:?}",
        again.body
    );
    let rotated = post_json(
        second.port,
        "/v1/auth/refresh",
        &json!({ "refresh_token": refresh }),
        None,
    )
    .await;
    assert_eq!(
        rotated.status, 200,
        "a refresh token from before the restart: {:?}",
        rotated.body
    );
    stop(second).await;
    schema.drop_schema().await;
}

#[tokio::test]
async fn two_instances_on_postgres_and_redis_share_sessions() {
    let Some(deployment) = Deployment::create().await else {
        return;
    };
    let credentials: serde_json::Value = serde_json::from_str(CREDENTIALS).unwrap();
    let a = deployment.start(&[]).await;
    let b = deployment.start(&[]).await;
    let (status, body) = request(b.port, "GET", "/health/readiness").await;
    assert_eq!(
        (status, body["info"]["redis"]["status"].as_str()),
        (200, Some("up"))
    );

    assert_eq!(
        post_json(a.port, "/v1/auth/register", &credentials, None)
            .await
            .status,
        201
    );
    let login = post_json(a.port, "/v1/auth/login", &credentials, None).await;
    let access = login.body["access_token"].as_str().unwrap().to_owned();
    let rotated = post_json(
        b.port,
        "/v1/auth/refresh",
        &json!({ "refresh_token": login.body["refresh_token"] }),
        None,
    )
    .await;
    assert_eq!(
        rotated.status, 200,
        "login on A, refresh on B: {:?}",
        rotated.body
    );
    let b_access = rotated.body["access_token"].as_str().unwrap().to_owned();

    let logout = post_json(a.port, "/v1/auth/logout", &json!({}), Some(&access)).await;
    assert_eq!(logout.status, 204);
    let refused = get_json(b.port, "/v1/auth/me", Some(&b_access)).await;
    assert_eq!(
        refused.status, 401,
        "logout on A, B refuses: {:?}",
        refused.body
    );
    let dead = post_json(
        b.port,
        "/v1/auth/refresh",
        &json!({ "refresh_token": rotated.body["refresh_token"] }),
        None,
    )
    .await;
    assert_eq!(dead.status, 401);

    stop(a).await;
    stop(b).await;
    deployment.remove().await;
}

#[tokio::test]
async fn the_full_mfa_life_of_an_account_on_postgres_and_redis() {
    let Some(backends) = Backends::start().await else {
        return;
    };
    mfa_happy_path(
        backends.server.port,
        &format!("mfa-{}@example.com", uuid_hex()),
    )
    .await;
    backends.stop().await;
}

/// Starts the stores of a test's own: they are about to be broken.
async fn private_stores() -> Option<(PrivatePostgres, PrivateRedis)> {
    if !require_all(&[Need::PostgresServer, Need::RedisServer]) {
        return None;
    }
    let postgres = tokio::task::spawn_blocking(PrivatePostgres::start)
        .await
        .unwrap();
    let redis = tokio::task::spawn_blocking(PrivateRedis::start)
        .await
        .unwrap();
    Some((postgres, redis))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependency_lost_after_start_answers_503_never_500() {
    let Some((postgres, mut redis)) = private_stores().await else {
        return;
    };
    let keys = signing_keys();
    let server = start_with(&[
        ("DATABASE_URL", postgres.url().as_str()),
        ("REDIS_URL", redis.url().as_str()),
        ("AUTH_SIGNING_KEYS", keys.as_str()),
    ])
    .await;
    let port = server.port;
    let (credentials, login) = signed_in(port, "down").await;
    let access = login.body["access_token"].as_str().unwrap().to_owned();

    // Redis goes away: readiness says so, and what counts attempts answers 503.
    redis.kill();
    let (status, body) = request(port, "GET", "/health/readiness").await;
    assert_eq!(
        (status, body["details"]["redis"]["status"].as_str()),
        (503, Some("down")),
        "{body:?}"
    );
    assert_eq!(body["details"]["postgres"]["status"], "up", "{body:?}");
    let refused = post_json(port, "/v1/auth/login", &credentials, None).await;
    assert_eq!(
        (refused.status, refused.body["error"].as_str()),
        (503, Some("unavailable")),
        "login without Redis: {:?}",
        refused.body
    );
    assert!(refused.head.contains("retry-after:"), "{}", refused.head);
    // Sessions and revocations live in PostgreSQL: a signed-in user goes on.
    let me = get_json(port, "/v1/auth/me", Some(&access)).await;
    assert_eq!(
        me.status, 200,
        "the session check reads PostgreSQL: {:?}",
        me.body
    );

    // PostgreSQL goes too: accounts are out of reach, and liveness still answers.
    tokio::task::block_in_place(|| postgres.stop());
    let (status, body) = request(port, "GET", "/health/readiness").await;
    assert_eq!(
        (status, body["details"]["postgres"]["status"].as_str()),
        (503, Some("down")),
        "{body:?}"
    );
    let other = json!({"email": format!("late-{}@example.com", uuid_hex()), "password": "correct horse battery staple"});
    let register = post_json(port, "/v1/auth/register", &other, None).await;
    assert_eq!(
        (register.status, register.body["error"].as_str()),
        (503, Some("unavailable")),
        "register without PostgreSQL: {:?}",
        register.body
    );
    assert_eq!(request(port, "GET", "/health/liveness").await.0, 200);

    // Both back: the server turns ready by itself and serves what it refused.
    tokio::task::block_in_place(|| {
        redis.run();
        postgres.run();
    });
    ready(port).await;
    let register = post_json(port, "/v1/auth/register", &other, None).await;
    assert_eq!(register.status, 201, "{:?}", register.body);
    let login = post_json(port, "/v1/auth/login", &credentials, None).await;
    assert_eq!(login.status, 200, "{:?}", login.body);

    stop(server).await;
}

/// Redis holds counters only: while it is paused, once it is killed, and after it comes back
/// empty, a signed-in user refreshes and is known, and a session ended before is still refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_or_emptying_redis_signs_no_one_out_and_revives_no_session() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    if !require(Need::RedisServer) {
        return;
    }
    let mut redis = tokio::task::spawn_blocking(PrivateRedis::start)
        .await
        .unwrap();
    let keys = signing_keys();
    let server = start_with(&[
        ("DATABASE_URL", schema.url.as_str()),
        ("REDIS_URL", redis.url().as_str()),
        ("AUTH_SIGNING_KEYS", keys.as_str()),
    ])
    .await;
    let port = server.port;
    let (_, stays) = signed_in(port, "stays").await;
    let (_, leaves) = signed_in(port, "leaves").await;
    let ended = leaves.body["access_token"].as_str().unwrap().to_owned();
    let logout = post_json(port, "/v1/auth/logout", &json!({}), Some(&ended)).await;
    assert_eq!(logout.status, 204, "{:?}", logout.body);

    // Refreshes the user who stays, checks the new access token, and that the ended session's
    // token is refused; the refresh token for next time.
    let still_signed_in = |refresh: serde_json::Value, phase: &'static str| {
        let ended = ended.clone();
        async move {
            let answer = post_json(
                port,
                "/v1/auth/refresh",
                &json!({"refresh_token": refresh}),
                None,
            )
            .await;
            assert_eq!(answer.status, 200, "{phase}: refresh {:?}", answer.body);
            let access = answer.body["access_token"].as_str().unwrap();
            let me = get_json(port, "/v1/auth/me", Some(access)).await;
            assert_eq!(me.status, 200, "{phase}: me {:?}", me.body);
            let refused = get_json(port, "/v1/auth/me", Some(&ended)).await;
            assert_eq!(
                refused.status, 401,
                "{phase}: the ended session {:?}",
                refused.body
            );
            answer.body["refresh_token"].clone()
        }
    };
    let refresh = still_signed_in(stays.body["refresh_token"].clone(), "before").await;

    redis.pause();
    let refresh = still_signed_in(refresh, "Redis paused").await;
    redis.resume();
    redis.kill();
    let refresh = still_signed_in(refresh, "Redis killed").await;
    // Back, and empty: a new process without persistence.
    tokio::task::block_in_place(|| redis.run());
    ready(port).await;
    still_signed_in(refresh, "Redis back empty").await;

    stop(server).await;
    schema.drop_schema().await;
}

/// A session ended through one server is refused by it at once, and by another server that had
/// just seen it live within `REVOCATION_CACHE_TTL`; a server with 0 asks PostgreSQL every time.
#[tokio::test]
async fn a_session_ended_on_one_server_is_refused_by_the_others_within_the_cache_lifetime() {
    let Some(deployment) = Deployment::create().await else {
        return;
    };
    let bound = std::time::Duration::from_secs(2);
    let a = deployment.start(&[("REVOCATION_CACHE_TTL", "2")]).await;
    let b = deployment.start(&[("REVOCATION_CACHE_TTL", "2")]).await;
    let uncached = deployment.start(&[("REVOCATION_CACHE_TTL", "0")]).await;

    let (_, login) = signed_in(a.port, "ended").await;
    let access = login.body["access_token"].as_str().unwrap().to_owned();
    let me = |port: u16| {
        let access = access.clone();
        async move { get_json(port, "/v1/auth/me", Some(&access)).await.status }
    };
    for server in [&a, &b, &uncached] {
        assert_eq!(me(server.port).await, 200, "seen live by {}", server.port);
    }
    // B's answer was cached before this instant: from `bound` after it, B must ask again.
    let cached_by = std::time::Instant::now();
    let logout = post_json(a.port, "/v1/auth/logout", &json!({}), Some(&access)).await;
    assert_eq!(logout.status, 204);
    assert_eq!(me(a.port).await, 401, "at once on the server that ended it");
    assert_eq!(me(uncached.port).await, 401, "at once without a cache");
    let mut first_refused = None;
    while cached_by.elapsed() < bound + std::time::Duration::from_millis(100) {
        let sent = cached_by.elapsed();
        match me(b.port).await {
            200 => assert!(sent < bound, "accepted {sent:?} after it was cached"),
            401 => {
                first_refused.get_or_insert(sent);
            }
            other => panic!("a {other}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    eprintln!("the other server refused the ended session from {first_refused:?} on");
    assert_eq!(me(b.port).await, 401, "past the bound");

    for server in [a, b, uncached] {
        stop(server).await;
    }
    deployment.remove().await;
}

#[tokio::test]
async fn user_create_bootstraps_an_account_the_server_logs_in() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let create = |password: &str| {
        std::process::Command::new(BIN)
            .args(["user", "create", "--email", "Admin@Example.com"])
            .env_clear()
            .env("DATABASE_URL", &schema.url)
            .env("AUTH_BOOTSTRAP_PASSWORD", password)
            .output()
            .unwrap()
    };
    let weak = create("short");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("weak_password"));
    let created = create("correct horse battery staple");
    assert!(created.status.success(), "{created:?}");
    let printed: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(printed["email"], "admin@example.com");
    let duplicate = create("correct horse battery staple");
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("conflict"));

    let keys = signing_keys();
    let server = start_with(&[
        ("DATABASE_URL", schema.url.as_str()),
        ("AUTH_SIGNING_KEYS", keys.as_str()),
    ])
    .await;
    let login = post_json(
        server.port,
        "/v1/auth/login",
        &json!({"email": "admin@example.com", "password": "correct horse battery staple"}),
        None,
    )
    .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    stop(server).await;
    schema.drop_schema().await;
}

/// A sample of the server's `/metrics`: the value of the series named exactly `series`.
async fn metric(port: u16, series: &str) -> f64 {
    let scraped = send(port, "GET", "/metrics", &[], b"").await;
    let text = scraped.body.as_str().unwrap().to_owned();
    text.lines()
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("{series} missing from /metrics"))
}

/// One JSON POST on a connection of its own: the status, or 0 with the error printed.
async fn exchange(port: u16, path: &str, body: &serde_json::Value) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    match attempt.await {
        Ok(raw) => String::from_utf8_lossy(&raw)
            .split(' ')
            .nth(1)
            .and_then(|status| status.parse().ok())
            .unwrap_or(0),
        Err(error) => {
            eprintln!("exchange failed: {error}");
            0
        }
    }
}

/// Sends `n` copies of a JSON POST at once, each on a connection of its own; the statuses.
async fn burst(port: u16, n: usize, path: &'static str, body: serde_json::Value) -> Vec<u16> {
    let body = std::sync::Arc::new(body);
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let body = body.clone();
            tokio::spawn(async move { exchange(port, path, &body).await })
        })
        .collect();
    let mut statuses = Vec::with_capacity(n);
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

/// The statuses that are neither 401 nor 429.
fn unexpected(statuses: &[u16]) -> Vec<u16> {
    statuses
        .iter()
        .copied()
        .filter(|status| ![401, 429].contains(status))
        .collect()
}

/// What every server of one deployment shares, of a test's own: a PostgreSQL schema, a Redis
/// key prefix and the signing keys.
struct Deployment {
    schema: Schema,
    redis: String,
    prefix: RedisPrefix,
    keys: String,
}

impl Deployment {
    async fn create() -> Option<Self> {
        Some(Self {
            schema: Schema::create().await?,
            redis: redis_url()?,
            prefix: RedisPrefix::new(),
            keys: signing_keys(),
        })
    }

    /// A server of the deployment, with `extra` variables besides the shared ones.
    async fn start(&self, extra: &[(&str, &str)]) -> Server {
        let mut env = vec![
            ("DATABASE_URL", self.schema.url.as_str()),
            ("REDIS_URL", self.redis.as_str()),
            ("REDIS_KEY_PREFIX", self.prefix.0.as_str()),
            ("AUTH_SIGNING_KEYS", self.keys.as_str()),
        ];
        env.extend_from_slice(extra);
        start_with(&env).await
    }

    /// Drops the schema and the keys (once its servers are stopped).
    async fn remove(self) {
        self.schema.drop_schema().await;
        self.prefix.delete_keys(&self.redis).await;
    }
}

/// The built server of a deployment of its own, with TOTP on.
struct Backends {
    server: Server,
    deployment: Deployment,
}

impl Backends {
    async fn start() -> Option<Self> {
        let deployment = Deployment::create().await?;
        let mfa_key = "7f".repeat(32);
        let server = deployment
            .start(&[("MFA_ENCRYPTION_KEY", mfa_key.as_str())])
            .await;
        Some(Self { server, deployment })
    }

    /// Stops the server, then drops the schema and the keys.
    async fn stop(self) {
        stop(self.server).await;
        self.deployment.remove().await;
    }
}

/// A Redis key prefix of a test's own, whose keys the test deletes at its end: tests share one
/// Redis, and counters such as those of 127.0.0.1 must not carry over from one to another.
struct RedisPrefix(String);

impl RedisPrefix {
    fn new() -> Self {
        Self(format!("auth-test-{}:", uuid_hex()))
    }

    async fn delete_keys(&self, url: &str) {
        let mut config = RedisConfig::from_url(url);
        config.key_prefix = self.0.clone();
        let store = RedisStore::connect(config).await.unwrap();
        store.delete_every_key().await.unwrap();
        store.close().await;
    }
}

/// 1,000 wrong passwords, then 1,000 wrong TOTP codes on one challenge, sent at once to the
/// built server on PostgreSQL and Redis: only the policy's allowance reaches the hasher (six)
/// and the TOTP checker (five), counted by the server's own metrics; every answer is a 401 or
/// a 429, and the right code after the burst is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_logins_on_postgres_and_redis_reach_the_hasher_six_times() {
    let Some(backends) = Backends::start().await else {
        return;
    };
    let port = backends.server.port;

    // The owner enrols TOTP first, so the attacker's burst cannot slow this set-up.
    let owner = format!("owner-{}@example.com", uuid_hex());
    let credentials = json!({ "email": owner, "password": "correct horse battery staple" });
    let secret = register_with_totp(port, &credentials).await;
    let challenge = post_json(port, "/v1/auth/login", &credentials, None).await;
    let mfa_token = challenge.body["mfa_token"].as_str().unwrap().to_owned();

    let hashes = "auth_password_hash_duration_seconds_count";
    let before = metric(port, hashes).await;
    let wrong = json!({ "email": owner, "password": "not the password at all" });
    let started = std::time::Instant::now();
    let statuses = burst(port, 1_000, "/v1/auth/login", wrong).await;
    let elapsed = started.elapsed().as_secs_f64();
    let checked = metric(port, hashes).await - before;
    // Six free failures, then one more each time the doubling delay (1 s, 2 s, ...) has run
    // out while the burst still lasts: after k more, 2^k - 1 seconds have passed.
    let allowed = 6.0 + (elapsed + 1.0).log2().floor();
    eprintln!(
        "passwords checked: {checked} of 1,000 sent at once over HTTP in {elapsed:.2} s \
         (allowed: {allowed})"
    );
    assert_eq!(unexpected(&statuses), Vec::<u16>::new());
    assert!(
        (1.0..=allowed).contains(&checked),
        "{checked} passwords checked"
    );

    let near: Vec<String> = (-1..=2).map(|step| totp_code_in(&secret, step)).collect();
    let wrong_code = (0..)
        .map(|n: u32| format!("{:06}", n * 7_919 % 1_000_000))
        .find(|code| !near.contains(code))
        .unwrap();
    let checks = "auth_second_factor_checks_total";
    let before = metric(port, checks).await;
    let guesses = json!({ "mfa_token": mfa_token, "code": wrong_code });
    let statuses = burst(port, 1_000, "/v1/auth/mfa/verify", guesses).await;
    let checked = metric(port, checks).await - before;
    eprintln!("TOTP codes checked: {checked} of 1,000 sent at once over HTTP");
    assert_eq!(unexpected(&statuses), Vec::<u16>::new());
    assert!((1.0..=5.0).contains(&checked), "{checked} codes checked");
    let right = post_json(
        port,
        "/v1/auth/mfa/verify",
        &json!({ "mfa_token": mfa_token, "code": totp_code_in(&secret, 1) }),
        None,
    )
    .await;
    assert_eq!(
        (right.status, right.body["error"].as_str()),
        (401, Some("invalid_token")),
        "the right code after the burst: the challenge is spent"
    );

    backends.stop().await;
}

/// Registers the account of `credentials` and enrols TOTP for it (this step's code spent);
/// returns the TOTP secret.
async fn register_with_totp(port: u16, credentials: &serde_json::Value) -> String {
    let registered = post_json(port, "/v1/auth/register", credentials, None).await;
    assert_eq!(registered.status, 201, "{:?}", registered.body);
    let login = post_json(port, "/v1/auth/login", credentials, None).await;
    let access = login.body["access_token"].as_str().unwrap().to_owned();
    let enrolled = post_json(port, "/v1/auth/mfa/totp/enroll", &json!({}), Some(&access)).await;
    let secret = enrolled.body["secret"].as_str().unwrap().to_owned();
    let confirmed = post_json(
        port,
        "/v1/auth/mfa/totp/confirm",
        &json!({ "code": totp_code_in(&secret, 0) }),
        Some(&access),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    secret
}

/// `mfa reencrypt` with the given key list against `schema`: success, and the printed report.
fn reencrypt(schema: &Schema, keys: &str) -> (bool, serde_json::Value) {
    cli_json(
        schema,
        &["mfa", "reencrypt", "--batch", "1"],
        &[("MFA_ENCRYPTION_KEYS", keys)],
    )
}

/// A key rotation as the runbook has it: the new key goes first in the list, `mfa
/// reencrypt` moves every stored secret to it, and the server then runs without the old key,
/// where a second factor enrolled under the old key still verifies.
#[tokio::test]
async fn mfa_keys_rotate_through_reencrypt_and_the_old_key_can_go() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let keys = signing_keys();
    let random_key = || format!("{}{}", uuid_hex(), uuid_hex());
    let old = format!("k1:{}", random_key());
    let new = format!("k2:{}", random_key());
    let start = |mfa_keys: String| {
        let (url, keys) = (schema.url.clone(), keys.clone());
        async move {
            start_with(&[
                ("DATABASE_URL", url.as_str()),
                ("AUTH_SIGNING_KEYS", keys.as_str()),
                ("MFA_ENCRYPTION_KEYS", mfa_keys.as_str()),
            ])
            .await
        }
    };
    let server = start(old.clone()).await;
    let port = server.port;
    let credentials =
        json!({"email": "rotate@example.com", "password": "correct horse battery staple"});
    let secret = register_with_totp(port, &credentials).await;
    stop(server).await;

    // A key that opens nothing stored: nothing moves, and the command says so and fails.
    let (ok, report) = reencrypt(&schema, &format!("k3:{}", random_key()));
    assert!(!ok);
    assert_eq!(report["moved"], 0);
    assert_eq!(report["unreadable"].as_array().unwrap().len(), 1);

    let (ok, report) = reencrypt(&schema, &format!("{new},{old}"));
    assert!(ok, "{report}");
    assert_eq!(
        (report["key_id"].as_str(), report["moved"].as_u64()),
        (Some("k2"), Some(1))
    );
    let (ok, report) = reencrypt(&schema, &format!("{new},{old}"));
    assert!(
        ok && report["moved"] == 0,
        "a second run has nothing to do: {report}"
    );

    let server = start(new).await;
    let port = server.port;
    let challenge = post_json(port, "/v1/auth/login", &credentials, None).await;
    let verified = post_json(
        port,
        "/v1/auth/mfa/verify",
        &json!({"mfa_token": challenge.body["mfa_token"], "code": totp_code_in(&secret, 1)}),
        None,
    )
    .await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    stop(server).await;
    schema.drop_schema().await;
}

/// A stored scrypt hash at ln=20, r=32 would take 4 GiB to check. Planted in the database of a
/// server limited to 1 GiB of address space, it is refused unrun: each login against it is a
/// 401, counted like any wrong password until the account is throttled, and the process lives.
#[tokio::test]
async fn a_planted_costly_hash_is_a_counted_401_in_a_server_limited_to_one_gib() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let keys = signing_keys();
    let mut server = start_limited(
        &[
            ("DATABASE_URL", schema.url.as_str()),
            ("AUTH_SIGNING_KEYS", keys.as_str()),
        ],
        1024 * 1024,
    )
    .await;
    let pid = server.child.id().unwrap();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let address_space = limits
        .lines()
        .find(|line| line.starts_with("Max address space"))
        .unwrap();
    assert!(
        address_space.contains("1073741824"),
        "not limited: {address_space}"
    );

    schema
        .admin
        .batch_execute(&format!(
            "INSERT INTO {}.auth_users (id, email, password_hash, created_at) VALUES \
             (gen_random_uuid(), 'planted@example.com', \
              '$scrypt$ln=20,r=32,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', now())",
            schema.name
        ))
        .await
        .unwrap();
    let port = server.port;
    let attempt =
        json!({"email": "planted@example.com", "password": "correct horse battery staple"});
    for n in 0..6 {
        let answer = post_json(port, "/v1/auth/login", &attempt, None).await;
        assert_eq!(
            (answer.status, answer.body["error"].as_str()),
            (401, Some("invalid_credentials")),
            "attempt {n}"
        );
    }
    let counted = post_json(port, "/v1/auth/login", &attempt, None).await;
    assert_eq!(
        (counted.status, counted.body["error"].as_str()),
        (429, Some("throttled")),
        "the failures were counted"
    );
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server died"
    );
    let (status, _) = request(port, "GET", "/health/liveness").await;
    assert_eq!(status, 200);
    stop(server).await;
    schema.drop_schema().await;
}

/// TLS to both stores, verified against a CA the test makes: the server is ready, serves a
/// sign-in, and PostgreSQL sees every one of its connections encrypted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_reaches_both_stores_over_verified_tls() {
    if !require_all(&[Need::RedisServer, Need::PostgresServer, Need::Openssl]) {
        return;
    }
    let (ca, postgres, redis) = tokio::task::spawn_blocking(|| {
        let ca = TestCa::new();
        let postgres = PrivatePostgres::start_tls(&ca);
        let redis = PrivateRedis::start_tls(&ca);
        (ca, postgres, redis)
    })
    .await
    .unwrap();
    let keys = signing_keys();
    let database_url = format!("{}?sslmode=verify-full", postgres.url());
    let ca_file = ca.cert.display().to_string();
    let server = start_with(&[
        ("DATABASE_URL", database_url.as_str()),
        ("DATABASE_CA_FILE", ca_file.as_str()),
        ("REDIS_URL", redis.url().as_str()),
        ("REDIS_CA_FILE", ca_file.as_str()),
        ("AUTH_SIGNING_KEYS", keys.as_str()),
    ])
    .await;
    assert!(redis.url().starts_with("rediss://"));
    ready(server.port).await;
    let (credentials, _) = signed_in(server.port, "tls").await;
    // A wrong password reaches the throttle counters in Redis.
    let wrong = json!({"email": credentials["email"], "password": "not the password at all"});
    assert_eq!(
        post_json(server.port, "/v1/auth/login", &wrong, None)
            .await
            .status,
        401
    );

    let (admin, connection) = tokio_postgres::connect(&postgres.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let row = admin
        .query_one(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl) \
             FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = 'auth-core'",
            &[],
        )
        .await
        .unwrap();
    let (encrypted, plaintext): (i64, i64) = (row.get(0), row.get(1));
    eprintln!("the server's PostgreSQL connections: {encrypted} encrypted, {plaintext} plaintext");
    assert!(encrypted > 0);
    assert_eq!(plaintext, 0);
    stop(server).await;
}

/// Rows past their time in `schema`: three revoked session ids, two single-use ids and an
/// audit event two years old (besides one of today).
async fn plant_expired_rows(schema: &Schema) {
    let tables = format!(
        "INSERT INTO {s}.auth_revoked_sessions (session_id, revoked_until) \
             SELECT 'sid-' || n, now() - interval '1 hour' FROM generate_series(1, 3) n; \
         INSERT INTO {s}.auth_used_once (id, used_until) \
             SELECT 'once-' || n, now() - interval '1 minute' FROM generate_series(1, 2) n; \
         INSERT INTO {s}.auth_audit_events (at, name, detail) VALUES \
             (now() - interval '730 days', 'login_failed', 'old'), (now(), 'login_failed', 'new')",
        s = schema.name
    );
    schema.admin.batch_execute(&tables).await.unwrap();
}

/// `auth-server purge` against `schema`: success, and the printed answer.
fn purge(schema: &Schema) -> (bool, serde_json::Value) {
    cli_json(schema, &["purge"], &[])
}

#[tokio::test]
async fn expired_rows_go_at_start_and_on_schedule_and_through_the_purge_command() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let keys = signing_keys();
    let vars = [
        ("DATABASE_URL", schema.url.as_str()),
        ("AUTH_SIGNING_KEYS", keys.as_str()),
    ];
    // The first start migrates; its purge finds nothing yet.
    let server = start_with(&vars).await;
    stop(server).await;
    plant_expired_rows(&schema).await;

    // The scheduled purge runs once at start, then every PURGE_INTERVAL. The pool's size
    // and use show on the admin listener.
    let pool_vars = [
        vars[0],
        vars[1],
        ("DATABASE_POOL_SIZE", "5"),
        ("ADMIN_ADDR", "127.0.0.1:0"),
    ];
    let mut server = start_with(&pool_vars).await;
    let purged = wait_for_log(&mut server, "purged expired rows").await;
    let admin = server.admin_port.unwrap();
    assert_eq!(metric(admin, "auth_db_pool_max_connections").await, 5.0);
    signed_in(server.port, "pool").await;
    assert!(metric(admin, "auth_db_pool_open_connections").await >= 1.0);
    assert_eq!(metric(admin, "auth_db_pool_timeouts_total").await, 0.0);
    assert_eq!(
        (
            purged["revoked_sessions"].as_u64(),
            purged["used_once"].as_u64()
        ),
        (Some(3), Some(2)),
        "{purged}"
    );
    assert_eq!(purged["audit_events"], 1, "older than the 365 days kept");
    stop(server).await;

    // The command, with an instance holding the lock, skips; then it purges.
    plant_expired_rows(&schema).await;
    let (admin, connection) = tokio_postgres::connect(&schema.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let holder = tokio::spawn(connection);
    let taken: bool = admin
        .query_one(
            "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))",
            &[&(0x6175_7468_i32 + 1)],
        )
        .await
        .unwrap()
        .get(0);
    assert!(taken);
    let (ok, answer) = purge(&schema);
    assert!(ok && answer["skipped"].is_string(), "{answer}");
    drop(admin);
    holder.await.unwrap().unwrap();
    // The lock goes with its backend, a moment after the connection closes.
    let mut answer = purge(&schema).1;
    for _ in 0..50 {
        if !answer["skipped"].is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        answer = purge(&schema).1;
    }
    assert_eq!(answer["deleted"]["revoked_sessions"], 3, "{answer}");
    assert_eq!(answer["deleted"]["used_once"], 2, "{answer}");
    assert_eq!(answer["deleted"]["audit_events"], 1, "{answer}");
    assert!(answer["statements"].as_u64().unwrap() >= 6, "{answer}");
    schema.drop_schema().await;
}

/// The fields of the first log line with this message, waiting for it (at most 20 s).
async fn wait_for_log(server: &mut Server, message: &str) -> serde_json::Value {
    let found = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while let Some(line) = server.logs.recv().await {
            let log: serde_json::Value = serde_json::from_str(&line).unwrap();
            if log["message"] == message {
                return log;
            }
        }
        panic!("the server exited before logging {message:?}");
    })
    .await;
    found.unwrap_or_else(|_| panic!("no {message:?} line within 20 s"))
}

/// On a Redis Cluster, a primary killed and its replica promoted: the signed-in user keeps
/// refreshing throughout (sessions live in PostgreSQL), and logins work again once the
/// cluster has healed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_cluster_failover_signs_no_one_out() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    if !require(Need::RedisServer) {
        return;
    }
    let mut cluster =
        tokio::task::spawn_blocking(auth_core::testing::topologies::RedisCluster::start)
            .await
            .unwrap();
    let keys = signing_keys();
    let url = cluster.url();
    let server = start_with(&[
        ("DATABASE_URL", schema.url.as_str()),
        ("REDIS_URL", url.as_str()),
        ("AUTH_SIGNING_KEYS", keys.as_str()),
    ])
    .await;
    let port = server.port;
    let (credentials, login) = signed_in(port, "cluster").await;
    let mut refresh = login.body["refresh_token"].clone();

    let victim = cluster.primaries()[0];
    let heir = cluster.replica_of(victim);
    tokio::task::block_in_place(|| cluster.kill(victim));
    let healing = tokio::task::spawn_blocking(move || {
        cluster.wait_for_promotion(heir);
        cluster
    });
    // While the cluster heals, and after: every refresh and every bearer call answers.
    while !healing.is_finished() {
        let answer = post_json(
            port,
            "/v1/auth/refresh",
            &json!({"refresh_token": refresh}),
            None,
        )
        .await;
        assert_eq!(
            answer.status, 200,
            "refresh during the failover: {:?}",
            answer.body
        );
        let me = get_json(port, "/v1/auth/me", answer.body["access_token"].as_str()).await;
        assert_eq!(me.status, 200, "me during the failover: {:?}", me.body);
        refresh = answer.body["refresh_token"].clone();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let cluster = healing.await.unwrap();
    let mut status = 0;
    for _ in 0..100 {
        status = post_json(port, "/v1/auth/login", &credentials, None)
            .await
            .status;
        if status == 200 {
            break;
        }
        assert_eq!(
            status, 503,
            "a login during the failover is refused as unavailable"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "logins work again once the cluster has healed");
    stop(server).await;
    drop(cluster);
    schema.drop_schema().await;
}

/// The `scope` claim of a JWT access token (its payload read without a check: the server
/// checked it).
fn scope_claim(access_token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = access_token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    claims["scope"].clone()
}

/// Roles from `ROLES` and the command line: a grant shows in the next token, a refresh may ask
/// for a subset and no more, a revocation ends the sessions that carried the role at once
/// (the server asks PostgreSQL each time: `REVOCATION_CACHE_TTL=0`), each change is in the
/// audit trail with its actor, and a restart with changed `ROLES` signs out who lost a scope.
#[tokio::test]
async fn roles_from_configuration_and_command_line_reach_tokens_and_end_sessions() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let keys = signing_keys();
    let roles = json!({
        "admin": {"scopes": ["admin:users", "orders:read"], "description": "Operators"},
        "reader": {"scopes": ["orders:read"]},
    })
    .to_string();
    let start = |roles: String| {
        let (url, keys) = (schema.url.clone(), keys.clone());
        async move {
            start_with(&[
                ("DATABASE_URL", url.as_str()),
                ("AUTH_SIGNING_KEYS", keys.as_str()),
                ("REVOCATION_CACHE_TTL", "0"),
                ("ROLES", roles.as_str()),
            ])
            .await
        }
    };
    let server = start(roles).await;
    let port = server.port;
    let (credentials, login) = signed_in(port, "roles").await;
    let email = credentials["email"].as_str().unwrap().to_owned();
    assert_eq!(login.body.get("scope"), None, "no role, no scope");
    assert_eq!(
        scope_claim(login.body["access_token"].as_str().unwrap()),
        json!(null)
    );

    let (ok, listed) = cli_json(&schema, &["role", "list"], &[]);
    assert!(ok);
    assert_eq!(
        listed,
        json!([
            {"name": "admin", "scopes": ["admin:users", "orders:read"], "description": "Operators"},
            {"name": "reader", "scopes": ["orders:read"], "description": ""},
        ])
    );
    let grant = [
        "user", "grant", "--email", &email, "--role", "admin", "--actor", "alice",
    ];
    let (ok, granted) = cli_json(&schema, &grant, &[]);
    assert!(ok, "{granted}");
    assert_eq!(granted["granted"], true);
    assert_eq!(
        cli_json(&schema, &grant, &[]).1["granted"],
        false,
        "held already"
    );

    // The next refresh carries the role's scopes, in the answer and in the token.
    let refresh = |token: String, scope: Option<&'static str>| async move {
        let mut body = json!({"refresh_token": token});
        if let Some(scope) = scope {
            body["scope"] = json!(scope);
        }
        post_json(port, "/v1/auth/refresh", &body, None).await
    };
    let full = refresh(login.body["refresh_token"].as_str().unwrap().into(), None).await;
    assert_eq!(full.status, 200, "{:?}", full.body);
    assert_eq!(full.body["scope"], "admin:users orders:read");
    let access = full.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(scope_claim(&access), "admin:users orders:read");
    // A subset for one access token; more than the grant is refused and spends nothing.
    let narrow = refresh(
        full.body["refresh_token"].as_str().unwrap().into(),
        Some("orders:read"),
    )
    .await;
    assert_eq!(narrow.status, 200, "{:?}", narrow.body);
    assert_eq!(narrow.body["scope"], "orders:read");
    assert_eq!(
        scope_claim(narrow.body["access_token"].as_str().unwrap()),
        "orders:read"
    );
    let next = narrow.body["refresh_token"].as_str().unwrap().to_owned();
    for (scope, code) in [
        ("billing", "invalid_scope"),
        ("bad\"scope", "invalid_scope"),
    ] {
        let refused = refresh(next.clone(), Some(scope)).await;
        assert_eq!(refused.status, 400, "{scope}: {:?}", refused.body);
        assert_eq!(refused.body["error"], code);
    }
    let again = refresh(next, None).await;
    assert_eq!(
        again.status, 200,
        "the refused requests left the token unspent"
    );
    let access = again.body["access_token"].as_str().unwrap().to_owned();

    let (ok, held) = cli_json(&schema, &["user", "roles", "--email", &email], &[]);
    assert!(ok);
    assert_eq!(held["roles"], json!(["admin"]));
    assert_eq!(held["scopes"], json!(["admin:users", "orders:read"]));

    // Revoked: the session that carried the role ends at once.
    assert_eq!(
        get_json(port, "/v1/auth/me", Some(&access)).await.status,
        200
    );
    let revoke = ["user", "revoke", "--email", &email, "--role", "admin"];
    let (ok, revoked) = cli_json(&schema, &revoke, &[("AUTH_ACTOR", "bob")]);
    assert!(ok, "{revoked}");
    assert_eq!(revoked["lost"], json!(["admin:users", "orders:read"]));
    assert_eq!(revoked["signed_out"], true);
    assert_eq!(
        get_json(port, "/v1/auth/me", Some(&access)).await.status,
        401
    );
    let refused = refresh(again.body["refresh_token"].as_str().unwrap().into(), None).await;
    assert_eq!(refused.status, 401);

    // Bad input: a clear error and a failing exit, nothing changed.
    for (args, code) in [
        (
            vec!["role", "set", "Bad Name", "--no-scopes"],
            "invalid_request",
        ),
        (vec!["role", "set", "admin"], "--scope"),
        (
            vec!["role", "set", "ok", "--scope", "a\"b"],
            "invalid_scope",
        ),
        (vec!["role", "delete", "nowhere"], "not_found"),
        (revoke.to_vec(), "not_found"),
        (
            vec!["user", "grant", "--email", &email, "--role", "nowhere"],
            "not_found",
        ),
        (
            vec![
                "user",
                "grant",
                "--email",
                "nobody@example.com",
                "--role",
                "admin",
            ],
            "not_found",
        ),
    ] {
        let stderr = cli_fails(&schema, &args);
        assert!(stderr.contains(code), "{args:?}: {stderr}");
    }
    assert_eq!(
        cli_json(&schema, &["role", "list"], &[]).1,
        listed,
        "nothing changed"
    );

    // A role set from the command line, then changed by ROLES at a restart: its holder loses a
    // scope and is signed out.
    let (ok, set) = cli_json(
        &schema,
        &[
            "role",
            "set",
            "support",
            "--scope",
            "tickets:read",
            "--description",
            "Help desk",
        ],
        &[],
    );
    assert!(ok, "{set}");
    assert_eq!(set["created"], true);
    cli_json(
        &schema,
        &["user", "grant", "--email", &email, "--role", "reader"],
        &[],
    );
    let login = post_json(port, "/v1/auth/login", &credentials, None).await;
    assert_eq!(login.body["scope"], "orders:read");
    let access = login.body["access_token"].as_str().unwrap().to_owned();
    stop(server).await;
    let server = start(json!({"reader": {"scopes": ["orders:list"]}}).to_string()).await;
    assert_eq!(
        get_json(server.port, "/v1/auth/me", Some(&access))
            .await
            .status,
        401
    );
    let login = post_json(server.port, "/v1/auth/login", &credentials, None).await;
    assert_eq!(login.body["scope"], "orders:list");
    let (_, listed) = cli_json(&schema, &["role", "list"], &[]);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|role| role["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["admin", "reader", "support"],
        "roles not in ROLES stay"
    );

    // Every change, with its actor.
    let trail = audit_trail(&schema, "name LIKE 'role_%' OR name = 'access_removed'").await;
    let names: Vec<&str> = trail.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "role_defined",
            "role_defined",
            "role_granted",
            "role_revoked",
            "role_defined",
            "role_granted",
            "role_defined",
            "access_removed"
        ]
    );
    assert!(trail[7].1.contains("Configuration"), "{trail:?}");
    assert!(trail[0].1.contains("Configuration"), "{trail:?}");
    assert!(trail[2].1.contains("Operator(\"alice\")"), "{trail:?}");
    assert!(trail[3].1.contains("Operator(\"bob\")"), "{trail:?}");
    assert!(
        trail[6].1.contains("removed: [\"orders:read\"]"),
        "{trail:?}"
    );

    // An operator signs the account out everywhere.
    let access = login.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        get_json(server.port, "/v1/auth/me", Some(&access))
            .await
            .status,
        200
    );
    let (ok, out) = cli_json(&schema, &["user", "sign-out", "--email", &email], &[]);
    assert!(ok && out["signed_out"] == true, "{out}");
    assert_eq!(
        get_json(server.port, "/v1/auth/me", Some(&access))
            .await
            .status,
        401
    );
    stop(server).await;
    schema.drop_schema().await;
}

/// OAuth clients from the command line: a confidential client's secret printed once and never
/// listed, a public one without, bad registrations refused with the reason, deletes audited.
#[tokio::test]
async fn clients_are_registered_listed_and_deleted_from_the_command_line() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let actor = [("AUTH_ACTOR", "alice")];
    let (ok, shop) = cli_json(
        &schema,
        &[
            "client",
            "create",
            "--name",
            "Shop",
            "--redirect-uri",
            "https://shop.example.com/cb",
            "--scope",
            "openid",
            "--scope",
            "profile",
            "--first-party",
        ],
        &actor,
    );
    assert!(ok, "{shop}");
    let secret = shop["client_secret"].as_str().unwrap();
    assert_eq!(secret.len(), 43);
    assert_eq!(shop["auth_method"], "client_secret_basic");
    assert_eq!(
        shop["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(shop["scopes"], json!(["openid", "profile"]));
    assert_eq!(shop["first_party"], true);
    let (ok, app) = cli_json(
        &schema,
        &[
            "client",
            "create",
            "--name",
            "Phone app",
            "--auth-method",
            "none",
            "--redirect-uri",
            "com.example.app:/cb",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--no-refresh",
        ],
        &actor,
    );
    assert!(ok, "{app}");
    assert_eq!(
        app.get("client_secret"),
        None,
        "a public client has no secret"
    );
    assert_eq!(app["grant_types"], json!(["authorization_code"]));

    for (args, code) in [
        (
            vec!["--redirect-uri", "http://shop.example.com/cb"],
            "http only on the loopback literals",
        ),
        (
            vec!["--redirect-uri", "https://shop.example.com/cb#x"],
            "no fragment",
        ),
        (
            vec![
                "--redirect-uri",
                "https://shop.example.com/cb",
                "--auth-method",
                "client_secret_jwt",
            ],
            "not a client authentication method",
        ),
        (
            vec![
                "--redirect-uri",
                "https://shop.example.com/cb",
                "--auth-method",
                "private_key_jwt",
            ],
            "gives its public keys: jwks or jwks_uri",
        ),
        (
            vec![
                "--redirect-uri",
                "https://shop.example.com/cb",
                "--auth-method",
                "private_key_jwt",
                "--jwks",
                "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\",\"d\":\"AA\"}]}",
            ],
            "register public keys only",
        ),
        (
            vec![
                "--redirect-uri",
                "https://shop.example.com/cb",
                "--scope",
                "a\"b",
            ],
            "invalid_scope",
        ),
    ] {
        let stderr = cli_fails(
            &schema,
            &[&["client", "create", "--name", "Bad"], &args[..]].concat(),
        );
        assert!(stderr.contains(code), "{args:?}: {stderr}");
    }

    let (ok, listed) = cli_json(&schema, &["client", "list"], &[]);
    assert!(ok);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2, "the refused registrations stored nothing");
    assert_eq!(listed[0]["client_id"], shop["client_id"]);
    assert!(
        !listed[0].to_string().contains(secret),
        "the secret is shown once"
    );
    assert_eq!(listed[0].get("client_secret"), None);

    let shop_id = shop["client_id"].as_str().unwrap();
    let (ok, deleted) = cli_json(&schema, &["client", "delete", shop_id], &actor);
    assert!(ok && deleted["deleted"] == true, "{deleted}");
    assert!(cli_fails(&schema, &["client", "delete", shop_id]).contains("not_found"));
    assert_eq!(
        cli_json(&schema, &["client", "list"], &[])
            .1
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let trail = audit_trail(&schema, "name LIKE 'client_%'").await;
    let names: Vec<&str> = trail.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        ["client_registered", "client_registered", "client_deleted"]
    );
    assert!(
        trail
            .iter()
            .all(|(_, detail)| detail.contains("Operator(\"alice\")")),
        "{trail:?}"
    );
    assert!(!trail.iter().any(|(_, detail)| detail.contains(secret)));
    schema.drop_schema().await;
}

/// `auth-server ARGS` against `schema`, which must fail: what it said on stderr.
fn cli_fails(schema: &Schema, args: &[&str]) -> String {
    let output = std::process::Command::new(BIN)
        .args(args)
        .env_clear()
        .env("DATABASE_URL", &schema.url)
        .output()
        .unwrap();
    assert!(!output.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The audit events of `schema` whose row matches `filter` (SQL), in order: name and detail.
async fn audit_trail(schema: &Schema, filter: &str) -> Vec<(String, String)> {
    let rows = schema
        .admin
        .query(
            &format!(
                "SELECT name, detail FROM {}.auth_audit_events WHERE {filter} ORDER BY id",
                schema.name
            ),
            &[],
        )
        .await
        .unwrap();
    rows.iter().map(|row| (row.get(0), row.get(1))).collect()
}
