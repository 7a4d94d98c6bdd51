//! Any string offered as a JWT is refused with an error value or accepted with claims that
//! passed validation: never a panic. The verifier holds EdDSA, ES256, RS256 and HS256 keys (and
//! the PASETO keys, so cross-format confusion is covered too).
//!
//! Input: a token string; or, when it starts with `{`, a JSON header and JSON claims separated
//! by the first newline, which the target signs with the HS256 fixture key so that arbitrary
//! headers and claims get past the signature and into header and claims handling.
#![no_main]

use std::sync::OnceLock;

use auth_core::token::TokenVerifier;
use auth_fuzz::{HS256_SECRET, verify_and_check};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;

fn verifier() -> &'static TokenVerifier {
    static VERIFIER: OnceLock<TokenVerifier> = OnceLock::new();
    VERIFIER.get_or_init(auth_fuzz::verifier)
}

fn hs256_secret() -> &'static [u8] {
    static SECRET: OnceLock<Vec<u8>> = OnceLock::new();
    SECRET.get_or_init(|| {
        URL_SAFE_NO_PAD
            .decode(HS256_SECRET)
            .expect("fixture secret")
    })
}

/// `header.claims.signature` with an HS256 signature by the fixture key.
fn sign_hs256(header: &[u8], claims: &[u8]) -> String {
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(claims));
    let mut mac = Hmac::<Sha256>::new_from_slice(hs256_secret()).expect("any key length");
    mac.update(token.as_bytes());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
    token
}

fn verify(token: &str) {
    verify_and_check(verifier(), token);
}

fuzz_target!(|data: &[u8]| {
    if data.first() == Some(&b'{') {
        let (header, claims) = match data.iter().position(|&b| b == b'\n') {
            Some(newline) => (&data[..newline], &data[newline + 1..]),
            None => (data, &b"{}"[..]),
        };
        verify(&sign_hs256(header, claims));
    } else if let Ok(token) = std::str::from_utf8(data) {
        verify(token);
    }
});
