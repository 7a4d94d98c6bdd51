//! Any string offered as a PASETO v4 token is refused with an error value or accepted with
//! claims that passed validation: never a panic.
//!
//! Input: a token string; or, when it starts with `{`, a payload and a footer separated by the
//! first newline, which the target both encrypts with the `v4.local` fixture key and signs with
//! the `v4.public` one, so that arbitrary payloads and footers get past the cryptography and
//! into footer and claims handling.
#![no_main]

use std::sync::OnceLock;

use auth_core::token::TokenVerifier;
use auth_fuzz::{PASETO_LOCAL, PASETO_PUBLIC_SECRET, verify_and_check};
use libfuzzer_sys::fuzz_target;
use pasetors::keys::{AsymmetricSecretKey, SymmetricKey};
use pasetors::version4::{LocalToken, PublicToken, V4};

struct Fixture {
    verifier: TokenVerifier,
    local: SymmetricKey<V4>,
    secret: AsymmetricSecretKey<V4>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| Fixture {
        verifier: auth_fuzz::verifier(),
        local: SymmetricKey::try_from(PASETO_LOCAL).expect("fixture key"),
        secret: AsymmetricSecretKey::try_from(PASETO_PUBLIC_SECRET).expect("fixture key"),
    })
}

fn verify(token: &str) {
    verify_and_check(&fixture().verifier, token);
}

fuzz_target!(|data: &[u8]| {
    if data.first() == Some(&b'{') {
        let (payload, footer) = match data.iter().position(|&b| b == b'\n') {
            Some(newline) => (&data[..newline], &data[newline + 1..]),
            None => (data, &b""[..]),
        };
        let footer = (!footer.is_empty()).then_some(footer);
        let fixture = fixture();
        // pasetors refuses some inputs (an empty payload, for one): nothing to verify then.
        if let Ok(token) = LocalToken::encrypt(&fixture.local, payload, footer, None) {
            verify(&token);
        }
        if let Ok(token) = PublicToken::sign(&fixture.secret, payload, footer, None) {
            verify(&token);
        }
    } else if let Ok(token) = std::str::from_utf8(data) {
        verify(token);
    }
});
