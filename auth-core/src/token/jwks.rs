//! Public keys as a JSON Web Key Set (RFC 7517), and JWK thumbprints (RFC 7638).
//!
//! Only asymmetric JWT keys are published: shared secrets (HS256, PASETO `v4.local`) never
//! are, and PASETO public keys are distributed as PASERK instead.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::key::KeySet;

/// One public key of a [`Jwks`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `OKP`, `EC` or `RSA`.
    pub kty: String,
    /// Key id, as in the `kid` header of the tokens it verifies.
    pub kid: String,
    /// The one algorithm the key verifies.
    pub alg: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub key_use: String,
    /// Curve, for `OKP` (`Ed25519`) and `EC` (`P-256`) keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// Public point x coordinate (`EC`) or public key (`OKP`), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Public point y coordinate (`EC`), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

/// A JSON Web Key Set: what `/.well-known/jwks.json` serves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The public keys, the active one first.
    pub keys: Vec<Jwk>,
}

impl KeySet {
    /// The public verification keys of the set's asymmetric JWT keys, as a JWKS.
    pub fn jwks(&self) -> Jwks {
        let keys = self
            .iter()
            .filter_map(|key| {
                let params = key.as_jwt()?.public_params()?;
                Some(params.into_jwk(key.id().as_str(), key.algorithm().name()))
            })
            .collect();
        Jwks { keys }
    }
}

/// The public members of an asymmetric JWK, base64url-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JwkParams {
    /// Ed25519 public key.
    Okp { x: String },
    /// P-256 public point.
    Ec { x: String, y: String },
    /// RSA modulus and exponent.
    Rsa { n: String, e: String },
}

impl JwkParams {
    /// The RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order.
    pub(crate) fn thumbprint(&self) -> String {
        let canonical = match self {
            Self::Okp { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#),
            Self::Ec { x, y } => {
                format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#)
            }
            Self::Rsa { n, e } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
        };
        sha256_base64url(canonical.as_bytes())
    }

    fn into_jwk(self, kid: &str, alg: &str) -> Jwk {
        let mut jwk = Jwk {
            kty: String::new(),
            kid: kid.to_owned(),
            alg: alg.to_owned(),
            key_use: "sig".to_owned(),
            crv: None,
            x: None,
            y: None,
            n: None,
            e: None,
        };
        match self {
            Self::Okp { x } => {
                jwk.kty = "OKP".into();
                jwk.crv = Some("Ed25519".into());
                jwk.x = Some(x);
            }
            Self::Ec { x, y } => {
                jwk.kty = "EC".into();
                jwk.crv = Some("P-256".into());
                jwk.x = Some(x);
                jwk.y = Some(y);
            }
            Self::Rsa { n, e } => {
                jwk.kty = "RSA".into();
                jwk.n = Some(n);
                jwk.e = Some(e);
            }
        }
        jwk
    }
}

/// The RFC 7638 thumbprint of a symmetric (`oct`) key.
pub(crate) fn oct_thumbprint(secret: &[u8]) -> String {
    let mut canonical = zeroize::Zeroizing::new(String::with_capacity(secret.len() * 2 + 24));
    canonical.push_str(r#"{"k":""#);
    URL_SAFE_NO_PAD.encode_string(secret, &mut canonical);
    canonical.push_str(r#"","kty":"oct"}"#);
    sha256_base64url(canonical.as_bytes())
}

fn sha256_base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use secrecy::ExposeSecret;

    use super::*;
    use crate::testing::{clock, key, token_config};
    use crate::token::{Algorithm, Key, NewToken, TokenIssuer};

    #[test]
    fn rsa_thumbprint_matches_rfc_7638_example() {
        let params = JwkParams::Rsa {
            n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSo\
                c_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Q\
                vzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f\
                M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
                .into(),
            e: "AQAB".into(),
        };
        assert_eq!(
            params.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn ed25519_thumbprint_matches_rfc_8037_example() {
        let params = JwkParams::Okp {
            x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into(),
        };
        assert_eq!(
            params.thumbprint(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn key_ids_default_to_the_thumbprint_of_the_published_jwk() {
        for algorithm in [Algorithm::EdDsa, Algorithm::Es256, Algorithm::Rs256] {
            let key = key(algorithm);
            let jwks = KeySet::new(key.clone()).unwrap().jwks();
            let published: jsonwebtoken::jwk::Jwk =
                serde_json::from_value(serde_json::to_value(&jwks.keys[0]).unwrap()).unwrap();
            let thumbprint = published
                .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                .unwrap();
            assert_eq!(key.id().as_str(), thumbprint, "{algorithm}");
        }
    }

    #[test]
    fn hs256_key_id_is_the_thumbprint_of_its_oct_jwk() {
        let secret = [7u8; 32];
        let key = Key::from_hmac_secret(&secret).unwrap();
        let k = URL_SAFE_NO_PAD.encode(secret);
        let canonical = format!(r#"{{"k":"{k}","kty":"oct"}}"#);
        assert_eq!(key.id().as_str(), sha256_base64url(canonical.as_bytes()));
    }

    #[test]
    fn jwks_publishes_only_asymmetric_jwt_keys_with_their_parameters() {
        let mut keys = KeySet::new(key(Algorithm::EdDsa)).unwrap();
        for algorithm in Algorithm::all().iter().skip(1) {
            keys.add_verification_key(key(*algorithm)).unwrap();
        }
        let json = serde_json::to_value(keys.jwks()).unwrap();
        let published = json["keys"].as_array().unwrap();
        assert_eq!(published.len(), 3);
        let ids: Vec<&str> = keys.iter().map(|key| key.id().as_str()).collect();
        let expect = [
            ("OKP", "EdDSA", vec!["crv", "x"]),
            ("EC", "ES256", vec!["crv", "x", "y"]),
            ("RSA", "RS256", vec!["n", "e"]),
        ];
        for ((jwk, (kty, alg, members)), kid) in published.iter().zip(expect).zip(ids) {
            assert_eq!(jwk["kty"], kty);
            assert_eq!(jwk["alg"], alg);
            assert_eq!(jwk["use"], "sig");
            assert_eq!(jwk["kid"], kid);
            for member in members {
                assert!(jwk[member].is_string(), "{alg} lacks {member}");
            }
            for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
                assert!(jwk.get(private).is_none(), "{alg} leaks {private}");
            }
        }
    }

    #[test]
    fn standard_clients_verify_our_tokens_with_the_published_jwks() {
        for algorithm in [Algorithm::EdDsa, Algorithm::Es256, Algorithm::Rs256] {
            let keys = Arc::new(KeySet::new(key(algorithm)).unwrap());
            let issuer = TokenIssuer::new(keys.clone(), token_config(), clock()).unwrap();
            let issued = issuer.issue_access(NewToken::new("user-1")).unwrap();
            let json = serde_json::to_string(&keys.jwks()).unwrap();

            let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&json).unwrap();
            let jwk = set.find(issued.kid.as_str()).unwrap();
            let decoding = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
            let jwa = match algorithm {
                Algorithm::EdDsa => jsonwebtoken::Algorithm::EdDSA,
                Algorithm::Es256 => jsonwebtoken::Algorithm::ES256,
                _ => jsonwebtoken::Algorithm::RS256,
            };
            let mut validation = jsonwebtoken::Validation::new(jwa);
            validation.validate_exp = false; // our clock is not the wall clock
            validation.required_spec_claims.clear();
            validation.set_issuer(&[token_config().issuer]);
            validation.set_audience(&[token_config().audience]);
            let data = jsonwebtoken::decode::<serde_json::Value>(
                issued.token.expose_secret(),
                &decoding,
                &validation,
            )
            .unwrap();
            assert_eq!(data.claims["sub"], "user-1", "{algorithm}");
            assert_eq!(data.header.kid.as_deref(), Some(issued.kid.as_str()));
        }
    }
}
