//! Outages of the stores, on private instances the test starts, breaks and stops itself (the
//! shared services are never touched): two server processes on one PostgreSQL and one Redis,
//! users refreshing and asking who they are while Redis is paused, killed and brought back
//! empty, then while PostgreSQL is stopped and started again. Nobody may be signed out, and a
//! session ended before stays refused on both servers.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

/// One user of one server: the tokens it holds now.
struct Client {
    port: u16,
    refresh: Value,
    access: String,
    signed_out: bool,
}

impl Client {
    async fn sign_up(port: u16, name: &str) -> Self {
        let (_, login) = signed_in(port, name).await;
        Self {
            port,
            refresh: login.body["refresh_token"].clone(),
            access: login.body["access_token"].as_str().unwrap().to_owned(),
            signed_out: false,
        }
    }

    /// A refresh, then `/me` with the newest access token: the two statuses. A 503 keeps the
    /// tokens (the refresh token stays unspent); a 401 means this user was signed out.
    async fn round(&mut self) -> (u16, u16) {
        let refreshed = post_json(
            self.port,
            "/v1/auth/refresh",
            &json!({"refresh_token": self.refresh}),
            None,
        )
        .await;
        if refreshed.status == 200 {
            self.refresh = refreshed.body["refresh_token"].clone();
            self.access = refreshed.body["access_token"].as_str().unwrap().to_owned();
        }
        let me = get_json(self.port, "/v1/auth/me", Some(&self.access)).await;
        if refreshed.status == 401 || me.status == 401 {
            self.signed_out = true;
        }
        (refreshed.status, me.status)
    }
}

/// The phases of the run, in order; each user's answers are counted under the phase in
/// force when its round began.
const PHASES: [&str; 7] = [
    "before",
    "Redis paused",
    "Redis killed",
    "Redis back, empty",
    "PostgreSQL stopped",
    "PostgreSQL back",
    "after",
];

/// Answers counted by phase: for refresh and for me, how many of each status.
type Tally = Vec<(BTreeMap<u16, usize>, BTreeMap<u16, usize>)>;

/// Runs `client` in a loop until `done`, counting its answers under the current phase.
async fn keep_going(
    mut client: Client,
    phase: Arc<AtomicUsize>,
    done: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
) -> Client {
    while !done.load(Ordering::SeqCst) {
        let now = phase.load(Ordering::SeqCst);
        let (refresh, me) = client.round().await;
        {
            let mut tally = tally.lock().unwrap();
            *tally[now].0.entry(refresh).or_insert(0) += 1;
            *tally[now].1.entry(me).or_insert(0) += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    client
}

/// How long a server may go on accepting a session another server ended
/// (`REVOCATION_CACHE_TTL`, set to this for the run).
const REVOCATION_BOUND: Duration = Duration::from_secs(2);

/// One answer to an ended session's access token: when it was sent (counted from the start of
/// the logout), to which server, in which phase, and its status.
struct EndedAnswer {
    sent: Duration,
    port: u16,
    phase: usize,
    status: u16,
}

/// Asks both servers who the ended session's token belongs to, in a loop until `done`.
async fn watch_ended(
    access: String,
    ports: [u16; 2],
    ended: Instant,
    phase: Arc<AtomicUsize>,
    done: Arc<AtomicBool>,
) -> Vec<EndedAnswer> {
    let mut answers = Vec::new();
    while !done.load(Ordering::SeqCst) {
        for port in ports {
            let now = phase.load(Ordering::SeqCst);
            let sent = ended.elapsed();
            let status = get_json(port, "/v1/auth/me", Some(&access)).await.status;
            answers.push(EndedAnswer {
                sent,
                port,
                phase: now,
                status,
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_outages_sign_no_one_out_and_revive_no_session() {
    if !require_all(&[Need::PostgresServer, Need::RedisServer]) {
        return;
    }
    let postgres = tokio::task::spawn_blocking(PrivatePostgres::start)
        .await
        .unwrap();
    let mut redis = tokio::task::spawn_blocking(PrivateRedis::start)
        .await
        .unwrap();
    let key = auth_core::token::Key::generate(auth_core::token::Algorithm::EdDsa).unwrap();
    let keys = json!([{ "alg": "EdDSA", "key": auth_core::secrecy::ExposeSecret::expose_secret(&key.export_private().unwrap()) }]).to_string();
    let env = [
        ("DATABASE_URL", postgres.url()),
        ("REDIS_URL", redis.url()),
        ("AUTH_SIGNING_KEYS", keys),
        (
            "REVOCATION_CACHE_TTL",
            REVOCATION_BOUND.as_secs().to_string(),
        ),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = start_with(&env).await;
    let b = start_with(&env).await;
    let mut clients = Vec::new();
    for (server, name) in [(&a, "a"), (&b, "b")] {
        for n in 0..5 {
            clients.push(Client::sign_up(server.port, &format!("{name}{n}")).await);
        }
    }
    // A user who logs out on server A before anything breaks, just after server B saw the
    // session live (B holds a "not ended" answer): A refuses the token at once, B within the
    // bound, and both go on refusing it through every outage.
    let leaver = Client::sign_up(a.port, "leaver").await;
    let seen = get_json(b.port, "/v1/auth/me", Some(&leaver.access)).await;
    assert_eq!(seen.status, 200, "{:?}", seen.body);
    let ended = Instant::now();
    let logout = post_json(a.port, "/v1/auth/logout", &json!({}), Some(&leaver.access)).await;
    assert_eq!(logout.status, 204);
    let refused = get_json(a.port, "/v1/auth/me", Some(&leaver.access)).await;
    assert_eq!(refused.status, 401, "at once on the server that ended it");

    // Every user refreshes and asks who it is in a loop of its own while the stores fail.
    let phase = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let tally: Arc<Mutex<Tally>> = Arc::new(Mutex::new(vec![Default::default(); PHASES.len()]));
    let users: Vec<_> = clients
        .into_iter()
        .map(|client| {
            tokio::spawn(keep_going(
                client,
                phase.clone(),
                done.clone(),
                tally.clone(),
            ))
        })
        .collect();
    let watcher = tokio::spawn(watch_ended(
        leaver.access.clone(),
        [a.port, b.port],
        ended,
        phase.clone(),
        done.clone(),
    ));
    let next = |pause_ms: u64| {
        let phase = phase.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(pause_ms)).await;
            phase.fetch_add(1, Ordering::SeqCst);
        }
    };
    // A phase begins as its outage begins, and as its recovery has ended: the time a stop
    // takes counts as down, the time a start takes too.
    next(800).await;
    redis.pause();
    next(1_500).await;
    redis.kill();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    tokio::task::block_in_place(|| redis.run());
    next(0).await;
    next(1_000).await;
    tokio::task::block_in_place(|| postgres.stop());
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    tokio::task::block_in_place(|| postgres.run());
    next(0).await;
    for server in [&a, &b] {
        ready(server.port).await;
    }
    // Requests begun before the servers were ready may still answer 503: "after" starts once
    // every user has begun a round since.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    next(0).await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    done.store(true, Ordering::SeqCst);
    let mut clients = Vec::new();
    for user in users {
        clients.push(user.await.unwrap());
    }

    let tally = tally.lock().unwrap().clone();
    for (name, (refresh, me)) in PHASES.iter().zip(&tally) {
        eprintln!("{name}: refresh {refresh:?}, me {me:?}");
        assert!(!refresh.is_empty(), "{name}: no refresh was made");
        for status in refresh.keys().chain(me.keys()) {
            assert!(
                [200, 503].contains(status),
                "{name}: a {status} (refresh {refresh:?}, me {me:?})"
            );
        }
    }
    let signed_in = clients.iter().filter(|client| !client.signed_out).count();
    eprintln!("signed in at the end: {signed_in} of {}", clients.len());
    assert_eq!(signed_in, clients.len());
    let (after_refresh, after_me) = tally.last().unwrap();
    assert_eq!(
        after_refresh.keys().collect::<Vec<_>>(),
        [&200],
        "every refresh after"
    );
    assert_eq!(
        after_me.keys().collect::<Vec<_>>(),
        [&200],
        "every me after"
    );
    for client in &mut clients {
        assert_eq!(
            client.round().await,
            (200, 200),
            "one more round at the end"
        );
    }
    for server in [&a, &b] {
        let refused = get_json(server.port, "/v1/auth/me", Some(&leaver.access)).await;
        assert_eq!(refused.status, 401, "the ended session on {}", server.port);
    }

    // The ended session: accepted only by B, and only by requests sent within the bound of
    // the logout (B's answer was cached before it); refused everywhere after, whatever broke.
    let answers = watcher.await.unwrap();
    for (n, name) in PHASES.iter().enumerate() {
        let mut statuses = BTreeMap::<u16, usize>::new();
        for answer in answers.iter().filter(|answer| answer.phase == n) {
            *statuses.entry(answer.status).or_insert(0) += 1;
        }
        eprintln!("{name}: the ended session {statuses:?}");
        assert!(
            !statuses.is_empty(),
            "{name}: the ended session was not tried"
        );
    }
    for answer in &answers {
        match answer.status {
            200 => assert!(
                answer.port == b.port && answer.sent < REVOCATION_BOUND,
                "the ended session accepted by {} {:?} after the logout began",
                answer.port,
                answer.sent
            ),
            401 | 503 => {}
            other => panic!("the ended session: a {other}"),
        }
    }
    let last_accepted = answers
        .iter()
        .filter(|answer| answer.status == 200)
        .map(|answer| answer.sent)
        .max();
    let first_refused_by_b = answers
        .iter()
        .filter(|answer| answer.port == b.port && answer.status == 401)
        .map(|answer| answer.sent)
        .min();
    eprintln!(
        "the ended session: last accepted by B at {last_accepted:?}, first refused by B at \
         {first_refused_by_b:?} after the logout began"
    );
}
