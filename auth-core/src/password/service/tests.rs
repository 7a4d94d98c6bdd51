#![allow(clippy::unwrap_used)]

use async_trait::async_trait;

use super::*;
use crate::password::breached::BreachList;

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn service() -> PasswordService {
    PasswordService::new(PasswordConfig::default()).unwrap()
}

#[derive(Debug)]
struct Unreachable;

#[async_trait]
impl BreachedPasswordCheck for Unreachable {
    async fn is_breached(&self, _: &NormalizedPassword) -> Result<bool> {
        Err(Error::Unavailable("connection refused".into()))
    }
}

#[tokio::test]
async fn a_new_password_hashes_and_verifies() {
    let service = service();
    let stored = service
        .hash_new_password(&secret("correct horse battery staple"), &[])
        .await
        .unwrap();
    assert_eq!(
        service
            .verify(&secret("correct horse battery staple"), &stored)
            .await
            .unwrap(),
        Verification::Valid {
            needs_rehash: false
        }
    );
    assert_eq!(
        service
            .verify(&secret("wrong horse battery staple"), &stored)
            .await
            .unwrap(),
        Verification::Invalid
    );
    assert_eq!(service.hashes_in_flight(), 0);
}

#[tokio::test]
async fn a_short_password_is_refused_before_any_hashing() {
    let error = service()
        .hash_new_password(&secret("short"), &[])
        .await
        .unwrap_err();
    assert_eq!(error.code(), "weak_password");
    assert!(matches!(
        error,
        Error::WeakPassword(PasswordRejection::TooShort { min: 12 })
    ));
}

#[tokio::test]
async fn an_overlong_password_is_refused_with_weak_password() {
    let error = service()
        .hash_new_password(&secret(&"a".repeat(100_000)), &[])
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        Error::WeakPassword(PasswordRejection::TooLong { max: 128 })
    ));
}

#[tokio::test]
async fn a_breached_password_is_refused_and_others_pass() {
    let list = Arc::new(BreachList::from_passwords(["listed passphrase"]));
    let service = PasswordService::with_breach_check(PasswordConfig::default(), list).unwrap();
    let error = service
        .hash_new_password(&secret("listed passphrase"), &[])
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        Error::WeakPassword(PasswordRejection::Breached)
    ));
    assert!(
        service
            .hash_new_password(&secret("listed passphrase!"), &[])
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn common_passwords_and_ones_built_on_context_words_are_refused_by_default() {
    let config = PasswordConfig {
        context_words: vec!["Orbitron".into()],
        ..PasswordConfig::default()
    };
    let service = PasswordService::new(config.clone()).unwrap();
    let refused = |password: &'static str, context: &'static [&'static str]| {
        let service = service.clone();
        async move {
            match service.check_new_password(&secret(password), context).await {
                Err(Error::WeakPassword(rejection)) => Some(rejection),
                _ => None,
            }
        }
    };
    assert_eq!(
        refused("Password1234", &[]).await,
        Some(PasswordRejection::Common)
    );
    assert_eq!(
        refused("grace.hopper1906", &["grace.hopper"]).await,
        Some(PasswordRejection::ContextSpecific)
    );
    assert_eq!(
        refused("orbitron2024!!", &[]).await,
        Some(PasswordRejection::ContextSpecific)
    );
    assert_eq!(
        refused("grace hopper wrote the first compiler", &["grace.hopper"]).await,
        None
    );
    // The common list can be turned off, for an operator with a list of their own.
    let without = PasswordService::new(PasswordConfig {
        refuse_common_passwords: false,
        ..config
    })
    .unwrap();
    assert!(
        without
            .check_new_password(&secret("password1234"), &[])
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_unavailable_breach_check_follows_the_configured_policy() {
    let allow =
        PasswordService::with_breach_check(PasswordConfig::default(), Arc::new(Unreachable))
            .unwrap();
    assert!(
        allow
            .check_new_password(&secret("perfectly fine password"), &[])
            .await
            .is_ok()
    );

    let config = PasswordConfig {
        on_breach_check_failure: BreachCheckFailure::Refuse,
        ..PasswordConfig::default()
    };
    let refuse = PasswordService::with_breach_check(config, Arc::new(Unreachable)).unwrap();
    let error = refuse
        .check_new_password(&secret("perfectly fine password"), &[])
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        Error::WeakPassword(PasswordRejection::BreachCheckUnavailable)
    ));
}

#[tokio::test]
async fn rehash_upgrades_a_legacy_hash_without_the_policy() {
    let service = service();
    let legacy = bcrypt::hash("short", 4).unwrap();
    let verification = service.verify(&secret("short"), &legacy).await.unwrap();
    assert_eq!(verification, Verification::Valid { needs_rehash: true });
    let upgraded = service.rehash(&secret("short")).await.unwrap();
    assert!(upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    assert_eq!(
        service.verify(&secret("short"), &upgraded).await.unwrap(),
        Verification::Valid {
            needs_rehash: false
        }
    );
}

#[tokio::test]
async fn unknown_accounts_verify_against_a_dummy_hash_at_the_configured_parameters() {
    let service = service();
    assert_eq!(
        service
            .verify_unknown_account(&secret("any password at all"))
            .await
            .unwrap(),
        Verification::Invalid
    );
    let dummy = service.inner.dummy_hash.get().unwrap();
    assert!(
        dummy.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{dummy}"
    );
    assert!(!hash::needs_rehash(service.config().argon2, dummy).unwrap());
}

#[tokio::test]
async fn a_corrupt_stored_hash_is_an_error_not_a_panic() {
    let error = service()
        .verify(&secret("whatever"), "$argon2id$garbage")
        .await
        .unwrap_err();
    assert_eq!(error.code(), "invalid_hash");
}

#[test]
fn zero_concurrent_hashes_is_a_config_error() {
    let config = PasswordConfig {
        max_concurrent_hashes: 0,
        ..PasswordConfig::default()
    };
    assert!(matches!(
        PasswordService::new(config),
        Err(Error::Config(_))
    ));
}

#[test]
fn a_hash_thread_niceness_above_19_is_a_config_error() {
    let config = |hash_thread_niceness| PasswordConfig {
        hash_thread_niceness,
        ..PasswordConfig::default()
    };
    assert!(matches!(
        PasswordService::new(config(20)),
        Err(Error::Config(_))
    ));
    assert!(PasswordService::new(config(19)).is_ok());
    assert!(PasswordService::new(config(0)).is_ok());
    assert_eq!(PasswordConfig::default().hash_thread_niceness, 0);
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "current_thread")]
async fn hashing_threads_run_at_the_configured_niceness() {
    let niceness = || rustix::process::getpriority_process(Some(rustix::thread::gettid()));
    let before = niceness().unwrap();
    for (configured, expected) in [(0, before), (7, before.max(7)), (10, before.max(10))] {
        let service = service_with(PasswordConfig {
            hash_thread_niceness: configured,
            ..PasswordConfig::default()
        });
        let seen = service.inner.pool.run(niceness).await.unwrap().unwrap();
        assert_eq!(seen, expected, "configured {configured}");
    }
}

#[tokio::test]
async fn hashing_beyond_pool_and_queue_answers_busy() {
    let config = PasswordConfig {
        max_concurrent_hashes: 1,
        max_queued_hashes: 0,
        ..PasswordConfig::default()
    };
    let service = service_with(config);
    let password = secret("correct horse battery staple");
    // Two hashes at once against a capacity of one: exactly one is admitted.
    let (a, b) = tokio::join!(service.rehash(&password), service.rehash(&password));
    let busy = [&a, &b]
        .iter()
        .filter(|r| matches!(r, Err(Error::Busy)))
        .count();
    assert_eq!(busy, 1, "{a:?} {b:?}");
    assert_eq!(Error::Busy.code(), "busy");
}

#[tokio::test]
async fn a_saturated_service_refuses_early_and_counts_it() {
    let service = service_with(PasswordConfig {
        max_concurrent_hashes: 1,
        max_queued_hashes: 0,
        ..PasswordConfig::default()
    });
    assert!(service.refuse_if_saturated().is_ok());
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (started, running) = tokio::sync::oneshot::channel();
    let pool_job = tokio::spawn({
        let service = service.clone();
        async move {
            service
                .inner
                .pool
                .run(move || {
                    let _ = started.send(());
                    let _ = released.recv();
                })
                .await
        }
    });
    running.await.unwrap();
    assert!(matches!(service.refuse_if_saturated(), Err(Error::Busy)));
    assert_eq!(service.hashes_refused(), 1);
    release.send(()).unwrap();
    pool_job.await.unwrap().unwrap();
    assert!(service.refuse_if_saturated().is_ok());
    assert_eq!(service.hashes_refused(), 1);
}

fn service_with(config: PasswordConfig) -> PasswordService {
    PasswordService::new(config).unwrap()
}
