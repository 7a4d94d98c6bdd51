//! Outages of the stores, on private instances the test starts, breaks and stops itself (the
//! shared services are never touched): two server processes on one PostgreSQL and one Redis,
//! users refreshing and asking who they are while Redis is paused, killed and brought back
//! empty, then while PostgreSQL is stopped and started again. Nobody may be signed out, and a
//! session ended before stays refused on both servers.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// A free TCP port on loopback (free when asked; the caller binds it right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether something accepts connections on `port`.
fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    for _ in 0..200 {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not come up within 10 s");
}

/// A `redis-server` of the test's own, without persistence: killed, it comes back empty.
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    fn start() -> Self {
        let mut redis = Self {
            port: free_port(),
            child: None,
        };
        redis.run();
        redis
    }

    fn run(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--dir", "/tmp"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's redis-server package)");
        self.child = Some(child);
        let port = self.port;
        wait_until("the private Redis", || listening(port));
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(
            Command::new("kill")
                .args(["-s", signal, &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        // A paused process is killed all the same; the signal only has to reach it.
        self.kill();
    }
}

/// A PostgreSQL cluster of the test's own (`initdb` as the `postgres` user: the server refuses
/// to run as root), on a free port, removed when dropped.
struct PrivatePostgres {
    port: u16,
    dir: PathBuf,
}

impl PrivatePostgres {
    fn bin(name: &str) -> PathBuf {
        let versions = std::fs::read_dir("/usr/lib/postgresql").expect("PostgreSQL's binaries");
        let mut found: Vec<PathBuf> = versions
            .map(|version| version.unwrap().path().join("bin").join(name))
            .filter(|path| path.exists())
            .collect();
        found.sort();
        found
            .pop()
            .unwrap_or_else(|| panic!("no {name} under /usr/lib/postgresql"))
    }

    fn as_postgres(program: &str) -> Command {
        let mut command = Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(Self::bin(program));
        command
    }

    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("auth-outage-pg-{}", uuid_hex()));
        std::fs::create_dir(&dir).unwrap();
        let owner = |flag: &str| {
            let out = Command::new("id")
                .args([flag, "postgres"])
                .output()
                .unwrap();
            String::from_utf8(out.stdout)
                .unwrap()
                .trim()
                .parse::<u32>()
                .unwrap()
        };
        std::os::unix::fs::chown(&dir, Some(owner("-u")), Some(owner("-g"))).unwrap();
        let initdb = Self::as_postgres("initdb")
            .args(["-D"])
            .arg(dir.join("data"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(initdb.success(), "initdb");
        let postgres = Self {
            port: free_port(),
            dir,
        };
        postgres.run();
        postgres
    }

    fn pg_ctl(&self, action: &str) -> bool {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        Self::as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-o", &options, "-l"])
            .arg(self.dir.join("log"))
            .args(["-m", "fast", "-w", action])
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    fn run(&self) {
        assert!(self.pg_ctl("start"), "pg_ctl start");
    }

    fn stop(&self) {
        assert!(self.pg_ctl("stop"), "pg_ctl stop");
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.pg_ctl("stop");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

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

/// Waits until both servers say they are ready.
async fn ready(servers: [&Server; 2]) {
    for _ in 0..200 {
        let mut all = true;
        for server in servers {
            all &= request(server.port, "GET", "/health/readiness").await.0 == 200;
        }
        if all {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the servers did not become ready within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_outages_sign_no_one_out_and_revive_no_session() {
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
    // A user who logs out on server A before anything breaks: their token stays refused.
    let leaver = Client::sign_up(a.port, "leaver").await;
    let logout = post_json(a.port, "/v1/auth/logout", &json!({}), Some(&leaver.access)).await;
    assert_eq!(logout.status, 204);

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
    redis.signal("STOP");
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
    ready([&a, &b]).await;
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
}
