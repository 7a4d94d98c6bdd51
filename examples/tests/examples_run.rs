//! The examples are programs people copy: run each one and check what it says.
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn run(bin: &str) -> String {
    let output = Command::new(bin).output().unwrap();
    assert!(output.status.success(), "{bin}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn password_login_registers_refuses_and_upgrades_legacy_hashes() {
    let out = run(env!("CARGO_BIN_EXE_password_login"));
    assert!(
        out.contains("registered ada@example.com (argon2id)"),
        "{out}"
    );
    assert!(
        out.contains("refused bob@example.com: weak_password"),
        "{out}"
    );
    let expected = "login ada@example.com:\n  ok\n\
                    login ada@example.com:\n  refused: invalid_credentials\n\
                    login nobody@example.com:\n  refused: invalid_credentials\n\
                    login cy@example.com:\n  upgraded cy@example.com's hash to argon2id\n  ok\n\
                    login cy@example.com:\n  ok\n";
    assert!(out.ends_with(expected), "{out}");
}

#[test]
fn token_rotation_keeps_old_tokens_valid_until_the_key_is_retired() {
    let out = run(env!("CARGO_BIN_EXE_token_rotation"));
    assert!(
        out.contains("the old token still verifies for user-7"),
        "{out}"
    );
    assert!(out.contains("JWKS now publishes 2 keys"), "{out}");
    assert!(
        out.contains("after retirement the old token is refused: invalid token: unknown key id"),
        "{out}"
    );
}
