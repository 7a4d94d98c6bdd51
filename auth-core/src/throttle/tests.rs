use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::UNIX_EPOCH;

use super::*;

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
}

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

/// `failures` failures in a window that started at `at(0)`, the last one at `at(last)`.
fn record(failures: u32, last: u64) -> ThrottleRecord {
    ThrottleRecord {
        failures,
        window_started_at: at(0),
        last_failure_at: at(last),
    }
}

fn wait_right_after(policy: &ThrottlePolicy, failures: u32) -> Option<Duration> {
    policy.retry_after(Some(&record(failures, 100)), at(100))
}

#[test]
fn no_record_means_no_wait() {
    assert_eq!(ThrottlePolicy::per_account().retry_after(None, at(0)), None);
}

#[test]
fn the_first_five_failures_are_free() {
    let policy = ThrottlePolicy::per_account();
    for failures in 0..=5 {
        assert_eq!(wait_right_after(&policy, failures), None, "{failures}");
    }
}

#[test]
fn the_sixth_failure_costs_one_second_and_each_next_doubles_up_to_fifteen_minutes() {
    let policy = ThrottlePolicy::per_account();
    let expected = [
        (6, 1),
        (7, 2),
        (8, 4),
        (9, 8),
        (10, 16),
        (14, 256),
        (15, 512),
        (16, 900),
        (19, 900),
    ];
    for (failures, seconds) in expected {
        assert_eq!(
            wait_right_after(&policy, failures),
            Some(secs(seconds)),
            "{failures}"
        );
    }
}

#[test]
fn the_delay_runs_from_the_last_failure() {
    let policy = ThrottlePolicy::per_account();
    let seventh = record(7, 100);
    let half_a_second_later = at(100) + Duration::from_millis(500);
    assert_eq!(
        policy.retry_after(Some(&seventh), half_a_second_later),
        Some(Duration::from_millis(1_500))
    );
    assert_eq!(policy.retry_after(Some(&seventh), at(102)), None);
    assert_eq!(policy.retry_after(Some(&seventh), at(500)), None);
}

#[test]
fn twenty_failures_lock_the_account_until_the_window_ends() {
    let policy = ThrottlePolicy::per_account();
    let locked = record(20, 600);
    assert_eq!(
        policy.retry_after(Some(&locked), at(600)),
        Some(secs(3_000))
    );
    // Long after any progressive delay would have passed, still locked.
    assert_eq!(
        policy.retry_after(Some(&locked), at(3_000)),
        Some(secs(600))
    );
    assert_eq!(policy.retry_after(Some(&locked), at(3_599)), Some(secs(1)));
    assert_eq!(policy.retry_after(Some(&locked), at(3_600)), None);
}

#[test]
fn a_record_whose_window_has_ended_counts_as_no_record() {
    let policy = ThrottlePolicy::per_account();
    for failures in [6, 19, 20, 1_000] {
        let old = record(failures, 3_599);
        assert_eq!(
            policy.retry_after(Some(&old), at(3_600)),
            None,
            "{failures}"
        );
        assert_eq!(
            policy.retry_after(Some(&old), at(90_000)),
            None,
            "{failures}"
        );
    }
}

#[test]
fn a_delay_never_outlasts_the_window() {
    let policy = ThrottlePolicy::per_account();
    // A 15-minute delay after a failure ten minutes before the window ends.
    let late = record(19, 3_000);
    assert_eq!(policy.retry_after(Some(&late), at(3_000)), Some(secs(600)));
}

#[test]
fn a_clock_that_went_backwards_never_panics_nor_waits_longer_than_the_policy() {
    let policy = ThrottlePolicy::per_account();
    let a_day_before = UNIX_EPOCH + secs(1_700_000_000 - 86_400);
    assert_eq!(
        policy.retry_after(Some(&record(3, 100)), a_day_before),
        None
    );
    assert_eq!(
        policy.retry_after(Some(&record(7, 100)), a_day_before),
        Some(secs(2))
    );
    assert_eq!(
        policy.retry_after(Some(&record(20, 100)), a_day_before),
        Some(secs(3_600))
    );
    assert_eq!(
        policy.retry_after(Some(&record(20, 100)), UNIX_EPOCH - secs(1_000)),
        Some(secs(3_600))
    );
}

#[test]
fn a_huge_failure_count_does_not_overflow() {
    let account = ThrottlePolicy::per_account();
    assert_eq!(wait_right_after(&account, u32::MAX), Some(secs(3_500)));
    // The per-address policy reaches 78 doublings before its lockout.
    let address = ThrottlePolicy::per_address();
    assert_eq!(wait_right_after(&address, 99), Some(secs(60)));
    assert_eq!(wait_right_after(&address, u32::MAX), Some(secs(3_500)));
}

#[test]
fn extreme_durations_saturate_instead_of_overflowing() {
    let policy = ThrottlePolicy::new(Duration::MAX, 0, Duration::MAX, Duration::MAX, 100).unwrap();
    let late = ThrottleRecord {
        failures: 99,
        window_started_at: at(0),
        last_failure_at: at(0),
    };
    assert_eq!(policy.retry_after(Some(&late), at(0)), Some(Duration::MAX));
    let locked = ThrottleRecord {
        failures: 100,
        ..late
    };
    assert_eq!(
        policy.retry_after(Some(&locked), at(0)),
        Some(Duration::MAX)
    );
}

#[test]
fn per_account_defaults_match_the_design() {
    let policy = ThrottlePolicy::per_account();
    assert_eq!(policy.window(), secs(3_600));
    assert_eq!(policy.free_failures(), 5);
    assert_eq!(policy.base_delay(), secs(1));
    assert_eq!(policy.max_delay(), secs(900));
    assert_eq!(policy.lockout_after(), 20);
    assert_eq!(ThrottlePolicy::default(), policy);
}

#[test]
fn the_presets_pass_their_own_validation() {
    for preset in [ThrottlePolicy::per_account(), ThrottlePolicy::per_address()] {
        let rebuilt = ThrottlePolicy::new(
            preset.window(),
            preset.free_failures(),
            preset.base_delay(),
            preset.max_delay(),
            preset.lockout_after(),
        )
        .unwrap();
        assert_eq!(rebuilt, preset);
    }
}

#[test]
fn per_address_is_more_lenient_than_per_account_but_within_asvs() {
    let account = ThrottlePolicy::per_account();
    let address = ThrottlePolicy::per_address();
    assert!(address.free_failures() > account.free_failures());
    assert!(address.lockout_after() > account.lockout_after());
    assert!(address.lockout_after() <= ThrottlePolicy::MAX_FAILURES_PER_HOUR);
}

#[test]
fn the_asvs_bound_rejects_a_policy_allowing_101_failures_per_hour() {
    let hour = secs(3_600);
    assert!(ThrottlePolicy::new(hour, 5, secs(1), secs(900), 100).is_ok());
    let error = ThrottlePolicy::new(hour, 5, secs(1), secs(900), 101).unwrap_err();
    assert!(matches!(error, Error::Config(_)), "{error}");
}

#[test]
fn the_asvs_bound_scales_with_the_window() {
    let half_hour = secs(1_800);
    assert!(ThrottlePolicy::new(half_hour, 5, secs(1), secs(60), 50).is_ok());
    assert!(ThrottlePolicy::new(half_hour, 5, secs(1), secs(60), 51).is_err());
    // A longer window does not allow more than 100 failures in it.
    let day = secs(86_400);
    assert!(ThrottlePolicy::new(day, 5, secs(1), secs(60), 100).is_ok());
    assert!(ThrottlePolicy::new(day, 5, secs(1), secs(60), 101).is_err());
    // A window of a few seconds cannot lock out within the bound at all.
    assert!(ThrottlePolicy::new(secs(30), 0, secs(1), secs(1), 1).is_err());
}

#[test]
fn inconsistent_policies_are_refused() {
    let hour = secs(3_600);
    let refused = [
        ThrottlePolicy::new(Duration::ZERO, 5, secs(1), secs(1), 20),
        ThrottlePolicy::new(hour, 20, secs(1), secs(900), 20),
        ThrottlePolicy::new(hour, 21, secs(1), secs(900), 20),
        ThrottlePolicy::new(hour, 5, secs(901), secs(900), 20),
        ThrottlePolicy::new(hour, 5, secs(1), secs(3_601), 20),
    ];
    for result in refused {
        assert!(matches!(result, Err(Error::Config(_))), "{result:?}");
    }
}

#[test]
fn case_and_whitespace_variants_of_an_email_share_an_account_key() {
    let key = account_key("alice@example.com");
    assert_eq!(key, "acct:alice@example.com");
    for variant in [
        "Alice@Example.com",
        "ALICE@EXAMPLE.COM",
        "  alice@example.com\t\n",
        "al ice @ example.com",
        "\u{a0}alice@example.com\u{3000}",
        "ａｌｉｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ",
    ] {
        assert_eq!(account_key(variant), key, "{variant:?}");
    }
}

#[test]
fn account_keys_fold_every_spelling_of_a_letter() {
    assert_eq!(account_key("ΑΣ@example.gr"), account_key("ασ@example.gr"));
    assert_eq!(account_key("ας@example.gr"), account_key("ασ@example.gr"));
    // Composed and decomposed accents are the same account.
    assert_eq!(
        account_key("Jos\u{e9}@x.es"),
        account_key("JOSE\u{301}@x.es")
    );
}

#[test]
fn different_emails_have_different_account_keys() {
    assert_ne!(
        account_key("alice@example.com"),
        account_key("bob@example.com")
    );
    assert_ne!(
        account_key("alice@example.com"),
        account_key("alice@example.org")
    );
}

#[test]
fn ipv4_addresses_are_counted_one_by_one() {
    let a = address_key(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    let b = address_key(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)));
    assert_eq!(a, "addr:192.0.2.1");
    assert_ne!(a, b);
}

#[test]
fn ipv6_addresses_in_one_64_share_an_address_key() {
    let key = |s: &str| address_key(s.parse().unwrap());
    assert_eq!(key("2001:db8:1:2::1"), "addr:2001:db8:1:2::/64");
    assert_eq!(
        key("2001:db8:1:2::1"),
        key("2001:db8:1:2:ffff:ffff:ffff:ffff")
    );
    assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
}

#[test]
fn ipv4_mapped_ipv6_addresses_count_as_the_ipv4_address() {
    let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
    let plain = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    assert_eq!(address_key(mapped), address_key(plain));
    // Not folded into the ::ffff:0:0/64 network of every other IPv4 client.
    let other: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
    assert_ne!(address_key(mapped), address_key(other));
}

#[test]
fn keys_of_different_kinds_never_collide() {
    let user = UserId::new();
    let keys = [
        account_key("192.0.2.1"),
        address_key(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
        address_key(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        mfa_key(&user),
        account_address_key("192.0.2.1", None),
        challenge_key("192.0.2.1"),
    ];
    assert!(keys[0].starts_with("acct:"));
    assert!(keys[1].starts_with("addr:"));
    assert_eq!(keys[3], format!("mfa:{user}"));
    for (i, a) in keys.iter().enumerate() {
        for b in &keys[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

#[test]
fn the_strict_key_joins_the_address_and_the_account() {
    let client = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(
        account_address_key(" Alice@Example.com", client),
        "addr:192.0.2.1|acct:alice@example.com"
    );
    assert_eq!(
        account_address_key("alice@example.com", None),
        "addr:unknown|acct:alice@example.com"
    );
}

#[test]
fn a_reserved_attempt_is_decided_by_the_attempts_before_it() {
    let policy = ThrottlePolicy::per_account();
    let counted = |failures| ThrottleRecord {
        failures,
        window_started_at: at(0),
        last_failure_at: at(0),
    };
    // Six attempts before it are free; the seventh waits a second after the last failure.
    assert_eq!(policy.wait_for_reserved(&counted(6), at(0)), None);
    assert_eq!(policy.wait_for_reserved(&counted(7), at(0)), Some(secs(1)));
    assert_eq!(policy.wait_for_reserved(&counted(7), at(1)), None);
    assert_eq!(
        policy.wait_for_reserved(&counted(21), at(1)),
        Some(secs(3_599))
    );
}

#[cfg(feature = "memory")]
mod service {
    use crate::clock::{Clock, ManualClock};
    use crate::store::memory::MemoryStore;

    use super::*;

    const ALICE: &str = "alice@example.com";

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn throttle() -> (Throttle, Arc<ManualClock>, MemoryStore) {
        let clock = Arc::new(ManualClock::new(at(0)));
        let store = MemoryStore::new();
        let throttle = Throttle::new(Arc::new(store.clone()), clock.clone());
        (throttle, clock, store)
    }

    #[test]
    fn the_longest_window_is_that_of_the_policy_counting_longest() {
        let (throttle, _, _) = throttle();
        assert_eq!(throttle.longest_window(), HOUR);
        let day = Duration::from_secs(86_400);
        let longer = throttle.with_registration_policy(ThrottlePolicy::rate(day, 5).unwrap());
        assert_eq!(longer.longest_window(), day);
    }

    fn retry_after(result: Result<()>) -> Duration {
        match result {
            Err(Error::Throttled { retry_after }) => retry_after,
            other => panic!("expected Throttled, got {other:?}"),
        }
    }

    /// Whether a password attempt may be checked now; the attempt is given back.
    async fn may_try(throttle: &Throttle, account: &str, client: Option<IpAddr>) -> Result<()> {
        throttle
            .reserve_password(account, client)
            .await?
            .release()
            .await
    }

    /// `times` failed password attempts, each reserved and settled as a failure.
    async fn fail(throttle: &Throttle, account: &str, client: Option<IpAddr>, times: u32) {
        for _ in 0..times {
            let attempt = throttle.reserve_password(account, client).await.unwrap();
            attempt.failed().await.unwrap();
        }
    }

    /// `times` failures counted on `key` directly, past any delay the policy would ask for.
    async fn count_failures(store: &MemoryStore, key: &str, times: u32) {
        for _ in 0..times {
            store
                .reserve_attempt(key, at(0), secs(3_600), u32::MAX)
                .await
                .unwrap();
            store
                .confirm_failure(key, at(0), secs(3_600))
                .await
                .unwrap();
        }
    }

    async fn failures(store: &MemoryStore, key: &str, now: SystemTime) -> Option<u32> {
        store
            .throttle_record(key, now, secs(3_600))
            .await
            .unwrap()
            .map(|record| record.failures)
    }

    #[tokio::test]
    async fn an_attempt_with_no_failures_is_allowed() {
        let (throttle, _, _) = throttle();
        may_try(&throttle, ALICE, ip("192.0.2.1")).await.unwrap();
        may_try(&throttle, ALICE, None).await.unwrap();
    }

    #[tokio::test]
    async fn the_sixth_failure_makes_the_next_attempt_wait_a_second() {
        let (throttle, clock, _) = throttle();
        fail(&throttle, ALICE, None, 5).await;
        may_try(&throttle, ALICE, None).await.unwrap();
        fail(&throttle, ALICE, None, 1).await;
        assert_eq!(retry_after(may_try(&throttle, ALICE, None).await), secs(1));
        clock.advance(secs(1));
        may_try(&throttle, ALICE, None).await.unwrap();
    }

    #[tokio::test]
    async fn a_refused_attempt_is_given_back_but_asking_early_starts_the_delay_again() {
        let (throttle, clock, store) = throttle();
        fail(&throttle, ALICE, None, 6).await;
        clock.advance(Duration::from_millis(500));
        assert_eq!(
            retry_after(may_try(&throttle, ALICE, None).await),
            Duration::from_millis(500)
        );
        assert_eq!(retry_after(may_try(&throttle, ALICE, None).await), secs(1));
        let key = account_address_key(ALICE, None);
        assert_eq!(
            failures(&store, &key, clock.now()).await,
            Some(6),
            "refusals are not counted"
        );
        clock.advance(secs(1));
        may_try(&throttle, ALICE, None).await.unwrap();
    }

    #[tokio::test]
    async fn after_a_pause_a_burst_gets_one_check_not_one_per_delay_run_out() {
        let (throttle, clock, _) = throttle();
        let client = ip("192.0.2.1");
        fail(&throttle, ALICE, client, 6).await;
        // Ten minutes: the delays after the 6th to the 15th failure (1 s to 512 s) all fit.
        clock.advance(secs(600));
        let mut admitted = Vec::new();
        for _ in 0..100 {
            if let Ok(attempt) = throttle.reserve_password(ALICE, client).await {
                admitted.push(attempt);
            }
        }
        assert_eq!(admitted.len(), 1);
        for attempt in admitted {
            attempt.failed().await.unwrap();
        }
    }

    #[tokio::test]
    async fn an_unsettled_attempt_stays_counted() {
        let (throttle, _, store) = throttle();
        let attempt = throttle.reserve_password(ALICE, None).await.unwrap();
        drop(attempt);
        let key = account_address_key(ALICE, None);
        assert_eq!(failures(&store, &key, at(0)).await, Some(1));
    }

    #[tokio::test]
    async fn a_burst_of_reservations_admits_only_the_free_attempts() {
        let (throttle, _, _) = throttle();
        let client = ip("192.0.2.1");
        let mut admitted = Vec::new();
        let mut refused = 0;
        for _ in 0..1_000 {
            match throttle.reserve_password(ALICE, client).await {
                Ok(attempt) => admitted.push(attempt),
                Err(Error::Throttled { .. }) => refused += 1,
                Err(other) => panic!("{other:?}"),
            }
        }
        // Nothing is settled yet: the six admitted are still being checked.
        assert_eq!((admitted.len(), refused), (6, 994));
        for attempt in admitted {
            attempt.failed().await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_locked_account_is_refused_before_any_credential_is_looked_at_and_not_elsewhere() {
        let (throttle, clock, store) = throttle();
        let attacker = ip("192.0.2.1");
        count_failures(&store, &account_address_key(ALICE, attacker), 20).await;
        clock.advance(secs(1_000));
        // A reservation takes no credential: a correct password gets this same answer, under
        // any spelling of the account.
        for account in [ALICE, " ALICE@example.com "] {
            let wait = retry_after(may_try(&throttle, account, attacker).await);
            assert_eq!(wait, secs(2_600), "{account:?}");
        }
        // The owner, elsewhere, is not locked out by the attacker's failures.
        for owner in [None, ip("198.51.100.9"), ip("2001:db8::1")] {
            may_try(&throttle, ALICE, owner).await.unwrap();
        }
    }

    #[tokio::test]
    async fn the_lock_lifts_when_the_window_ends() {
        let (throttle, clock, store) = throttle();
        count_failures(&store, &account_address_key(ALICE, None), 20).await;
        clock.advance(secs(3_599));
        assert_eq!(retry_after(may_try(&throttle, ALICE, None).await), secs(1));
        clock.advance(secs(1));
        may_try(&throttle, ALICE, None).await.unwrap();
        // A failure now starts a fresh window: free again.
        fail(&throttle, ALICE, None, 1).await;
        may_try(&throttle, ALICE, None).await.unwrap();
    }

    #[tokio::test]
    async fn failures_spread_over_many_addresses_reach_the_account_wide_ceiling() {
        let (throttle, clock, _) = throttle();
        for i in 0..100_u8 {
            let client = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, i)));
            fail(&throttle, ALICE, client, 1).await;
            if i >= 50 {
                // Past the ceiling's delays, which start after fifty failures.
                clock.advance(secs(60));
            }
        }
        let fresh_address = ip("198.51.100.1");
        assert_eq!(
            retry_after(may_try(&throttle, ALICE, fresh_address).await),
            secs(600)
        );
        // Each address saw one failure only, so it can still try other accounts.
        let one_of_them = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)));
        may_try(&throttle, "bob@example.com", one_of_them)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn case_and_whitespace_variants_count_against_one_account() {
        let (throttle, clock, _) = throttle();
        let variants = [
            "alice@example.com",
            "Alice@Example.com",
            " ALICE@EXAMPLE.COM",
        ];
        for variant in variants.iter().cycle().take(6) {
            fail(&throttle, variant, None, 1).await;
        }
        assert_eq!(retry_after(may_try(&throttle, ALICE, None).await), secs(1));
        clock.advance(secs(1));
        fail(&throttle, " alice@EXAMPLE.com ", None, 1).await;
        assert_eq!(retry_after(may_try(&throttle, ALICE, None).await), secs(2));
    }

    #[tokio::test]
    async fn an_address_trying_many_accounts_is_locked_with_its_64() {
        let (throttle, _, store) = throttle();
        let client = ip("2001:db8:1:2::10");
        count_failures(&store, &address_key(client.unwrap()), 100).await;
        let neighbour = ip("2001:db8:1:2::99");
        assert_eq!(
            retry_after(may_try(&throttle, "new@example.com", neighbour).await),
            secs(3_600)
        );
        may_try(&throttle, "new@example.com", ip("2001:db8:1:3::10"))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_refusal_by_one_counter_gives_back_the_others() {
        let (throttle, _, store) = throttle();
        let client = ip("192.0.2.1");
        count_failures(&store, &account_address_key(ALICE, client), 20).await;
        retry_after(may_try(&throttle, ALICE, client).await);
        assert_eq!(
            failures(&store, &address_key(client.unwrap()), at(0)).await,
            Some(0),
            "the address counter reserved before the refusal is given back"
        );
        assert_eq!(failures(&store, &account_key(ALICE), at(0)).await, None);
    }

    #[tokio::test]
    async fn success_clears_the_account_counters_but_gives_the_address_only_its_attempt() {
        let (throttle, _, store) = throttle();
        let client = ip("192.0.2.1");
        fail(&throttle, ALICE, client, 5).await;
        let attempt = throttle
            .reserve_password(" Alice@Example.com", client)
            .await
            .unwrap();
        attempt.succeeded().await.unwrap();
        assert_eq!(
            failures(&store, &address_key(client.unwrap()), at(0)).await,
            Some(5)
        );
        assert_eq!(failures(&store, &account_key(ALICE), at(0)).await, None);
        assert_eq!(
            failures(&store, &account_address_key(ALICE, client), at(0)).await,
            None
        );
    }

    #[tokio::test]
    async fn each_counter_uses_its_own_policy_window() {
        let short = ThrottlePolicy::new(secs(60), 0, secs(1), secs(1), 1).unwrap();
        let (throttle, clock, _) = throttle();
        let throttle = throttle.with_address_policy(short);
        let client = ip("192.0.2.1");
        fail(&throttle, ALICE, client, 1).await;
        assert_eq!(
            retry_after(may_try(&throttle, "bob@example.com", client).await),
            secs(60)
        );
        clock.advance(secs(60));
        may_try(&throttle, "bob@example.com", client).await.unwrap();
        assert_eq!(throttle.account_policy(), ThrottlePolicy::per_account());
        assert_eq!(throttle.ceiling_policy(), ThrottlePolicy::account_ceiling());
        assert_eq!(throttle.challenge_policy(), ThrottlePolicy::per_challenge());
        assert_eq!(throttle.address_policy(), short);
    }

    #[tokio::test]
    async fn wrong_mfa_codes_are_counted_per_user_under_the_account_policy() {
        let (throttle, clock, store) = throttle();
        let user = UserId::new();
        count_failures(&store, &mfa_key(&user), 20).await;
        clock.advance(secs(60));
        let second_factor = |user| {
            let throttle = throttle.clone();
            async move {
                throttle
                    .reserve_second_factor(&user, ip("192.0.2.1"), None)
                    .await?
                    .release()
                    .await
            }
        };
        assert_eq!(retry_after(second_factor(user).await), secs(3_540));
        // Another user's codes and the account's password attempts are counted apart.
        second_factor(UserId::new()).await.unwrap();
        may_try(&throttle, ALICE, None).await.unwrap();
        store.clear_failures(&mfa_key(&user)).await.unwrap();
        second_factor(user).await.unwrap();
    }

    #[tokio::test]
    async fn a_challenge_allows_five_attempts() {
        let (throttle, _, _) = throttle();
        let user = UserId::new();
        for _ in 0..5 {
            throttle
                .reserve_second_factor(&user, None, Some("challenge-1"))
                .await
                .unwrap()
                .failed()
                .await
                .unwrap();
        }
        let spent = throttle
            .reserve_second_factor(&user, None, Some("challenge-1"))
            .await
            .map(drop);
        assert!(
            matches!(spent, Err(Error::InvalidToken(TokenRejection::NotActive))),
            "{spent:?}"
        );
        // The user's own counter is not locked by five failures, so a new challenge may try.
        throttle
            .reserve_second_factor(&user, None, Some("challenge-2"))
            .await
            .unwrap()
            .release()
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_clock_going_backwards_keeps_the_lock_no_longer_than_the_window() {
        let (throttle, clock, store) = throttle();
        count_failures(&store, &account_address_key(ALICE, None), 20).await;
        clock.rewind(secs(86_400));
        assert_eq!(
            retry_after(may_try(&throttle, ALICE, None).await),
            secs(3_600)
        );
    }
}

#[test]
fn a_rate_admits_its_maximum_then_nothing_until_the_window_ends() {
    let rate = ThrottlePolicy::rate(secs(60), 3).unwrap();
    let counted = |failures| ThrottleRecord {
        failures,
        window_started_at: at(0),
        last_failure_at: at(0),
    };
    for n in 1..=3 {
        assert_eq!(
            rate.wait_for_reserved(&counted(n), at(0)),
            None,
            "attempt {n}"
        );
    }
    assert_eq!(rate.wait_for_reserved(&counted(4), at(10)), Some(secs(50)));
    assert!(ThrottlePolicy::rate(secs(60), 0).is_err());
    assert!(ThrottlePolicy::rate(Duration::ZERO, 3).is_err());
    // Far beyond the ASVS bound on failures: a rate counts what is not a failure.
    assert!(ThrottlePolicy::rate(secs(60), 100_000).is_ok());
}

#[cfg(feature = "memory")]
#[tokio::test]
async fn registrations_count_per_address_and_overall_whatever_their_outcome() {
    let clock = Arc::new(crate::clock::ManualClock::new(at(0)));
    let throttle = Throttle::new(Arc::new(crate::store::memory::MemoryStore::new()), clock)
        .with_registration_policy(ThrottlePolicy::rate(secs(3_600), 2).unwrap())
        .with_registrations_overall(ThrottlePolicy::rate(secs(60), 3).unwrap());
    let here = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    let there = Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)));
    for _ in 0..2 {
        let attempt = throttle.reserve_registration(here).await.unwrap();
        attempt.succeeded().await.unwrap();
    }
    let refused = throttle.reserve_registration(here).await.map(drop);
    assert!(
        matches!(refused, Err(Error::Throttled { .. })),
        "{refused:?}"
    );
    // Another address may, until the overall rate (three a minute) is reached.
    throttle
        .reserve_registration(there)
        .await
        .unwrap()
        .failed()
        .await
        .unwrap();
    let overall = throttle.reserve_registration(None).await.map(drop);
    assert!(
        matches!(overall, Err(Error::Throttled { .. })),
        "{overall:?}"
    );
}
