//! Each function marked FORBIDDEN must draw a clippy `disallowed_*` error under the workspace's
//! configuration; the verifying function must draw none.

use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::sha2::Sha256;
use rsa::signature::Verifier as _;
use rsa::{BigUint, RsaPublicKey};

/// Allowed: public-key operations are not affected by RUSTSEC-2023-0071.
pub fn verify(n: &[u8], e: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let Ok(public) = RsaPublicKey::new(BigUint::from_bytes_be(n), BigUint::from_bytes_be(e)) else {
        return false;
    };
    let Ok(signature) = Signature::try_from(signature) else {
        return false;
    };
    VerifyingKey::<Sha256>::new(public)
        .verify(message, &signature)
        .is_ok()
}

/// FORBIDDEN: an RSA private key held by `rsa`.
pub fn hold(key: rsa::RsaPrivateKey) -> usize {
    std::mem::size_of_val(&key)
}

/// FORBIDDEN: signing through `rsa`.
pub fn signer(key: rsa::pkcs1v15::SigningKey<Sha256>) -> usize {
    std::mem::size_of_val(&key)
}

/// FORBIDDEN: the raw private-key operation (the key type is forbidden too).
pub fn decrypt(key: &rsa::RsaPrivateKey, c: &BigUint) -> Option<BigUint> {
    rsa::hazmat::rsa_decrypt::<rsa::rand_core::OsRng>(None, key, c).ok()
}
