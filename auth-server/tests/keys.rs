//! `auth-server keys generate` prints keys that auth-core loads back.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use auth_core::token::{Algorithm, Key};

const BIN: &str = env!("CARGO_BIN_EXE_auth-server");

#[test]
fn every_format_prints_a_key_that_loads_with_the_same_id() {
    let formats = [
        ("jwt-eddsa", Algorithm::EdDsa),
        ("jwt-es256", Algorithm::Es256),
        ("jwt-rs256", Algorithm::Rs256),
        ("jwt-hs256", Algorithm::Hs256),
        ("paseto-v4-public", Algorithm::PasetoV4Public),
        ("paseto-v4-local", Algorithm::PasetoV4Local),
    ];
    for (format, algorithm) in formats {
        let output = Command::new(BIN)
            .args(["keys", "generate", "--format", format])
            .output()
            .unwrap();
        assert!(output.status.success(), "{format}: {output:?}");
        let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(printed["alg"], algorithm.name(), "{format}");
        let key = Key::import(algorithm, printed["key"].as_str().unwrap()).unwrap();
        assert!(key.can_sign(), "{format}");
        let kid = printed["kid"].as_str().unwrap();
        assert_eq!(
            key.id().as_str(),
            kid,
            "{format}: the id is derived from the key"
        );
    }
}

#[test]
fn an_unknown_format_is_a_usage_error() {
    let output = Command::new(BIN)
        .args(["keys", "generate", "--format", "jwt-none"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("jwt-none"));
}
