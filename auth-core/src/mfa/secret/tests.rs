use super::*;
use crate::mfa::TotpAlgorithm;

const OLD_KEY: [u8; 32] = [0x11; 32];
const NEW_KEY: [u8; 32] = [0x22; 32];

fn secret() -> TotpSecret {
    TotpSecret::generate(TotpAlgorithm::Sha1)
}

#[test]
fn a_secret_round_trips_for_its_user() {
    let keyring = MfaKeyring::new("v1", OLD_KEY);
    let (user, secret) = (UserId::new(), secret());
    let encrypted = keyring.encrypt(&user, &secret).unwrap();
    assert_eq!(encrypted.key_id, "v1");
    assert_eq!(encrypted.nonce.len(), NONCE_LEN);
    assert_eq!(encrypted.ciphertext.len(), secret.expose_bytes().len() + 16);
    assert_ne!(&encrypted.ciphertext[..20], secret.expose_bytes());
    let decrypted = keyring.decrypt(&user, &encrypted).unwrap();
    assert_eq!(decrypted.expose_bytes(), secret.expose_bytes());
}

#[test]
fn each_encryption_uses_a_fresh_nonce() {
    let keyring = MfaKeyring::generate();
    let (user, secret) = (UserId::new(), secret());
    let a = keyring.encrypt(&user, &secret).unwrap();
    let b = keyring.encrypt(&user, &secret).unwrap();
    assert_ne!(a.nonce, b.nonce);
    assert_ne!(a.ciphertext, b.ciphertext);
}

#[test]
fn a_ciphertext_moved_to_another_user_does_not_decrypt() {
    let keyring = MfaKeyring::new("v1", OLD_KEY);
    let encrypted = keyring.encrypt(&UserId::new(), &secret()).unwrap();
    let result = keyring.decrypt(&UserId::new(), &encrypted);
    assert!(matches!(result, Err(Error::Internal(_))), "{result:?}");
}

#[test]
fn a_tampered_ciphertext_nonce_or_tag_does_not_decrypt() {
    let keyring = MfaKeyring::new("v1", OLD_KEY);
    let user = UserId::new();
    let encrypted = keyring.encrypt(&user, &secret()).unwrap();
    let last = encrypted.ciphertext.len() - 1;
    for (index, in_nonce) in [(0, false), (last, false), (0, true)] {
        let mut tampered = encrypted.clone();
        let bytes = if in_nonce {
            &mut tampered.nonce
        } else {
            &mut tampered.ciphertext
        };
        bytes[index] ^= 1;
        assert!(matches!(
            keyring.decrypt(&user, &tampered),
            Err(Error::Internal(_))
        ));
    }
    let mut truncated = encrypted.clone();
    truncated.ciphertext.truncate(10);
    assert!(keyring.decrypt(&user, &truncated).is_err());
    truncated.ciphertext.clear();
    assert!(keyring.decrypt(&user, &truncated).is_err());
}

#[test]
fn a_nonce_of_the_wrong_length_is_an_error_not_a_panic() {
    let keyring = MfaKeyring::new("v1", OLD_KEY);
    let user = UserId::new();
    let mut encrypted = keyring.encrypt(&user, &secret()).unwrap();
    for len in [0, 11, 13, 24] {
        encrypted.nonce = vec![0; len];
        assert!(matches!(
            keyring.decrypt(&user, &encrypted),
            Err(Error::Internal(_))
        ));
    }
}

#[test]
fn a_secret_under_the_old_key_still_decrypts_after_rotation_and_needs_reencryption() {
    let user = UserId::new();
    let secret = secret();
    let old = MfaKeyring::new("v1", OLD_KEY);
    let stored = old.encrypt(&user, &secret).unwrap();
    assert!(!old.needs_reencryption(&stored));

    let rotated = MfaKeyring::new("v2", NEW_KEY)
        .with_decryption_key("v1", OLD_KEY)
        .unwrap();
    assert!(rotated.needs_reencryption(&stored));
    let decrypted = rotated.decrypt(&user, &stored).unwrap();
    assert_eq!(decrypted.expose_bytes(), secret.expose_bytes());

    let renewed = rotated.reencrypt(&user, &stored).unwrap();
    assert_eq!(renewed.key_id, "v2");
    assert!(!rotated.needs_reencryption(&renewed));
    let decrypted = rotated.decrypt(&user, &renewed).unwrap();
    assert_eq!(decrypted.expose_bytes(), secret.expose_bytes());
    // Once re-encrypted, the old key can go.
    let only_new = MfaKeyring::new("v2", NEW_KEY);
    assert!(only_new.decrypt(&user, &renewed).is_ok());
}

#[test]
fn an_unknown_key_id_is_an_error() {
    let user = UserId::new();
    let stored = MfaKeyring::new("v1", OLD_KEY)
        .encrypt(&user, &secret())
        .unwrap();
    let other = MfaKeyring::new("v2", NEW_KEY);
    assert!(matches!(
        other.decrypt(&user, &stored),
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        other.reencrypt(&user, &stored),
        Err(Error::InvalidKey(_))
    ));
}

#[test]
fn the_right_key_id_with_the_wrong_key_does_not_decrypt() {
    let user = UserId::new();
    let stored = MfaKeyring::new("v1", OLD_KEY)
        .encrypt(&user, &secret())
        .unwrap();
    let wrong = MfaKeyring::new("v1", NEW_KEY);
    assert!(matches!(
        wrong.decrypt(&user, &stored),
        Err(Error::Internal(_))
    ));
}

#[test]
fn a_key_id_cannot_be_added_twice() {
    let keyring = MfaKeyring::new("v2", NEW_KEY);
    assert!(matches!(
        keyring.clone().with_decryption_key("v2", OLD_KEY),
        Err(Error::Config(_))
    ));
    let keyring = keyring.with_decryption_key("v1", OLD_KEY).unwrap();
    assert!(keyring.with_decryption_key("v1", OLD_KEY).is_err());
}

#[test]
fn a_hex_key_of_64_characters_in_any_case_is_read() {
    let lower = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let keyring = MfaKeyring::from_hex("v1", lower).unwrap();
    let upper = MfaKeyring::from_hex("v1", &lower.to_uppercase()).unwrap();
    assert_eq!(*keyring.active.key, *upper.active.key);
    assert_eq!(keyring.active.key[..3], [0x00, 0x11, 0x22]);
    assert_eq!(keyring.active_key_id(), "v1");
}

#[test]
fn a_hex_key_of_the_wrong_length_or_not_hex_is_a_config_error() {
    let valid = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let not_hex = valid.replace('f', "g");
    let cases = [
        (&valid[..63], "not 63"),
        (&format!("{valid}0"), "not 65"),
        ("", "not 0"),
        (&not_hex, "not hexadecimal"),
        (&format!(" {}", &valid[1..]), "not hexadecimal"),
    ];
    for (hex, problem) in cases {
        match MfaKeyring::from_hex("v1", hex) {
            Err(Error::Config(message)) => assert!(message.contains(problem), "{message}"),
            other => panic!("{hex:?} gave {other:?}"),
        }
    }
}

#[test]
fn debug_shows_key_ids_but_never_key_bytes() {
    let keyring = MfaKeyring::from_hex("v2", &"ab".repeat(32))
        .unwrap()
        .with_decryption_key("v1", OLD_KEY)
        .unwrap();
    let debug = format!("{keyring:?}");
    assert!(debug.contains("v2") && debug.contains("v1"), "{debug}");
    assert!(!debug.contains("171") && !debug.contains("ab"), "{debug}");
    assert!(!debug.contains("17") && !debug.contains("11"), "{debug}");
}
