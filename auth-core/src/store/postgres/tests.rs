//! The PostgreSQL backend against a real server, reached through `AUTH_TEST_DATABASE_URL`
//! (for example `postgres://postgres@127.0.0.1:5432/test`). Each test works in a schema of its
//! own, `auth_test_<random hex>`, dropped when the test ends, pass or fail. Without a database
//! they fail, unless `AUTH_TEST_ALLOW_MISSING` says otherwise (`crate::testing::needs`).

// Helpers panic on failure, like the tests that call them.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use deadpool_postgres::tokio_postgres::{self, NoTls};

use super::migrate::LOCK_CLASS;
use super::{
    Deleted, EmailCollision, MigrationReport, MigrationState, PostgresConfig, PostgresStore,
    PurgeOptions,
};
use crate::error::Error;
use crate::event::EventSink;
use crate::event::{AuthEvent, AuthEventKind, LoginFailure};
use crate::id::{Amr, FamilyId, SecretHash, SessionId, UserId};
use crate::mfa::{EncryptedSecret, TotpParams};
use crate::passkey::{Ceremony, CeremonyId, CeremonyKind};
use crate::refresh::{RefreshFamily, RefreshTokenRecord, Rotation};
use crate::store::conformance::new_user;
use crate::store::{
    MfaStore, PasskeyStore, RefreshStore, RevocationStore, Session, SessionStore, ThrottleStore,
    TotpRecord, TotpReplayGuard, User, UserStore,
};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

fn t0() -> SystemTime {
    crate::testing::now()
}

fn database_url() -> Option<String> {
    crate::testing::needs::postgres_url()
}

async fn admin_client(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// A schema of the test's own; dropped on drop, even when the test panics.
pub(crate) struct TestSchema {
    url: String,
    name: String,
}

impl TestSchema {
    /// A new empty schema, or `None` (having said so) without a test database.
    pub(crate) async fn create() -> Option<Self> {
        let url = database_url()?;
        let name = format!("auth_test_{:016x}", rand::random::<u64>());
        let admin = admin_client(&url).await.unwrap();
        // The name is ours, made of hex digits: an identifier cannot be a parameter.
        admin
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .unwrap();
        Some(Self { url, name })
    }

    /// A configuration whose connections work in this schema.
    fn config(&self) -> PostgresConfig {
        self.config_with(8)
    }

    /// [`config`](Self::config) with a pool of `max_connections`.
    fn config_with(&self, max_connections: usize) -> PostgresConfig {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        let url = format!(
            "{}{separator}options=-c%20search_path%3D{}",
            self.url, self.name
        );
        PostgresConfig {
            max_connections,
            ..PostgresConfig::from_url(url)
        }
    }

    /// A new pool on this schema, not migrated.
    fn store(&self) -> PostgresStore {
        PostgresStore::connect(&self.config()).unwrap()
    }

    /// A new pool on this schema, migrated.
    async fn migrated_store(&self) -> PostgresStore {
        self.migrated_store_with(8).await
    }

    /// A new pool of `max_connections` on this schema, migrated.
    pub(crate) async fn migrated_store_with(&self, max_connections: usize) -> PostgresStore {
        let store = PostgresStore::connect(&self.config_with(max_connections)).unwrap();
        store.migrate().await.unwrap();
        store
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Drop cannot await, and may run while the test's runtime unwinds: a thread with a
        // runtime of its own does the clean-up.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let admin = admin_client(&url).await?;
                admin
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .await
            })
        });
        if let Ok(Err(error)) = cleanup.join() {
            eprintln!("could not drop test schema {}: {error}", self.name);
        }
    }
}

/// A migrated store in a schema of its own, and the schema's guard.
async fn conformance_store() -> Option<(Arc<PostgresStore>, TestSchema)> {
    let schema = TestSchema::create().await?;
    let store = Arc::new(schema.migrated_store().await);
    Some((store, schema))
}

crate::store_conformance_tests!(conformance_store());

fn all_versions(statuses: &[super::MigrationStatus]) -> Vec<u32> {
    statuses.iter().map(|status| status.version).collect()
}

async fn assert_all_applied(store: &PostgresStore, versions: &[u32]) {
    let status = store.migration_status().await.unwrap();
    assert_eq!(all_versions(&status), versions);
    assert!(
        status
            .iter()
            .all(|m| matches!(m.state, MigrationState::Applied { .. })),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_bring_a_fresh_schema_to_the_latest_version_once() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema.store();
    let before = store.migration_status().await.unwrap();
    assert!(!before.is_empty());
    assert!(
        before.iter().all(|m| m.state == MigrationState::Pending),
        "{before:?}"
    );
    let versions = all_versions(&before);
    let latest = *versions.last().unwrap();

    let first = store.migrate().await.unwrap();
    assert_eq!(
        first,
        MigrationReport {
            applied: versions.clone(),
            current: latest,
            emails_normalized: 0,
            email_collisions: vec![],
        }
    );
    let second = store.migrate().await.unwrap();
    assert_eq!(
        second,
        MigrationReport {
            applied: vec![],
            current: latest,
            emails_normalized: 0,
            email_collisions: vec![],
        },
        "running again is a no-op"
    );

    assert_all_applied(&store, &versions).await;
}

/// Rows stored by earlier releases (trimmed and lower-cased only) move to the new form once;
/// an address whose new form another account holds, or that is no address, stays as stored
/// and is reported and recorded instead of failing the migration.
#[tokio::test]
async fn the_email_backfill_moves_old_rows_and_reports_collisions() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema.migrated_store().await;
    let client = store.client().await.unwrap();
    let ids: Vec<uuid::Uuid> = (0..5).map(|_| uuid::Uuid::new_v4()).collect();
    let rows = [
        "strasse@example.com",
        "straße@example.com",
        "kim@bücher.example",
        "ada@example.com",
        "not an address",
    ];
    for (id, email) in ids.iter().zip(rows) {
        client
            .execute(
                "INSERT INTO auth_users (id, email, password_hash, created_at) \
                 VALUES ($1, $2, 'x', now())",
                &[id, &email],
            )
            .await
            .unwrap();
    }
    // As if this release's backfill had not run yet on this schema.
    client
        .execute("DELETE FROM auth_data_migrations", &[])
        .await
        .unwrap();

    let report = store.migrate().await.unwrap();
    assert_eq!(report.emails_normalized, 1, "{report:?}");
    let mut collisions = report.email_collisions.clone();
    collisions.sort_by(|a, b| a.email.cmp(&b.email));
    assert_eq!(
        collisions,
        vec![
            EmailCollision {
                user_id: UserId::from(ids[4]),
                email: "not an address".into(),
                normalized: None,
                taken_by: None,
            },
            EmailCollision {
                user_id: UserId::from(ids[1]),
                email: "straße@example.com".into(),
                normalized: Some("strasse@example.com".into()),
                taken_by: Some(UserId::from(ids[0])),
            },
        ]
    );
    let moved = store
        .user_by_email("kim@xn--bcher-kva.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.id, UserId::from(ids[2]));
    let recorded = client
        .query_one("SELECT count(*) AS n FROM auth_email_collisions", &[])
        .await
        .unwrap();
    assert_eq!(recorded.get::<_, i64>("n"), 2);

    let again = store.migrate().await.unwrap();
    assert_eq!(
        (again.emails_normalized, again.email_collisions.len()),
        (0, 0),
        "the backfill runs once"
    );
}

/// Takes (or, with `take` false, releases) `schema`'s migration lock on `client`'s session, as
/// a migrating instance holds it.
async fn migration_lock(client: &tokio_postgres::Client, schema: &TestSchema, take: bool) {
    let call = if take {
        "SELECT pg_advisory_lock($1, hashtext($2))"
    } else {
        "SELECT pg_advisory_unlock($1, hashtext($2))"
    };
    client
        .execute(call, &[&LOCK_CLASS, &schema.name])
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_on_two_pools_apply_once() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let versions = all_versions(&schema.store().migration_status().await.unwrap());
    // Hold the migration lock of the schema, so both runs are queued on it together.
    let holder = admin_client(&schema.url).await.unwrap();
    migration_lock(&holder, &schema, true).await;
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let store = schema.store();
            tokio::spawn(async move { store.migrate().await })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = holder
            .query_one(
                "SELECT count(*) FROM pg_locks \
                 WHERE locktype = 'advisory' AND NOT granted AND classid::int8 = $1",
                &[&i64::from(LOCK_CLASS)],
            )
            .await
            .unwrap()
            .get(0);
        if waiting >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "both runs wait for the lock");
        tokio::task::yield_now().await;
    }
    migration_lock(&holder, &schema, false).await;

    let mut applied = Vec::new();
    for run in runs {
        let report = run.await.unwrap().unwrap();
        assert_eq!(report.current, *versions.last().unwrap());
        applied.push(report.applied);
    }
    applied.sort();
    assert_eq!(
        applied,
        vec![vec![], versions.clone()],
        "one run applies, the other finds it done"
    );
    assert_all_applied(&schema.store(), &versions).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_gives_up_after_its_lock_timeout_naming_the_holder() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let holder = admin_client(&schema.url).await.unwrap();
    holder
        .batch_execute("SET application_name = 'stuck-migrator'")
        .await
        .unwrap();
    migration_lock(&holder, &schema, true).await;
    let pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);

    let store = schema.store();
    let started = Instant::now();
    let error = store
        .migrate_within(Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "it gave up");
    let Error::Unavailable(message) = error else {
        panic!("not unavailable: {error:?}")
    };
    assert!(
        message.contains(&format!("pid {pid} "))
            && message.contains("stuck-migrator")
            && message.contains(&format!("pg_terminate_backend({pid})")),
        "{message}"
    );
    assert!(
        store.migration_status().await.unwrap()[0].state == MigrationState::Pending,
        "nothing ran"
    );

    migration_lock(&holder, &schema, false).await;
    let report = store
        .migrate_within(Duration::from_millis(300))
        .await
        .unwrap();
    assert!(!report.applied.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_changed_after_it_was_applied_is_refused() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema.migrated_store().await;
    store
        .client()
        .await
        .unwrap()
        .execute(
            "UPDATE auth_schema_migrations SET checksum = 'tampered' WHERE version = 1",
            &[],
        )
        .await
        .unwrap();

    let refused = store.migrate().await;
    assert!(
        matches!(&refused, Err(Error::Config(message))
            if message.contains("migration 1 (initial) was changed after it was applied")),
        "{refused:?}"
    );
    let status = store.migration_status().await.unwrap();
    assert!(
        matches!(status[0].state, MigrationState::Changed { .. }),
        "{status:?}"
    );
}

fn random_hash() -> SecretHash {
    SecretHash::of(&rand::random::<[u8; 32]>())
}

fn session_of(user: &User, created_at: SystemTime, idle: Duration, absolute: Duration) -> Session {
    Session {
        id: SessionId::from_secret(&rand::random::<[u8; 32]>()),
        user_id: user.id,
        amr: Amr::PasswordAndTotp,
        created_at,
        auth_time: created_at,
        flagged: false,
        client: None,
        user_agent: None,
        grant: None,
        last_used_at: created_at,
        idle_expires_at: created_at + idle,
        expires_at: created_at + absolute,
    }
}

/// A family of `user` started at `created_at`, and its first token.
async fn family_of(
    store: &PostgresStore,
    user: &User,
    created_at: SystemTime,
    lifetime: Duration,
    idle: Duration,
) -> (RefreshFamily, RefreshTokenRecord) {
    let family = RefreshFamily {
        id: FamilyId::new(),
        user_id: user.id,
        session_id: SessionId::from_secret(&rand::random::<[u8; 32]>()),
        created_at,
        expires_at: created_at + lifetime,
        epoch: 0,
    };
    let first = RefreshTokenRecord {
        hash: random_hash(),
        issued_at: created_at,
        idle_expires_at: created_at + idle,
    };
    store
        .create_family(family.clone(), first.clone())
        .await
        .unwrap();
    (family, first)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_a_new_pool() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema.migrated_store().await;
    let user = new_user(&store).await;
    let session = session_of(&user, t0(), HOUR, DAY);
    store.create_session(session.clone()).await.unwrap();
    let (family, first) = family_of(&store, &user, t0(), 30 * DAY, DAY).await;
    let totp = TotpRecord {
        user_id: user.id,
        secret: EncryptedSecret {
            key_id: "v1".into(),
            nonce: vec![1; 12],
            ciphertext: vec![2; 36],
        },
        params: TotpParams::default(),
        confirmed: false,
        last_used_step: None,
        created_at: t0(),
    };
    store.save_pending_totp(totp.clone()).await.unwrap();
    drop(store);

    let store = schema.store();
    assert_eq!(store.user_by_id(&user.id).await.unwrap(), Some(user));
    assert_eq!(
        store.session(&session.id, t0()).await.unwrap(),
        Some(session)
    );
    assert_eq!(store.totp(&totp.user_id).await.unwrap(), Some(totp));
    let successor = RefreshTokenRecord {
        hash: random_hash(),
        issued_at: t0() + MINUTE,
        idle_expires_at: t0() + DAY,
    };
    assert_eq!(
        store
            .rotate(&first.hash, successor, t0() + MINUTE, Duration::ZERO)
            .await
            .unwrap(),
        Rotation::Rotated(family)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_are_unique_whatever_their_case() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema.migrated_store().await;
    let user = new_user(&store).await;
    let twin = User {
        id: UserId::new(),
        email: user.email.to_uppercase(),
        ..user
    };
    let refused = store.create_user(twin).await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
}

async fn count(store: &PostgresStore, table: &str) -> i64 {
    let client = store.client().await.unwrap();
    // Table names are the test's own literals.
    let row = client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap();
    row.get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_expired_removes_what_has_ended_and_keeps_the_rest() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema.migrated_store().await;
    let user = new_user(&store).await;
    let now = t0() + 10 * HOUR;

    let ended = session_of(&user, t0(), HOUR, DAY);
    let live = session_of(&user, now - HOUR, 2 * HOUR, DAY);
    for session in [&ended, &live] {
        store.create_session(session.clone()).await.unwrap();
    }

    // A live family whose first token was spent (kept: reuse detection needs it) for a live
    // successor; a live family whose unspent token went idle; an expired family; a revoked one.
    let (rotated, spent) = family_of(&store, &user, t0(), 30 * DAY, HOUR).await;
    let current = RefreshTokenRecord {
        hash: random_hash(),
        issued_at: t0() + MINUTE,
        idle_expires_at: t0() + DAY,
    };
    let rotation = store
        .rotate(&spent.hash, current, t0() + MINUTE, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(rotation, Rotation::Rotated(rotated.clone()));
    family_of(&store, &user, t0(), 30 * DAY, HOUR).await;
    family_of(&store, &user, t0(), 2 * HOUR, HOUR).await;
    let (revoked, _) = family_of(&store, &user, t0(), 30 * DAY, DAY).await;
    assert!(
        store
            .revoke_session_family(&revoked.session_id)
            .await
            .unwrap()
    );

    let (over, still) = (
        SessionId::from_secret(b"over"),
        SessionId::from_secret(b"still"),
    );
    store.revoke_sid(&over, t0(), t0() + HOUR).await.unwrap();
    store.revoke_sid(&still, now, now + HOUR).await.unwrap();

    // A TOTP step forgotten by now, and one still remembered.
    let forgotten = UserId::new();
    assert!(
        store
            .accept_step(&forgotten, 1, t0(), MINUTE)
            .await
            .unwrap()
    );
    assert!(store.accept_step(&user.id, 2, now, MINUTE).await.unwrap());
    assert!(store.use_once("spent", t0(), t0() + MINUTE).await.unwrap());
    assert!(
        store
            .use_once("remembered", now, now + MINUTE)
            .await
            .unwrap()
    );
    // A passkey ceremony never finished, and one still running.
    let (abandoned, running) = (CeremonyId::generate(), CeremonyId::generate());
    for (id, begun) in [(&abandoned, t0()), (&running, now)] {
        store
            .save_ceremony(Ceremony {
                id: id.clone(),
                kind: CeremonyKind::SignIn,
                user_id: None,
                binding: None,
                state: b"{}".to_vec(),
                created_at: begun,
                expires_at: begun + 5 * MINUTE,
            })
            .await
            .unwrap();
    }

    // An authorization code a day past its expiry, and one that expired an hour ago (kept:
    // a replay of it still ends what it opened).
    let client = crate::oauth::NewClient {
        name: "Purged".into(),
        auth_method: crate::oauth::ClientAuthMethod::None,
        redirect_uris: vec!["https://app.example.com/cb".into()],
        grant_types: vec![crate::oauth::GrantType::AuthorizationCode],
        scopes: crate::authz::ScopeSet::new(),
        first_party: false,
        audience: None,
        id_token_alg: None,
        post_logout_redirect_uris: Vec::new(),
        require_par: false,
        jwks: None,
        jwks_uri: None,
    }
    .register(t0())
    .unwrap()
    .client;
    crate::store::ClientStore::create_client(&store, client.clone())
        .await
        .unwrap();
    for expires_at in [now - DAY - HOUR, now - HOUR] {
        crate::store::GrantStore::save_code(
            &store,
            crate::oauth::AuthorizationCode {
                hash: random_hash(),
                client_id: client.id.clone(),
                user_id: user.id,
                redirect_uri: "https://app.example.com/cb".into(),
                scope: crate::authz::ScopeSet::new(),
                nonce: None,
                code_challenge: None,
                amr: Amr::Password,
                auth_time: t0(),
                epoch: 0,
                created_at: expires_at - MINUTE,
                expires_at,
            },
        )
        .await
        .unwrap();
    }
    // A pushed request goes at its expiry.
    for expires_at in [now - MINUTE, now + MINUTE] {
        crate::store::GrantStore::push_request(
            &store,
            crate::oauth::PushedRequest {
                hash: random_hash(),
                client_id: client.id.clone(),
                params: [("client_id".to_owned(), client.id.to_string())].into(),
                expires_at,
            },
        )
        .await
        .unwrap();
    }

    let report = store.purge_expired(now).await.unwrap();
    assert_eq!(count(&store, "auth_oauth_codes").await, 1);
    assert_eq!(count(&store, "auth_oauth_pushed_requests").await, 1);
    assert_eq!(
        report.deleted,
        Deleted {
            sessions: 1,
            refresh_families: 2,
            refresh_tokens: 3,
            revoked_sessions: 1,
            totp_steps: 1,
            used_once: 1,
            intents: 0,
            passkey_ceremonies: 1,
            oauth_codes: 1,
            oauth_pushed_requests: 1,
            audit_events: 0,
            throttle_records: 0,
        }
    );
    assert!(
        !store
            .use_once("remembered", now, now + MINUTE)
            .await
            .unwrap()
    );
    assert_eq!(count(&store, "auth_sessions").await, 1);
    assert_eq!(count(&store, "auth_refresh_families").await, 2);
    assert_eq!(count(&store, "auth_refresh_tokens").await, 2);
    assert_eq!(count(&store, "auth_revoked_sessions").await, 1);
    assert_eq!(store.session(&live.id, now).await.unwrap(), Some(live));
    assert!(store.is_sid_revoked(&still, now).await.unwrap());
    assert!(store.take_ceremony(&running, now).await.unwrap().is_some());
    let replay = RefreshTokenRecord {
        hash: random_hash(),
        issued_at: now,
        idle_expires_at: now + DAY,
    };
    assert_eq!(
        store
            .rotate(&spent.hash, replay, now, Duration::ZERO)
            .await
            .unwrap(),
        Rotation::Reused(rotated),
        "a spent token of a live family is still recognised"
    );
    assert_eq!(
        store.purge_expired(now).await.unwrap().deleted,
        Deleted {
            refresh_families: 1,
            refresh_tokens: 2,
            ..Deleted::default()
        },
        "the family revoked for reuse goes at the next purge"
    );
}

/// A migrated schema with one account, and a time ten hours after [`t0`].
async fn purge_world() -> Option<(TestSchema, PostgresStore, User, SystemTime)> {
    let schema = TestSchema::create().await?;
    let store = schema.migrated_store().await;
    let user = new_user(&store).await;
    Some((schema, store, user, t0() + 10 * HOUR))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_works_in_batches_and_leaves_the_live_rows() {
    let Some((_schema, store, user, now)) = purge_world().await else {
        return;
    };
    for _ in 0..25 {
        let ended = session_of(&user, t0(), HOUR, DAY);
        store.create_session(ended).await.unwrap();
    }
    let live = session_of(&user, now, HOUR, DAY);
    store.create_session(live.clone()).await.unwrap();
    for _ in 0..7 {
        family_of(&store, &user, t0(), 2 * HOUR, HOUR).await;
    }

    let options = PurgeOptions {
        batch_size: 4,
        ..PurgeOptions::default()
    };
    let report = store.purge_expired_with(now, &options).await.unwrap();
    assert_eq!(
        (report.deleted.sessions, report.deleted.refresh_families),
        (25, 7)
    );
    assert_eq!(report.deleted.refresh_tokens, 7);
    // 25 sessions at 4 a statement take 7, the 7 families 2, and each other table one.
    assert!(report.statements >= 7 + 2 + 4, "{report:?}");
    assert!(report.longest_statement > Duration::ZERO);
    assert_eq!(count(&store, "auth_sessions").await, 1);
    assert_eq!(store.session(&live.id, now).await.unwrap(), Some(live));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_keeps_audit_events_for_their_retention_and_throttle_counters_for_their_window() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema.migrated_store().await;
    let now = t0() + 100 * DAY;
    for at in [t0(), now - 10 * DAY, now - HOUR] {
        store
            .record(AuthEvent {
                at,
                kind: AuthEventKind::MfaFailed,
                user_id: None,
                session_id: None,
                client: None,
            })
            .await
            .unwrap();
    }
    store.reserve_attempt("old", t0(), HOUR, 5).await.unwrap();
    store.reserve_attempt("recent", now, HOUR, 5).await.unwrap();

    let kept = store.purge_expired(now).await.unwrap();
    assert_eq!(
        kept.deleted,
        Deleted::default(),
        "no retention: every event stays"
    );
    assert_eq!(count(&store, "auth_audit_events").await, 3);

    let options = PurgeOptions {
        audit_retention: Some(30 * DAY),
        throttle_window: Some(HOUR),
        ..PurgeOptions::default()
    };
    let report = store.purge_expired_with(now, &options).await.unwrap();
    assert_eq!(
        report.deleted,
        Deleted {
            audit_events: 1,
            throttle_records: 1,
            ..Deleted::default()
        }
    );
    assert_eq!(count(&store, "auth_audit_events").await, 2);
    assert!(
        store
            .throttle_record("recent", now, HOUR)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_skips_rows_a_request_holds_and_deletes_them_at_the_next_run() {
    let Some((schema, store, user, now)) = purge_world().await else {
        return;
    };
    let held = session_of(&user, t0(), HOUR, DAY);
    let free = session_of(&user, t0(), HOUR, DAY);
    for session in [&held, &free] {
        store.create_session(session.clone()).await.unwrap();
    }
    // Another connection holds the first session's row in an open transaction.
    let holder = admin_client(secrecy::ExposeSecret::expose_secret(&schema.config().url))
        .await
        .unwrap();
    holder.batch_execute("BEGIN").await.unwrap();
    holder
        .execute(
            "SELECT 1 FROM auth_sessions WHERE id = $1 FOR UPDATE",
            &[&held.id.as_str()],
        )
        .await
        .unwrap();

    let started = Instant::now();
    let report = tokio::time::timeout(Duration::from_secs(10), store.purge_expired(now))
        .await
        .expect("the purge waited on a row a request holds")
        .unwrap();
    assert_eq!(report.deleted.sessions, 1, "the free session went");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(count(&store, "auth_sessions").await, 1);

    holder.batch_execute("COMMIT").await.unwrap();
    let report = store.purge_expired(now).await.unwrap();
    assert_eq!(
        report.deleted.sessions, 1,
        "the held session goes once released"
    );
    assert_eq!(count(&store, "auth_sessions").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_at_a_time_purges_under_the_lock() {
    let Some((schema, store, user, now)) = purge_world().await else {
        return;
    };
    store
        .create_session(session_of(&user, t0(), HOUR, DAY))
        .await
        .unwrap();
    // Another instance is purging: it holds the lock on its connection.
    let other = admin_client(secrecy::ExposeSecret::expose_secret(&schema.config().url))
        .await
        .unwrap();
    let taken: bool = other
        .query_one(
            "SELECT pg_try_advisory_lock($1, hashtext(coalesce(current_schema(), '')))",
            &[&(LOCK_CLASS + 1)],
        )
        .await
        .unwrap()
        .get(0);
    assert!(taken);
    let options = PurgeOptions::default();
    assert_eq!(store.try_purge_expired(now, &options).await.unwrap(), None);
    assert_eq!(count(&store, "auth_sessions").await, 1);

    drop(other);
    let report = wait_for_lock(&store, now, &options).await;
    assert_eq!(report.deleted.sessions, 1);
    // The lock went with the purge's connection: the next call purges again.
    assert!(
        store
            .try_purge_expired(now, &options)
            .await
            .unwrap()
            .is_some()
    );
}

/// The purge under the lock, once the lock's holder (a connection just closed) has gone.
async fn wait_for_lock(
    store: &PostgresStore,
    now: SystemTime,
    options: &PurgeOptions,
) -> super::PurgeReport {
    for _ in 0..100 {
        if let Some(report) = store.try_purge_expired(now, options).await.unwrap() {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the purge lock was not released within 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn times_far_from_now_are_stored_and_compared() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema.migrated_store().await;
    let key = format!("far:{}", UserId::new());
    for (failures, window) in [(1, Duration::MAX), (2, Duration::from_secs(1 << 50))] {
        let record = store.reserve_attempt(&key, t0(), window, 5).await.unwrap();
        assert_eq!(record.failures, failures);
        assert!(
            store
                .throttle_record(&key, t0(), window)
                .await
                .unwrap()
                .is_some()
        );
    }
    let user = new_user(&store).await;
    let ages = Duration::from_secs(1 << 50);
    let forever = session_of(&user, t0(), ages, ages);
    store.create_session(forever.clone()).await.unwrap();
    assert!(
        store
            .session(&forever.id, t0() + 1000 * DAY)
            .await
            .unwrap()
            .is_some()
    );
    let options = PurgeOptions {
        throttle_window: Some(MINUTE),
        ..PurgeOptions::default()
    };
    let report = store
        .purge_expired_with(t0() + HOUR, &options)
        .await
        .unwrap();
    assert_eq!(report.deleted.throttle_records, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_events_are_written() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema.migrated_store().await;
    let user = UserId::new();
    let session = SessionId::from_secret(b"session");
    let client: IpAddr = "192.0.2.7".parse().unwrap();
    let kinds = [
        AuthEventKind::Registered,
        AuthEventKind::LoginFailed {
            reason: LoginFailure::WrongPassword,
        },
        AuthEventKind::RefreshReuseDetected {
            family: FamilyId::new(),
        },
    ];
    for kind in kinds {
        let event = AuthEvent {
            at: t0(),
            kind,
            user_id: Some(user),
            session_id: Some(session.clone()),
            client: Some(client),
        };
        store.record(event).await.unwrap();
    }
    let anonymous = AuthEvent {
        at: t0(),
        kind: AuthEventKind::MfaFailed,
        user_id: None,
        session_id: None,
        client: None,
    };
    store.record(anonymous).await.unwrap();

    assert_eq!(count(&store, "auth_audit_events").await, 4);
    let rows = store
        .client()
        .await
        .unwrap()
        .query(
            "SELECT name, detail, user_id, session_id, client, at FROM auth_audit_events \
             ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let names: Vec<&str> = rows.iter().map(|row| row.get("name")).collect();
    assert_eq!(
        names,
        [
            "registered",
            "login_failed",
            "refresh_reuse_detected",
            "mfa_failed"
        ]
    );
    let detail: &str = rows[1].get("detail");
    assert_eq!(detail, "LoginFailed { reason: WrongPassword }");
    assert_eq!(
        rows[0].get::<_, Option<uuid::Uuid>>("user_id"),
        Some(user.as_uuid())
    );
    assert_eq!(
        rows[0].get::<_, Option<&str>>("session_id"),
        Some(session.as_str())
    );
    assert_eq!(rows[0].get::<_, Option<IpAddr>>("client"), Some(client));
    assert_eq!(rows[0].get::<_, SystemTime>("at"), t0());
    assert_eq!(rows[3].get::<_, Option<uuid::Uuid>>("user_id"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_answers_when_the_database_does() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    schema.store().ping(Duration::from_secs(2)).await.unwrap();
}

/// A store on a local port with nothing behind it.
fn store_on_closed_port() -> PostgresStore {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    PostgresStore::connect(&PostgresConfig::from_url(format!(
        "postgres://postgres@127.0.0.1:{port}/test"
    )))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_reports_a_closed_port_as_unavailable_within_the_timeout() {
    let store = store_on_closed_port();
    let started = Instant::now();
    let refused = store.ping(Duration::from_secs(2)).await;
    assert!(matches!(refused, Err(Error::Unavailable(_))), "{refused:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_gives_up_on_a_server_that_never_answers() {
    // Connections are accepted by the kernel and then never answered.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let config = PostgresConfig {
        connect_timeout: Duration::from_secs(30),
        ..PostgresConfig::from_url(format!("postgres://postgres@127.0.0.1:{port}/test"))
    };
    let store = PostgresStore::connect(&config).unwrap();
    let started = Instant::now();
    let refused = store.ping(Duration::from_millis(300)).await;
    assert!(matches!(refused, Err(Error::Unavailable(_))), "{refused:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(silent);
}

#[test]
fn a_bad_configuration_is_refused_before_connecting() {
    let zero = PostgresConfig {
        max_connections: 0,
        ..PostgresConfig::from_url("postgres://postgres@127.0.0.1/test")
    };
    assert!(matches!(
        PostgresStore::connect(&zero),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        PostgresStore::connect(&PostgresConfig::from_url("postgres://host:notaport/db")),
        Err(Error::Config(_))
    ));
}

#[test]
fn the_configuration_does_not_show_the_password() {
    let config = PostgresConfig::from_url("postgres://auth:hunter2@db/auth");
    assert!(!format!("{config:?}").contains("hunter2"));
}

#[cfg(any(feature = "jwt", feature = "paseto"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authenticator_runs_on_postgres_alone() {
    use secrecy::{ExposeSecret, SecretString};

    use crate::flows::{Authenticator, AuthenticatorConfig, LoginOutcome, Stores};
    use crate::token::{Algorithm, Key, KeySet};

    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema.migrated_store().await;
    let stores = Stores::postgres(store.clone());
    let keys = KeySet::new(Key::generate(Algorithm::EdDsa).unwrap()).unwrap();
    let config = AuthenticatorConfig::new("https://auth.example.com", "api");
    let auth = Authenticator::builder(keys, config)
        .stores(stores)
        .build()
        .unwrap();

    let password = SecretString::from("correct horse battery staple");
    auth.register("ada@example.com", &password).await.unwrap();
    let wrong = SecretString::from("not the password at all");
    let refused = auth.login("ada@example.com", &wrong, None).await;
    assert!(
        matches!(refused, Err(Error::InvalidCredentials)),
        "{refused:?}"
    );
    let LoginOutcome::Authenticated(first) = auth
        .login("ada@example.com", &password, None)
        .await
        .unwrap()
    else {
        panic!("no second factor is enrolled");
    };
    let second = auth
        .refresh(first.refresh_token.expose_secret(), None)
        .await
        .unwrap();
    auth.authenticate(second.access_token.expose_secret())
        .await
        .unwrap();
    // The client goes on with its new token; the old one presented after that is reuse,
    // however soon.
    let third = auth
        .refresh(second.refresh_token.expose_secret(), None)
        .await
        .unwrap();

    let reused = auth
        .refresh(first.refresh_token.expose_secret(), None)
        .await;
    assert!(matches!(reused, Err(Error::TokenReused)), "{reused:?}");
    let after_reuse = auth
        .refresh(third.refresh_token.expose_secret(), None)
        .await;
    assert!(after_reuse.is_err(), "the family is revoked");
    assert!(count(&store, "auth_audit_events").await >= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_stored_without_auth_time_counts_from_its_login() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema.migrated_store().await;
    let user = new_user(&store).await;
    let session = Session {
        auth_time: t0() + MINUTE,
        ..session_of(&user, t0(), HOUR, DAY)
    };
    store.create_session(session.clone()).await.unwrap();
    assert_eq!(
        store.session(&session.id, t0()).await.unwrap(),
        Some(session.clone())
    );
    // As a release before step-up stored it.
    let client = store.client().await.unwrap();
    client
        .execute("UPDATE auth_sessions SET auth_time = NULL", &[])
        .await
        .unwrap();
    let read = store.session(&session.id, t0()).await.unwrap().unwrap();
    assert_eq!(read.auth_time, session.created_at);
    let touched = store
        .touch_session(&session.id, t0() + MINUTE, t0() + HOUR)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(touched.auth_time, session.created_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_reports_its_occupancy_and_counts_the_calls_that_gave_up_waiting() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let config = PostgresConfig {
        wait_timeout: Duration::from_millis(200),
        ..schema.config_with(1)
    };
    let store = PostgresStore::connect(&config).unwrap();
    store.ping(Duration::from_secs(5)).await.unwrap();
    let idle = store.pool_status();
    assert_eq!(
        (idle.max_connections, idle.open, idle.idle, idle.timeouts),
        (1, 1, 1, 0)
    );

    let held = store.client().await.unwrap();
    let busy = store.pool_status();
    assert_eq!((busy.open, busy.idle), (1, 0));
    let refused = store.ping(Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(refused, Error::Unavailable(_)), "{refused:?}");
    assert_eq!(store.pool_status().timeouts, 1);
    drop(held);
    store.ping(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        store.pool_status().timeouts,
        1,
        "only the call that gave up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_deletes_expired_intents_and_keeps_live_ones() {
    use crate::intent::{Intent, IntentId, IntentKey, Purpose};
    use crate::store::IntentStore;
    let Some((_schema, store, user, _)) = purge_world().await else {
        return;
    };
    let issue = |purpose: Purpose| Intent {
        id: IntentId::new(),
        user_id: user.id,
        purpose,
        secret_hash: random_hash(),
        code: false,
        epoch: 0,
        target: None,
        created_at: t0(),
        expires_at: t0() + purpose.default_lifetime(),
    };
    let (code, verify) = (issue(Purpose::LoginCode), issue(Purpose::VerifyEmail));
    for intent in [&code, &verify] {
        store.issue_intent(intent.clone()).await.unwrap();
    }
    let report = store.purge_expired(t0() + HOUR).await.unwrap();
    assert_eq!(report.deleted.intents, 1, "the code's ten minutes are over");
    let key = IntentKey::Link(verify.secret_hash);
    assert_eq!(
        store
            .find_intent(Purpose::VerifyEmail, &key, t0() + HOUR)
            .await
            .unwrap(),
        Some(verify)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_goes_once_its_sinks_report_delivered_even_at_the_same_moment() {
    use crate::outbox::{MessageId, OutboxMessage};
    use crate::store::OutboxStore;
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = Arc::new(schema.migrated_store().await);
    let sinks = ["mail".to_owned(), "events".to_owned()];
    for n in 0..20 {
        let message = OutboxMessage {
            id: MessageId::new(),
            kind: "test".into(),
            payload: serde_json::json!({ "n": n }),
            sinks: sinks.to_vec(),
            created_at: t0(),
        };
        store.enqueue(message.clone()).await.unwrap();
        // Both sinks report at once.
        let reports: Vec<_> = sinks
            .iter()
            .map(|sink| {
                let (store, sink, id) = (store.clone(), sink.clone(), message.id);
                tokio::spawn(async move { store.delivered(&id, &sink, t0()).await })
            })
            .collect();
        for report in reports {
            report.await.unwrap().unwrap();
        }
    }
    assert_eq!(count(&store, "auth_outbox").await, 0, "every message went");
    assert_eq!(count(&store, "auth_outbox_deliveries").await, 0);
}
