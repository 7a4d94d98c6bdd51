//! Any string offered as a token, JWT- or PASETO-shaped or not, is refused or accepted with an
//! error value: never a panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use auth_core::clock::SystemClock;
use auth_core::token::{
    Algorithm, Key, KeySet, NoCustomClaims, TokenConfig, TokenKind, TokenVerifier,
};
use libfuzzer_sys::fuzz_target;

fn verifier() -> &'static TokenVerifier {
    static VERIFIER: OnceLock<TokenVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let mut keys = KeySet::verification_only();
        for algorithm in [
            Algorithm::EdDsa,
            Algorithm::Es256,
            Algorithm::Hs256,
            Algorithm::PasetoV4Public,
            Algorithm::PasetoV4Local,
        ] {
            let key = Key::generate(algorithm).expect("key generation");
            keys.add_verification_key(key).expect("distinct key ids");
        }
        let config = TokenConfig::new("https://auth.example.com", "api");
        TokenVerifier::new(Arc::new(keys), config, Arc::new(SystemClock)).expect("valid config")
    })
}

fuzz_target!(|token: &str| {
    let _ = verifier().verify::<NoCustomClaims>(token, TokenKind::Access);
    let _ = verifier().verify::<NoCustomClaims>(token, TokenKind::MfaChallenge);
});
