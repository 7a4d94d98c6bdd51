//! Fixtures shared by the fuzz targets and the seed generator: fixed test keys, and auth-core's
//! fixed clock and token configuration (`auth_core::testing`), so that the committed seed
//! tokens stay valid and reach claims validation.
//!
//! The keys protect nothing: the JWT ones are auth-core's test keys, the others were generated
//! for this crate. Never use them outside fuzzing.

use std::sync::Arc;

use auth_core::testing::{AUDIENCE, ISSUER, NOW, clock, pem, token_config};
use auth_core::token::{
    Algorithm, Claims, Key, KeySet, NoCustomClaims, TokenIssuer, TokenKind, TokenVerifier,
};

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

/// The fixed signing key for `algorithm`.
///
/// # Panics
/// For an algorithm without a fixture key, or if a fixture key does not load: a broken fixture,
/// not a finding.
pub fn key(algorithm: Algorithm) -> Key {
    let encoded = match algorithm {
        Algorithm::EdDsa => pem::ED25519,
        Algorithm::Es256 => pem::P256,
        Algorithm::Rs256 => pem::RSA_2048,
        Algorithm::Hs256 => HS256_SECRET,
        Algorithm::PasetoV4Public => PASETO_PUBLIC_SECRET,
        Algorithm::PasetoV4Local => PASETO_LOCAL,
        other => panic!("no fixture key for {other}"),
    };
    Key::import(algorithm, encoded).expect("fixture key loads")
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
    TokenVerifier::new(Arc::new(keys), token_config(), clock()).expect("valid config")
}

/// An issuer signing with the fixture key of `algorithm`, at the fixed time.
///
/// # Panics
/// If the fixtures are inconsistent.
pub fn issuer(algorithm: Algorithm) -> TokenIssuer {
    let keys = KeySet::new(key(algorithm)).expect("a signing key");
    TokenIssuer::new(Arc::new(keys), token_config(), clock()).expect("valid config")
}

/// Verifies `token` as an access token and as an MFA challenge; whatever is accepted must have
/// passed validation at the fixed time.
///
/// # Panics
/// When an accepted token's claims are not valid at [`NOW`](auth_core::testing::NOW): a finding.
pub fn verify_and_check(verifier: &TokenVerifier, token: &str) {
    for kind in [TokenKind::Access, TokenKind::MfaChallenge] {
        if let Ok(claims) = verifier.verify::<NoCustomClaims>(token, kind) {
            check(&claims);
        }
    }
}

fn check(claims: &Claims<NoCustomClaims>) {
    let now = i64::try_from(NOW).expect("fits");
    let leeway = 30;
    assert_eq!(claims.iss, ISSUER);
    assert!(claims.aud.contains(AUDIENCE));
    assert!(claims.exp > now - leeway, "expired token accepted");
    assert!(claims.iat <= now + leeway, "future token accepted");
    assert!(claims.nbf.is_none_or(|nbf| nbf <= now + leeway));
}
