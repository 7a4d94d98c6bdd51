//! PKCE (RFC 7636), `S256` only: OAuth 2.1 requires it of every client using the code flow,
//! and `plain` would send the verifier in the clear.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use crate::error::{Error, Result};

/// A `code_challenge` of method `S256`: the base64url (unpadded) SHA-256 of the verifier, 43
/// characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// The challenge of an authorization request: `challenge` with its `method` (absent means
    /// `plain` in RFC 7636, refused here as any other method is). [`Error::InvalidRequest`]
    /// saying what is wrong.
    pub fn parse(challenge: &str, method: Option<&str>) -> Result<Self> {
        match method {
            Some("S256") => {}
            None | Some("plain") => {
                return Err(Error::InvalidRequest(
                    "code_challenge_method must be S256".into(),
                ));
            }
            Some(_) => {
                return Err(Error::InvalidRequest(
                    "code_challenge_method must be S256 (the only method supported)".into(),
                ));
            }
        }
        let well_formed = challenge.len() == 43
            && URL_SAFE_NO_PAD
                .decode(challenge)
                .is_ok_and(|digest| digest.len() == 32);
        if !well_formed {
            return Err(Error::InvalidRequest(
                "code_challenge must be the unpadded base64url SHA-256 of the verifier (43 \
                 characters)"
                    .into(),
            ));
        }
        Ok(Self(challenge.to_owned()))
    }

    /// The challenge as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `verifier` (a token request's `code_verifier`) is the one this challenge was
    /// made from: a well-formed verifier (43 to 128 characters of `A-Z a-z 0-9 - . _ ~`) whose
    /// SHA-256 is the challenge, compared in constant time.
    pub fn verifies(&self, verifier: &str) -> bool {
        let well_formed = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        well_formed && bool::from(computed.as_bytes().ct_eq(self.0.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// RFC 7636 appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn the_rfc_example_verifies_and_nothing_else_does() {
        let challenge = CodeChallenge::parse(CHALLENGE, Some("S256")).unwrap();
        assert!(challenge.verifies(VERIFIER));
        assert!(!challenge.verifies(&VERIFIER[1..]), "42 characters");
        assert!(!challenge.verifies(CHALLENGE), "the challenge itself");
        assert!(!challenge.verifies(""));
        let mut other = VERIFIER.to_owned();
        other.replace_range(0..1, "e");
        assert!(!challenge.verifies(&other));
        assert!(!challenge.verifies(&"a".repeat(129)));
    }

    #[test]
    fn only_s256_and_well_formed_challenges_are_accepted() {
        for method in [None, Some("plain"), Some("S512"), Some("s256")] {
            let error = CodeChallenge::parse(CHALLENGE, method).unwrap_err();
            assert_eq!(error.code(), "invalid_request", "{method:?}");
            assert!(error.to_string().contains("S256"));
        }
        for bad in [
            "",
            "short",
            &format!("{CHALLENGE}="),
            &format!("{CHALLENGE}A"),
            &"*".repeat(43),
        ] {
            assert!(CodeChallenge::parse(bad, Some("S256")).is_err(), "{bad:?}");
        }
    }
}
