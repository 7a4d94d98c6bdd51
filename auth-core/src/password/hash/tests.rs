#![allow(clippy::unwrap_used)]

use super::*;
use password_hash::{CustomizedPasswordHasher, PasswordHasher};

const PASSWORD: &str = "correct horse battery staple";

/// Runs a test body on a fresh thread, which starts without an Argon2 buffer and keeps
/// one between hashes, as the hashing pool's threads do.
fn on_a_new_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(|| {
        argon2_buffer::keep_buffer_on_this_thread();
        f()
    })
    .join()
    .unwrap()
}

/// The argon2 crate's own PHC string, with its own memory.
fn argon2_crate_hash(argon2: &Argon2<'_>, password: &str, salt: &[u8]) -> String {
    argon2
        .hash_password_with_salt(password.as_bytes(), salt)
        .unwrap()
        .to_string()
}

fn argon2id(memory_kib: u32, iterations: u32, parallelism: u32) -> Argon2<'static> {
    let params = argon2::Params::new(memory_kib, iterations, parallelism, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_default(password: &str) -> String {
    hash_password(Argon2Params::default(), &NormalizedPassword::new(password)).unwrap()
}

fn verify_default(password: &str, stored: &str) -> Result<Verification> {
    verify_password(Argon2Params::default(), password, stored)
}

/// A legacy hash of `PASSWORD` verifies with `needs_rehash` and refuses another password.
fn assert_legacy_hash_verifies_and_needs_rehash(stored: &str) {
    assert_eq!(
        verify_default(PASSWORD, stored).unwrap(),
        Verification::Valid { needs_rehash: true },
        "{stored}"
    );
    assert_eq!(
        verify_default("nope", stored).unwrap(),
        Verification::Invalid,
        "{stored}"
    );
}

#[test]
fn new_hashes_are_argon2id_phc_strings_with_the_configured_parameters() {
    let stored = hash_default(PASSWORD);
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    let params = Argon2Params::new(19_456 * 2, 3, 2).unwrap();
    let stronger = hash_password(params, &NormalizedPassword::new(PASSWORD)).unwrap();
    assert!(
        stronger.starts_with("$argon2id$v=19$m=38912,t=3,p=2$"),
        "{stronger}"
    );
}

#[test]
fn our_phc_strings_are_byte_identical_to_the_argon2_crates() {
    let salts: [&[u8]; 3] = [b"saltsaltsaltsalt", &[0xa5; 8], &[0x5a; 48]];
    // p = 3 does not divide m: Argon2 rounds the memory down to whole lanes.
    for (m, t, p) in [
        (19_456, 2, 1),
        (38_912, 3, 2),
        (19_457, 2, 3),
        (24_000, 2, 16),
    ] {
        let params = Argon2Params::new(m, t, p).unwrap();
        for salt in salts {
            let ours = hash_with_salt(params, PASSWORD.as_bytes(), salt).unwrap();
            let theirs = argon2_crate_hash(&argon2id(m, t, p), PASSWORD, salt);
            assert_eq!(ours, theirs, "m={m} t={t} p={p}");
            assert!(
                ours.starts_with(&format!("$argon2id$v=19$m={m},t={t},p={p}$")),
                "{ours}"
            );
        }
    }
}

#[test]
fn new_hashes_verify_with_the_argon2_crate() {
    for params in [
        Argon2Params::default(),
        Argon2Params::new(19_457, 3, 2).unwrap(),
    ] {
        let stored = hash_password(params, &NormalizedPassword::new(PASSWORD)).unwrap();
        let parsed = PasswordHash::new(&stored).unwrap();
        assert!(
            Argon2::default()
                .verify_password(PASSWORD.as_bytes(), &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery stapler", &parsed)
                .is_err()
        );
    }
}

#[test]
fn hashes_made_by_the_argon2_crate_verify_whatever_their_variant_version_and_costs() {
    let custom = |algorithm, version, m, t, p, output_len| {
        let params = argon2::Params::new(m, t, p, output_len).unwrap();
        Argon2::new(algorithm, version, params)
    };
    let mut with_data = argon2::ParamsBuilder::new();
    with_data
        .m_cost(19_456)
        .data(argon2::AssociatedData::new(b"tenant-7").unwrap());
    let cases = [
        (argon2id(19_456, 2, 1), false),
        (argon2id(19_456, 3, 1), true),
        (argon2id(19_456, 2, 2), true),
        (argon2id(19_459, 2, 3), true),
        (
            custom(Algorithm::Argon2id, Version::V0x10, 19_456, 2, 1, None),
            true,
        ),
        (
            custom(Algorithm::Argon2id, Version::V0x13, 19_456, 2, 1, Some(16)),
            false,
        ),
        (
            custom(Algorithm::Argon2id, Version::V0x13, 19_456, 2, 1, Some(64)),
            false,
        ),
        (
            custom(Algorithm::Argon2d, Version::V0x13, 8_192, 4, 2, None),
            true,
        ),
        (
            custom(Algorithm::Argon2i, Version::V0x10, 8_192, 3, 1, None),
            true,
        ),
        (
            Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                with_data.build().unwrap(),
            ),
            false,
        ),
    ];
    for (argon2, needs_rehash) in cases {
        let stored = argon2_crate_hash(&argon2, PASSWORD, b"saltsaltsaltsalt");
        assert_eq!(
            verify_default(PASSWORD, &stored).unwrap(),
            Verification::Valid { needs_rehash },
            "{stored}"
        );
        assert_eq!(
            verify_default("correct horse battery stapler", &stored).unwrap(),
            Verification::Invalid,
            "{stored}"
        );
    }
}

#[test]
fn a_tampered_hash_does_not_verify() {
    let mut builder = argon2::ParamsBuilder::new();
    builder
        .m_cost(19_456)
        .data(argon2::AssociatedData::new(b"tenant-7").unwrap());
    let argon2 = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        builder.build().unwrap(),
    );
    let stored = argon2_crate_hash(&argon2, PASSWORD, b"saltsaltsaltsalt");
    assert!(verify_default(PASSWORD, &stored).unwrap().is_valid());
    let parsed = PasswordHash::new(&stored).unwrap();
    let salt = parsed.salt.unwrap().to_string();
    let output = parsed.hash.unwrap().to_string();
    let flip_first = |b64: &str| {
        let replacement = if b64.starts_with('A') { "B" } else { "A" };
        format!("{replacement}{}", &b64[1..])
    };
    let tampered = [
        stored.replace(&output, &flip_first(&output)),
        stored.replace(&salt, &flip_first(&salt)),
        stored.replace("$argon2id$", "$argon2d$"),
        stored.replace("$v=19$", "$v=16$"),
        stored.replace("m=19456", "m=19457"),
        stored.replace("t=2", "t=3"),
        stored.replace("p=1", "p=2"),
        stored.replace(",data=dGVuYW50LTc", ",data=dGVuYW50LTg"),
        stored.replace(",data=dGVuYW50LTc", ""),
        // The first 18 bytes of the output only.
        stored.replace(&output, &output[..24]),
    ];
    for tampered in tampered {
        assert_ne!(tampered, stored);
        assert_eq!(
            verify_default(PASSWORD, &tampered).unwrap(),
            Verification::Invalid,
            "{tampered}"
        );
    }
}

#[test]
fn a_thread_keeps_one_buffer_at_the_configured_size_across_hashes() {
    on_a_new_thread(|| {
        let default_blocks = Argon2Params::default().block_count().unwrap();
        assert_eq!(argon2_buffer::retained_blocks(), 0);
        let stored = hash_default(PASSWORD);
        assert_eq!(argon2_buffer::retained_blocks(), default_blocks);
        assert!(verify_default(PASSWORD, &stored).unwrap().is_valid());
        assert_eq!(argon2_buffer::retained_blocks(), default_blocks);
    });
}

#[test]
fn hashes_after_bigger_and_smaller_ones_on_the_same_thread_still_verify() {
    on_a_new_thread(|| {
        let default_blocks = Argon2Params::default().block_count().unwrap();
        let bigger = Argon2Params::new(38_912, 2, 1).unwrap();
        let first = hash_default(PASSWORD);

        // A stored hash above the configured memory: checked, then its memory is freed.
        let big = argon2_crate_hash(&argon2id(38_912, 2, 1), PASSWORD, b"saltsaltsaltsalt");
        assert_eq!(
            verify_default(PASSWORD, &big).unwrap(),
            Verification::Valid { needs_rehash: true }
        );
        assert_eq!(argon2_buffer::retained_blocks(), 0);
        let second = hash_default(PASSWORD);
        assert_eq!(argon2_buffer::retained_blocks(), default_blocks);

        // Configured bigger: the buffer grows and stays; a smaller hash runs in it.
        assert_eq!(
            verify_password(bigger, PASSWORD, &big).unwrap(),
            Verification::Valid {
                needs_rehash: false
            }
        );
        assert_eq!(argon2_buffer::retained_blocks(), 38_912);
        let small = argon2_crate_hash(&argon2id(8_192, 2, 1), PASSWORD, b"saltsaltsaltsalt");
        assert!(
            verify_password(bigger, PASSWORD, &small)
                .unwrap()
                .is_valid()
        );
        assert!(!verify_password(bigger, "nope", &small).unwrap().is_valid());
        assert_eq!(argon2_buffer::retained_blocks(), 38_912);
        let third = hash_default(PASSWORD);

        for stored in [&first, &second, &third, &big, &small] {
            assert!(
                verify_default(PASSWORD, stored).unwrap().is_valid(),
                "{stored}"
            );
            assert!(
                !verify_default("nope", stored).unwrap().is_valid(),
                "{stored}"
            );
        }
        assert_eq!(
            hash_with_salt(
                Argon2Params::default(),
                PASSWORD.as_bytes(),
                b"saltsaltsaltsalt"
            )
            .unwrap(),
            argon2_crate_hash(&argon2id(19_456, 2, 1), PASSWORD, b"saltsaltsaltsalt")
        );
    });
}

#[test]
fn the_same_password_hashes_differently_each_time() {
    assert_ne!(hash_default(PASSWORD), hash_default(PASSWORD));
}

#[test]
fn the_right_password_verifies_without_rehash() {
    let stored = hash_default(PASSWORD);
    assert_eq!(
        verify_default(PASSWORD, &stored).unwrap(),
        Verification::Valid {
            needs_rehash: false
        }
    );
}

#[test]
fn a_wrong_password_is_invalid() {
    let stored = hash_default(PASSWORD);
    assert_eq!(
        verify_default("correct horse battery stapler", &stored).unwrap(),
        Verification::Invalid
    );
}

#[test]
fn a_long_password_is_not_truncated() {
    let long: String = (0..100)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let stored = hash_default(&long);
    assert!(verify_default(&long, &stored).unwrap().is_valid());
    for prefix in [64, 72, 99] {
        assert_eq!(
            verify_default(&long[..prefix], &stored).unwrap(),
            Verification::Invalid,
            "prefix of {prefix}"
        );
    }
}

#[test]
fn emoji_and_spaces_verify_and_equivalent_unicode_forms_match() {
    let stored = hash_default("🔐 my   vault 🔐 ключ");
    assert!(
        verify_default("🔐 my   vault 🔐 ключ", &stored)
            .unwrap()
            .is_valid()
    );
    assert!(
        !verify_default("🔐 my vault 🔐 ключ", &stored)
            .unwrap()
            .is_valid()
    );
    let composed = hash_default("caf\u{e9} cr\u{e8}me br\u{fb}l\u{e9}e");
    assert!(
        verify_default("cafe\u{301} cre\u{300}me bru\u{302}le\u{301}e", &composed)
            .unwrap()
            .is_valid()
    );
    let fullwidth = hash_default("ｈｕｎｔｅｒ２ｈｕｎｔｅｒ２");
    assert!(
        verify_default("hunter2hunter2", &fullwidth)
            .unwrap()
            .is_valid()
    );
}

#[test]
fn other_argon2_parameters_need_a_rehash_each_of_m_t_and_p() {
    let stored = hash_default(PASSWORD);
    for params in [
        Argon2Params::new(19_457, 2, 1).unwrap(),
        Argon2Params::new(19_456, 3, 1).unwrap(),
        Argon2Params::new(19_456, 2, 2).unwrap(),
    ] {
        assert_eq!(
            verify_password(params, PASSWORD, &stored).unwrap(),
            Verification::Valid { needs_rehash: true },
            "{params:?}"
        );
        assert!(needs_rehash(params, &stored).unwrap());
    }
    assert!(!needs_rehash(Argon2Params::default(), &stored).unwrap());
}

#[test]
fn a_hash_with_another_output_length_but_same_costs_needs_no_rehash() {
    let custom = argon2::Params::new(19_456, 2, 1, Some(64)).unwrap();
    let stored = Argon2::default()
        .hash_password_with_params(PASSWORD.as_bytes(), b"saltsaltsaltsalt", custom)
        .unwrap()
        .to_string();
    assert_eq!(
        verify_default(PASSWORD, &stored).unwrap(),
        Verification::Valid {
            needs_rehash: false
        }
    );
}

#[test]
fn argon2i_hashes_verify_and_need_a_rehash() {
    let params = argon2::Params::new(4096, 3, 1, None).unwrap();
    let argon2i = Argon2::new(argon2::Algorithm::Argon2i, argon2::Version::V0x13, params);
    let stored = argon2i
        .hash_password_with_salt(PASSWORD.as_bytes(), b"saltsaltsaltsalt")
        .unwrap()
        .to_string();
    assert_eq!(HashScheme::of(&stored).unwrap(), HashScheme::Argon2i);
    assert_legacy_hash_verifies_and_needs_rehash(&stored);
}

#[test]
fn bcrypt_hashes_as_a_nestjs_service_stores_them_verify_and_need_a_rehash() {
    // bcrypt at cost 12 (BCRYPT_ROUNDS=12), in each of its prefixes.
    let b = bcrypt::hash(PASSWORD, 12).unwrap();
    assert!(b.starts_with("$2b$12$"));
    for prefix in ["$2a$", "$2b$", "$2y$"] {
        let stored = format!("{prefix}{}", &b[4..]);
        assert_eq!(HashScheme::of(&stored).unwrap(), HashScheme::Bcrypt);
        assert_eq!(
            verify_default(PASSWORD, &stored).unwrap(),
            Verification::Valid { needs_rehash: true },
            "{prefix}"
        );
        assert_eq!(
            verify_default("wrong password!", &stored).unwrap(),
            Verification::Invalid
        );
    }
}

#[test]
fn a_known_bcrypt_vector_from_another_implementation_verifies() {
    // From the OpenBSD bcrypt test suite (password "U*U", cost 5).
    let stored = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
    assert!(verify_default("U*U", stored).unwrap().is_valid());
    assert!(!verify_default("U*V", stored).unwrap().is_valid());
}

#[test]
fn pbkdf2_sha256_phc_hashes_verify_and_need_a_rehash() {
    let params = pbkdf2::Params::new(10_000).unwrap();
    let stored = pbkdf2::Pbkdf2::default()
        .hash_password_with_params(PASSWORD.as_bytes(), b"saltsaltsaltsalt", params)
        .unwrap()
        .to_string();
    assert!(stored.starts_with("$pbkdf2-sha256$i=10000"), "{stored}");
    assert_legacy_hash_verifies_and_needs_rehash(&stored);
}

#[test]
fn a_known_pbkdf2_sha256_vector_verifies() {
    // RFC 7914 section 11 / RFC 6070-style vector in PHC form: P="passwordPASSWORDpassword",
    // S="saltSALTsaltSALTsaltSALTsaltSALTsalt", c=4096, dkLen=40.
    let stored = "$pbkdf2-sha256$i=4096,l=40\
        $c2FsdFNBTFRzYWx0U0FMVHNhbHRTQUxUc2FsdFNBTFRzYWx0\
        $NIyJ28vTKy8y2BS4EW6EzysXNH68GAAYHE4qH7jdU+HGNVGMfaxH6Q";
    assert!(
        verify_default("passwordPASSWORDpassword", stored)
            .unwrap()
            .is_valid()
    );
}

#[test]
fn scrypt_phc_hashes_verify_and_need_a_rehash() {
    let params = scrypt::Params::new(10, 8, 1).unwrap();
    let stored = scrypt::Scrypt::default()
        .hash_password_with_params(PASSWORD.as_bytes(), b"saltsaltsaltsalt", params)
        .unwrap()
        .to_string();
    assert!(stored.starts_with("$scrypt$"), "{stored}");
    assert_legacy_hash_verifies_and_needs_rehash(&stored);
}

#[test]
fn unknown_and_malformed_hashes_are_errors_not_panics() {
    let cases = [
        "",
        "plaintext",
        "$",
        "$$$$",
        "$md5$abc",
        "$1$saltsalt$hash",
        "$argon2id$",
        "$argon2id$v=19$m=19456,t=2,p=1$",
        "$argon2id$v=19$m=abc,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
        "$argon2id$v=19$m=19456,t=2,p=1$!!!$aGFzaA",
        "$2b$12$short",
        "$2b$xx$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe£",
        "$pbkdf2-sha256$i=x$c2FsdA$aGFzaA",
        "$scrypt$ln=abc$c2FsdA$aGFzaA",
    ];
    for stored in cases {
        let result = verify_default(PASSWORD, stored);
        assert!(
            matches!(result, Err(Error::InvalidHash(_))),
            "{stored:?} gave {result:?}"
        );
    }
}

#[test]
fn stored_hashes_with_absurd_costs_are_refused_instead_of_run() {
    let cases = [
        "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
        "$2b$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "$pbkdf2-sha256$i=4000000000,l=32$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$scrypt$ln=30,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
    ];
    for stored in cases {
        assert!(
            matches!(verify_default(PASSWORD, stored), Err(Error::InvalidHash(_))),
            "{stored}"
        );
    }
    let huge = format!("$argon2id${}", "a".repeat(10_000));
    assert!(matches!(
        verify_default(PASSWORD, &huge),
        Err(Error::InvalidHash(_))
    ));
}

#[test]
fn an_argon2_hash_just_above_four_times_the_configured_memory_is_refused() {
    let too_big = format!(
        "$argon2id$v=19$m={},t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
        Argon2Params::default().memory_kib() * STORED_ARGON2_MEMORY_FACTOR + 1
    );
    let refused = verify_default(PASSWORD, &too_big);
    assert!(matches!(refused, Err(Error::InvalidHash(_))), "{refused:?}");
}

/// One step over each bound, refused before any work: what a planted hash could make one
/// unauthenticated login spend (scrypt ln=20, r=32 allocates 4 GiB) is bounded per scheme.
#[test]
fn legacy_hashes_one_step_over_their_bound_are_refused() {
    let salt_and_hash = "c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
    let cases = [
        format!("$scrypt$ln=18,r=8,p=1${salt_and_hash}"),
        format!("$scrypt$ln=17,r=9,p=1${salt_and_hash}"),
        format!("$scrypt$ln=17,r=8,p=2${salt_and_hash}"),
        format!("$scrypt$ln=20,r=32,p=1${salt_and_hash}"),
        format!("$pbkdf2-sha256$i=2000001,l=32${salt_and_hash}"),
        format!("$pbkdf2-sha512$i=2000001,l=64${salt_and_hash}"),
        "$2b$15$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW".to_owned(),
    ];
    for stored in &cases {
        let refused = verify_default(PASSWORD, stored);
        assert!(
            matches!(refused, Err(Error::InvalidHash(_))),
            "{stored}: {refused:?}"
        );
    }
}

#[test]
fn parameters_below_owasp_minimums_are_refused() {
    assert!(Argon2Params::new(19_455, 2, 1).is_err());
    assert!(Argon2Params::new(19_456, 1, 1).is_err());
    assert!(Argon2Params::new(19_456, 2, 0).is_err());
    assert!(Argon2Params::new(MAX_ARGON2_MEMORY_KIB + 1, 2, 1).is_err());
    assert_eq!(
        Argon2Params::new(19_456, 2, 1).unwrap(),
        Argon2Params::default()
    );
}
