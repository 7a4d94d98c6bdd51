use super::*;

const SEED_SHA1: &[u8] = b"12345678901234567890";
const SEED_SHA256: &[u8] = b"12345678901234567890123456789012";
const SEED_SHA512: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

fn params(algorithm: TotpAlgorithm, digits: u32) -> TotpParams {
    TotpParams {
        algorithm,
        digits,
        period: 30,
    }
}

fn rfc_secret() -> TotpSecret {
    TotpSecret::from_bytes(SEED_SHA1).unwrap()
}

#[test]
fn hotp_matches_rfc_4226_appendix_d() {
    let expected = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];
    let secret = rfc_secret();
    for (counter, code) in (0..).zip(expected) {
        assert_eq!(
            hotp(&secret, TotpAlgorithm::Sha1, counter, 6),
            code,
            "{counter}"
        );
    }
}

#[test]
fn totp_matches_rfc_6238_appendix_b() {
    let table: [(i64, [&str; 3]); 6] = [
        (59, ["94287082", "46119246", "90693936"]),
        (1_111_111_109, ["07081804", "68084774", "25091201"]),
        (1_111_111_111, ["14050471", "67062674", "99943326"]),
        (1_234_567_890, ["89005924", "91819424", "93441116"]),
        (2_000_000_000, ["69279037", "90698825", "38618901"]),
        (20_000_000_000, ["65353130", "77737706", "47863826"]),
    ];
    let algorithms = [
        (TotpAlgorithm::Sha1, SEED_SHA1),
        (TotpAlgorithm::Sha256, SEED_SHA256),
        (TotpAlgorithm::Sha512, SEED_SHA512),
    ];
    for (time, codes) in table {
        for ((algorithm, seed), code) in algorithms.into_iter().zip(codes) {
            let secret = TotpSecret::from_bytes(seed).unwrap();
            let params = params(algorithm, 8);
            assert_eq!(
                code_at(&secret, &params, time).as_deref(),
                Some(code),
                "{algorithm:?} at {time}"
            );
            assert!(verify(&secret, &params, code, time).is_some());
        }
    }
}

#[test]
fn the_current_code_is_accepted_and_its_step_returned() {
    let (secret, params) = (rfc_secret(), TotpParams::default());
    let code = code_at(&secret, &params, 1_000_000).unwrap();
    assert_eq!(verify(&secret, &params, &code, 1_000_000), Some(33_333));
}

#[test]
fn the_codes_of_the_previous_and_next_steps_are_accepted() {
    let (secret, params) = (rfc_secret(), TotpParams::default());
    let now = 1_000_000; // step 33_333
    let previous = hotp(&secret, params.algorithm, 33_332, 6);
    let next = hotp(&secret, params.algorithm, 33_334, 6);
    assert_eq!(verify(&secret, &params, &previous, now), Some(33_332));
    assert_eq!(verify(&secret, &params, &next, now), Some(33_334));
}

#[test]
fn a_code_from_two_steps_ago_is_refused() {
    let (secret, params) = (rfc_secret(), TotpParams::default());
    let old = hotp(&secret, params.algorithm, 33_331, 6);
    assert_eq!(verify(&secret, &params, &old, 1_000_000), None);
}

#[test]
fn a_code_from_two_steps_ahead_is_refused() {
    let (secret, params) = (rfc_secret(), TotpParams::default());
    let early = hotp(&secret, params.algorithm, 33_335, 6);
    assert_eq!(verify(&secret, &params, &early, 1_000_000), None);
}

#[test]
fn a_wrong_code_is_refused() {
    let (secret, params) = (rfc_secret(), TotpParams::default());
    let code = code_at(&secret, &params, 1_000_000).unwrap();
    let wrong = if code == "000000" { "000001" } else { "000000" };
    assert_eq!(verify(&secret, &params, wrong, 1_000_000), None);
}

#[test]
fn a_code_of_the_wrong_length_is_refused() {
    let (secret, params) = (rfc_secret(), TotpParams::default());
    let code = code_at(&secret, &params, 1_000_000).unwrap();
    assert_eq!(verify(&secret, &params, &code[..5], 1_000_000), None);
    assert_eq!(
        verify(&secret, &params, &format!("{code}0"), 1_000_000),
        None
    );
    assert_eq!(verify(&secret, &params, "", 1_000_000), None);
    let eight = params_with_digits(8);
    let long = code_at(&secret, &eight, 1_000_000).unwrap();
    assert_eq!(verify(&secret, &params, &long, 1_000_000), None);
}

fn params_with_digits(digits: u32) -> TotpParams {
    TotpParams {
        digits,
        ..TotpParams::default()
    }
}

#[test]
fn a_code_with_non_digits_is_refused() {
    let (secret, params) = (rfc_secret(), TotpParams::default());
    for code in [
        "12345a",
        "+12345",
        "-12345",
        "١٢٣٤٥٦",
        "12 3 45",
        "123\t456",
    ] {
        assert_eq!(verify(&secret, &params, code, 1_000_000), None, "{code}");
    }
}

#[test]
fn surrounding_whitespace_and_one_inner_space_are_tolerated() {
    let (secret, params) = (rfc_secret(), TotpParams::default());
    let code = code_at(&secret, &params, 1_000_000).unwrap();
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    for typed in [format!(" {code}\n"), spaced.clone(), format!("\t{spaced} ")] {
        assert_eq!(
            verify(&secret, &params, &typed, 1_000_000),
            Some(33_333),
            "{typed:?}"
        );
    }
    let two_spaces = format!("{}  {}", &code[..3], &code[3..]);
    assert_eq!(verify(&secret, &params, &two_spaces, 1_000_000), None);
}

#[test]
fn no_code_is_accepted_before_the_epoch_or_with_invalid_params() {
    let secret = rfc_secret();
    let params = TotpParams::default();
    assert_eq!(step_at(&params, -1), None);
    assert_eq!(code_at(&secret, &params, -30), None);
    let code = code_at(&secret, &params, 0).unwrap();
    assert_eq!(verify(&secret, &params, &code, -1), None);
    let zero_period = TotpParams {
        period: 0,
        ..params
    };
    assert_eq!(step_at(&zero_period, 1_000), None);
    assert_eq!(verify(&secret, &zero_period, &code, 0), None);
    assert_eq!(verify(&secret, &params_with_digits(0), "", 1_000), None);
}

#[test]
fn the_first_step_accepts_its_next_step_and_has_no_previous_one() {
    let (secret, params) = (rfc_secret(), TotpParams::default());
    let next = hotp(&secret, params.algorithm, 1, 6);
    assert_eq!(verify(&secret, &params, &next, 0), Some(1));
}

#[test]
fn params_outside_the_allowed_ranges_are_refused() {
    assert!(TotpParams::default().validate().is_ok());
    assert!(params_with_digits(8).validate().is_ok());
    for digits in [0, 5, 7, 9, 10] {
        assert!(params_with_digits(digits).validate().is_err(), "{digits}");
    }
    for (period, ok) in [
        (14, false),
        (15, true),
        (300, true),
        (301, false),
        (0, false),
    ] {
        let params = TotpParams {
            period,
            ..TotpParams::default()
        };
        assert_eq!(params.validate().is_ok(), ok, "{period}");
    }
}

#[test]
fn a_secret_round_trips_through_base32() {
    for algorithm in [
        TotpAlgorithm::Sha1,
        TotpAlgorithm::Sha256,
        TotpAlgorithm::Sha512,
    ] {
        let secret = TotpSecret::generate(algorithm);
        let encoded = secret.to_base32();
        let decoded = TotpSecret::from_base32(encoded.expose_secret()).unwrap();
        assert_eq!(decoded.expose_bytes(), secret.expose_bytes());
    }
}

#[test]
fn generated_secrets_have_the_rfc_length_for_their_algorithm_and_differ() {
    assert_eq!(
        TotpSecret::generate(TotpAlgorithm::Sha1)
            .expose_bytes()
            .len(),
        20
    );
    assert_eq!(
        TotpSecret::generate(TotpAlgorithm::Sha256)
            .expose_bytes()
            .len(),
        32
    );
    assert_eq!(
        TotpSecret::generate(TotpAlgorithm::Sha512)
            .expose_bytes()
            .len(),
        64
    );
    let (a, b) = (
        TotpSecret::generate(TotpAlgorithm::Sha1),
        TotpSecret::generate(TotpAlgorithm::Sha1),
    );
    assert_ne!(a.expose_bytes(), b.expose_bytes());
}

#[test]
fn base32_is_unpadded_upper_case_and_read_in_any_case_with_spaces_and_padding() {
    let secret = rfc_secret();
    let encoded = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    assert_eq!(secret.to_base32().expose_secret(), encoded);
    for typed in [
        "gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
        "gezd gnbv gy3t qojq GEZD GNBV GY3T QOJQ",
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ======",
    ] {
        let decoded = TotpSecret::from_base32(typed).unwrap();
        assert_eq!(decoded.expose_bytes(), SEED_SHA1, "{typed}");
    }
    // 16 bytes encode to 26 characters: padding is missing from a non-multiple of 8.
    let sixteen = TotpSecret::from_bytes(&[7; 16]).unwrap();
    let unpadded = sixteen.to_base32();
    assert_eq!(unpadded.expose_secret().len(), 26);
    let decoded = TotpSecret::from_base32(unpadded.expose_secret()).unwrap();
    assert_eq!(decoded.expose_bytes(), &[7; 16]);
}

#[test]
fn garbage_and_short_secrets_are_refused() {
    for garbage in [
        "",
        "not base32!",
        "GEZDGNBVGY3TQOJ1",
        "GEZDGNBVGY3TQOJQG",
        "GEZD-GNBV",
    ] {
        assert!(
            matches!(TotpSecret::from_base32(garbage), Err(Error::InvalidKey(_))),
            "{garbage}"
        );
    }
    // Ten bytes: valid base32, but below the 128 bits RFC 4226 requires.
    assert!(TotpSecret::from_base32("JBSWY3DPEHPK3PXP").is_err());
    assert!(TotpSecret::from_bytes(&[1; 15]).is_err());
}

#[test]
fn debug_does_not_show_the_secret() {
    let secret = rfc_secret();
    let debug = format!("{secret:?}");
    assert!(!debug.contains("1234"), "{debug}");
    assert!(!debug.contains("GEZD"), "{debug}");
    assert!(debug.contains("len: 20"), "{debug}");
}

#[test]
fn the_otpauth_uri_has_the_shape_authenticator_apps_expect() {
    let secret = rfc_secret();
    let uri = otpauth_uri(
        "Example Co",
        "alice@example.com",
        &secret,
        &TotpParams::default(),
    );
    assert_eq!(
        uri.expose_secret(),
        "otpauth://totp/Example%20Co:alice%40example.com\
         ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example%20Co\
         &algorithm=SHA1&digits=6&period=30"
    );
    let params = TotpParams {
        algorithm: TotpAlgorithm::Sha512,
        digits: 8,
        period: 60,
    };
    let uri = otpauth_uri("Ünïcode:&?", "a+b/c~d_e.f-g", &secret, &params);
    assert!(
        uri.expose_secret()
            .starts_with("otpauth://totp/%C3%9Cn%C3%AFcode%3A%26%3F:a%2Bb%2Fc~d_e.f-g?secret="),
        "{}",
        uri.expose_secret()
    );
    assert!(
        uri.expose_secret()
            .ends_with("&issuer=%C3%9Cn%C3%AFcode%3A%26%3F&algorithm=SHA512&digits=8&period=60")
    );
}
