//! Fixtures shared by the fuzz targets and the seed generator: fixed test keys and a fixed
//! clock, so that the committed seed tokens stay valid and reach claims validation.
//!
//! The keys protect nothing: the JWT ones are auth-core's test keys, the others were generated
//! for this crate. Never use them outside fuzzing.

use std::sync::Arc;

use auth_core::clock::{ManualClock, SharedClock};
use auth_core::token::{
    Algorithm, Claims, Key, KeySet, NoCustomClaims, TokenConfig, TokenIssuer, TokenKind,
    TokenVerifier,
};

/// The issuer every fixture token names.
pub const ISSUER: &str = "https://auth.example.com";
/// The audience every fixture token names.
pub const AUDIENCE: &str = "api";
/// The fixed time the fixtures run at: 2026-01-01T00:00:00Z.
pub const NOW_UNIX: u64 = 1_767_225_600;

/// The JWT algorithms.
pub const JWT: [Algorithm; 4] = [
    Algorithm::EdDsa,
    Algorithm::Es256,
    Algorithm::Rs256,
    Algorithm::Hs256,
];
/// The PASETO algorithms.
pub const PASETO: [Algorithm; 2] = [Algorithm::PasetoV4Public, Algorithm::PasetoV4Local];

/// The HS256 shared secret, unpadded base64url.
pub const HS256_SECRET: &str = "unOJEFL5NHswOTq0ziVNpuRizCY9e3Gp9XWcrH1uMYA";
/// The `v4.public` key, PASERK.
pub const PASETO_PUBLIC_SECRET: &str = "k4.secret.8rdIlReU8LCv6WrDAhJjjVYbZIXvDOJeLroH3ijBjWGp-_D7J8z6MlwnqmTxuaUDdzQ0TCdMf_2dfnvKtruN2Q";
/// The `v4.local` key, PASERK.
pub const PASETO_LOCAL: &str = "k4.local.G2aseshCs4EMKPsbdyQOutkGfOk5_VAxT09aYBP233E";

const ED25519_PEM: &str = include_str!("../../auth-core/src/token/testdata/ed25519.pem");
const P256_PEM: &str = include_str!("../../auth-core/src/token/testdata/p256.pem");
const RSA_PEM: &str = include_str!("../../auth-core/src/token/testdata/rsa-2048.pem");

/// The fixed signing key for `algorithm`.
///
/// # Panics
/// For an algorithm without a fixture key, or if a fixture key does not load: a broken fixture,
/// not a finding.
pub fn key(algorithm: Algorithm) -> Key {
    let encoded = match algorithm {
        Algorithm::EdDsa => ED25519_PEM,
        Algorithm::Es256 => P256_PEM,
        Algorithm::Rs256 => RSA_PEM,
        Algorithm::Hs256 => HS256_SECRET,
        Algorithm::PasetoV4Public => PASETO_PUBLIC_SECRET,
        Algorithm::PasetoV4Local => PASETO_LOCAL,
        other => panic!("no fixture key for {other}"),
    };
    Key::import(algorithm, encoded).expect("fixture key loads")
}

/// The clock, standing at [`NOW_UNIX`].
pub fn clock() -> SharedClock {
    Arc::new(ManualClock::at_unix(NOW_UNIX))
}

/// The token configuration: [`ISSUER`], [`AUDIENCE`], the defaults otherwise.
pub fn config() -> TokenConfig {
    TokenConfig::new(ISSUER, AUDIENCE)
}

/// A verifier that accepts tokens of every fixture key, JWT and PASETO alike.
///
/// # Panics
/// If the fixtures are inconsistent.
pub fn verifier() -> TokenVerifier {
    let mut keys = KeySet::verification_only();
    for algorithm in JWT.into_iter().chain(PASETO) {
        keys.add_verification_key(key(algorithm))
            .expect("distinct key ids");
    }
    TokenVerifier::new(Arc::new(keys), config(), clock()).expect("valid config")
}

/// An issuer signing with the fixture key of `algorithm`, at the fixed time.
///
/// # Panics
/// If the fixtures are inconsistent.
pub fn issuer(algorithm: Algorithm) -> TokenIssuer {
    let keys = KeySet::new(key(algorithm)).expect("a signing key");
    TokenIssuer::new(Arc::new(keys), config(), clock()).expect("valid config")
}

/// Verifies `token` as an access token and as an MFA challenge; whatever is accepted must have
/// passed validation at the fixed time.
///
/// # Panics
/// When an accepted token's claims are not valid at [`NOW_UNIX`]: a finding.
pub fn verify_and_check(verifier: &TokenVerifier, token: &str) {
    for kind in [TokenKind::Access, TokenKind::MfaChallenge] {
        if let Ok(claims) = verifier.verify::<NoCustomClaims>(token, kind) {
            check(&claims);
        }
    }
}

fn check(claims: &Claims<NoCustomClaims>) {
    let now = i64::try_from(NOW_UNIX).expect("fits");
    let leeway = 30;
    assert_eq!(claims.iss, ISSUER);
    assert!(claims.aud.contains(AUDIENCE));
    assert!(claims.exp > now - leeway, "expired token accepted");
    assert!(claims.iat <= now + leeway, "future token accepted");
    assert!(claims.nbf.is_none_or(|nbf| nbf <= now + leeway));
}
