//! The limits under concurrency, on every backend: hundreds of attempts at once on one account,
//! counted where the work happens (the password hasher and the TOTP checker, through the
//! observer), not by the answers. A check-then-record throttle lets every attempt of a burst
//! through; reserving first lets through no more than the policy allows.

// Helpers panic on failure, like the tests that call them.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use secrecy::{ExposeSecret, SecretString};

use super::*;
use crate::mfa::{TotpSecret, code_at};
use crate::testing;
use crate::throttle::ThrottlePolicy;

const PASSWORD: &str = "correct horse battery staple";
const ATTACKER: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 66)));

/// Counts what reached the password hasher and the TOTP checker.
#[derive(Debug, Default)]
struct Evaluations {
    passwords: AtomicUsize,
    totp_codes: AtomicUsize,
}

impl AuthObserver for Evaluations {
    fn password_hashed(&self, _elapsed: std::time::Duration) {
        self.passwords.fetch_add(1, Ordering::SeqCst);
    }

    fn second_factor_checked(&self) {
        self.totp_codes.fetch_add(1, Ordering::SeqCst);
    }
}

impl Evaluations {
    fn passwords(&self) -> usize {
        self.passwords.load(Ordering::SeqCst)
    }

    fn totp_codes(&self) -> usize {
        self.totp_codes.load(Ordering::SeqCst)
    }
}

/// An authenticator over `stores` that reports to a fresh counter. The hashing queue is
/// large enough that no attempt of a burst is turned away as busy: only the throttle limits.
fn counted(stores: Stores) -> (Authenticator, Arc<Evaluations>) {
    let evaluations = Arc::new(Evaluations::default());
    let mut config = testing::authenticator_config();
    config.passwords.max_queued_hashes = 10_000;
    let auth = testing::authenticator_builder(config)
        .stores(stores)
        .clock(testing::clock())
        .observer(evaluations.clone())
        .build()
        .unwrap();
    (auth, evaluations)
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

/// Runs `n` copies of `attempt` at once, each on a task of its own.
async fn burst<F, Fut>(n: usize, attempt: F) -> Vec<Result<()>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(attempt(i))).collect();
    let mut results = Vec::with_capacity(n);
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

/// The answers are refusals: wrong credentials, throttled, or a spent challenge.
fn all_refused(results: &[Result<()>]) {
    for result in results {
        match result {
            Err(Error::InvalidCredentials | Error::Throttled { .. }) => {}
            Err(Error::InvalidToken(TokenRejection::NotActive)) => {}
            other => panic!("unexpected answer to a wrong credential: {other:?}"),
        }
    }
}

/// An account with TOTP on, its secret, and a challenge from a password login.
async fn account_with_totp(auth: &Authenticator, email: &str) -> TotpSecret {
    auth.register(email, &secret(PASSWORD)).await.unwrap();
    let LoginOutcome::Authenticated(tokens) =
        auth.login(email, &secret(PASSWORD), None).await.unwrap()
    else {
        panic!("no second factor yet")
    };
    let principal = auth
        .authenticate(tokens.access_token.expose_secret())
        .await
        .unwrap();
    let enrollment = auth.enroll_totp(&principal).await.unwrap();
    let totp = TotpSecret::from_base32(enrollment.secret.expose_secret()).unwrap();
    auth.confirm_totp(&principal, &current_code(&totp), None)
        .await
        .unwrap();
    totp
}

/// The fixture time, in the seconds TOTP counts.
fn now() -> i64 {
    crate::clock::unix_seconds(testing::now())
}

fn current_code(totp: &TotpSecret) -> String {
    code_at(totp, &Default::default(), now()).unwrap()
}

/// A code that is not the current one, nor one either side of it.
fn wrong_code(totp: &TotpSecret) -> String {
    let params = Default::default();
    let near: Vec<String> = [-30_i64, 0, 30]
        .iter()
        .map(|offset| code_at(totp, &params, now() + offset).unwrap())
        .collect();
    (0..)
        .map(|n: u32| format!("{:06}", (n * 7919) % 1_000_000))
        .find(|code| !near.contains(code))
        .unwrap()
}

async fn mfa_challenge(auth: &Authenticator, email: &str, client: Option<IpAddr>) -> String {
    match auth.login(email, &secret(PASSWORD), client).await.unwrap() {
        LoginOutcome::MfaRequired { mfa_token, .. } => mfa_token.expose_secret().to_owned(),
        LoginOutcome::Authenticated(_) => panic!("expected a second-factor challenge"),
    }
}

/// 200 wrong passwords at once from one address: only the strict policy's free attempts (six)
/// reach the hasher. From 200 addresses, only the account-wide ceiling's (51).
async fn a_password_burst_is_checked_no_more_than_the_policy_allows(stores: Stores) {
    let (auth, evaluations) = counted(stores);
    auth.register("burst@example.com", &secret(PASSWORD))
        .await
        .unwrap();
    let registered = evaluations.passwords();

    let results = burst(200, |_| {
        let auth = auth.clone();
        async move {
            auth.login("burst@example.com", &secret("wrong guess"), ATTACKER)
                .await
                .map(drop)
        }
    })
    .await;
    all_refused(&results);
    let strict = ThrottlePolicy::per_account().free_failures() as usize + 1;
    let checked = evaluations.passwords() - registered;
    eprintln!("passwords checked: {checked} of 200 from one address");
    assert!(
        (1..=strict).contains(&checked),
        "{checked} of 200 passwords from one address were checked (allowed: {strict})"
    );

    auth.register("spread@example.com", &secret(PASSWORD))
        .await
        .unwrap();
    let before = evaluations.passwords();
    let results = burst(200, |i| {
        let auth = auth.clone();
        let client = IpAddr::V4(Ipv4Addr::new(198, 51, (i / 250) as u8, (i % 250) as u8));
        async move {
            auth.login("spread@example.com", &secret("wrong guess"), Some(client))
                .await
                .map(drop)
        }
    })
    .await;
    all_refused(&results);
    let ceiling = ThrottlePolicy::account_ceiling().free_failures() as usize + 1;
    let checked = evaluations.passwords() - before;
    eprintln!("passwords checked: {checked} of 200 from 200 addresses");
    assert!(
        (1..=ceiling).contains(&checked),
        "{checked} of 200 passwords from 200 addresses were checked (allowed: {ceiling})"
    );
}

/// 1,000 wrong TOTP codes at once on one challenge: the challenge's budget (five) is all that
/// reaches the checker, and the right code sent after them is refused. Then 50 challenges,
/// one wrong code each, at once: the user's strict limit (six) holds across challenges.
async fn a_totp_burst_is_checked_no_more_than_the_policy_allows(stores: Stores) {
    let (auth, evaluations) = counted(stores);
    let totp = account_with_totp(&auth, "totp@example.com").await;
    let challenge = mfa_challenge(&auth, "totp@example.com", ATTACKER).await;
    let wrong = wrong_code(&totp);
    let before = evaluations.totp_codes();

    let results = burst(1_000, |_| {
        let (auth, challenge, wrong) = (auth.clone(), challenge.clone(), wrong.clone());
        async move {
            auth.verify_mfa(&challenge, &wrong, ATTACKER)
                .await
                .map(drop)
        }
    })
    .await;
    all_refused(&results);
    let budget = ThrottlePolicy::per_challenge().lockout_after() as usize;
    let checked = evaluations.totp_codes() - before;
    eprintln!("TOTP codes checked: {checked} of 1,000 on one challenge");
    assert!(
        (1..=budget).contains(&checked),
        "{checked} of 1,000 codes on one challenge were checked (allowed: {budget})"
    );
    let right = auth
        .verify_mfa(&challenge, &current_code(&totp), ATTACKER)
        .await;
    assert!(
        matches!(right, Err(Error::InvalidToken(TokenRejection::NotActive))),
        "the right code after the burst: {right:?}"
    );

    let totp = account_with_totp(&auth, "many@example.com").await;
    let mut challenges = Vec::new();
    for i in 0..50 {
        let client = IpAddr::V4(Ipv4Addr::new(192, 0, 2, i));
        challenges.push((
            mfa_challenge(&auth, "many@example.com", Some(client)).await,
            client,
        ));
    }
    let wrong = wrong_code(&totp);
    let before = evaluations.totp_codes();
    let challenges = Arc::new(challenges);
    let results = burst(50, |i| {
        let (auth, challenges, wrong) = (auth.clone(), challenges.clone(), wrong.clone());
        async move {
            let (challenge, client) = &challenges[i];
            auth.verify_mfa(challenge, &wrong, Some(*client))
                .await
                .map(drop)
        }
    })
    .await;
    all_refused(&results);
    let strict = ThrottlePolicy::per_account().free_failures() as usize + 1;
    let checked = evaluations.totp_codes() - before;
    eprintln!("TOTP codes checked: {checked} of 50 on 50 challenges");
    assert!(
        (1..=strict).contains(&checked),
        "{checked} of 50 codes on 50 challenges were checked (allowed: {strict})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_password_burst_on_memory_is_limited() {
    a_password_burst_is_checked_no_more_than_the_policy_allows(Stores::memory()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_totp_burst_on_memory_is_limited() {
    a_totp_burst_is_checked_no_more_than_the_policy_allows(Stores::memory()).await;
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use crate::store::postgres::tests::TestSchema;

    /// Every store in PostgreSQL, through a pool of sixteen connections.
    async fn stores() -> Option<(Stores, TestSchema)> {
        let schema = TestSchema::create().await?;
        let store = schema.migrated_store_with(16).await;
        Some((Stores::postgres(store), schema))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_password_burst_on_postgres_is_limited() {
        let Some((stores, _schema)) = stores().await else {
            return;
        };
        a_password_burst_is_checked_no_more_than_the_policy_allows(stores).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_totp_burst_on_postgres_is_limited() {
        let Some((stores, _schema)) = stores().await else {
            return;
        };
        a_totp_burst_is_checked_no_more_than_the_policy_allows(stores).await;
    }

    #[cfg(feature = "redis")]
    mod with_redis {
        use super::*;
        use crate::store::redis::tests::Fixture;

        /// PostgreSQL (sixteen connections) for the durable data, Redis for the counters.
        async fn stores() -> Option<(Stores, TestSchema, Fixture)> {
            let schema = TestSchema::create().await?;
            let redis = Fixture::with_pool(16).await?;
            let store = schema.migrated_store_with(16).await;
            let stores = Stores::postgres_with_redis(store, redis.store.clone());
            Some((stores, schema, redis))
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn a_password_burst_on_postgres_and_redis_is_limited() {
            let Some((stores, _schema, _redis)) = stores().await else {
                return;
            };
            a_password_burst_is_checked_no_more_than_the_policy_allows(stores).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn a_totp_burst_on_postgres_and_redis_is_limited() {
            let Some((stores, _schema, _redis)) = stores().await else {
                return;
            };
            a_totp_burst_is_checked_no_more_than_the_policy_allows(stores).await;
        }
    }
}
