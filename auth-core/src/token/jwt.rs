//! JSON Web Tokens (RFC 7519) signed with EdDSA, ES256, RS256 or HS256.
//!
//! We split the token and parse the JOSE header ourselves, once, into a small struct; the key is
//! chosen by `kid` alone and the signature checked with that key's fixed algorithm through
//! `jsonwebtoken::crypto::verify`. The header's `alg` only has to agree with the key: it never
//! selects anything. Claims are validated by [`super::validation`], not by `jsonwebtoken`.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{SigningKey, VerifyingKey};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, EncodingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{
    self, DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rand::RngCore;
use rand::rngs::OsRng;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use secrecy::SecretString;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result, TokenRejection};

use super::claims::{Claims, TokenKind};
use super::jwks::{JwkParams, oct_thumbprint};
use super::key::{Algorithm, KeyId, KeySet};

/// The smallest RSA modulus accepted.
const MIN_RSA_BITS: usize = 2048;
/// The smallest HS256 secret accepted, in bytes.
const MIN_HMAC_SECRET: usize = 32;

/// The public half of an asymmetric JWT key.
#[derive(Clone)]
enum PublicKey {
    Ed25519(VerifyingKey),
    P256(p256::PublicKey),
    Rsa(RsaPublicKey),
}

/// A JWT key: its algorithm, the `jsonwebtoken` keys built once, and its public half.
#[derive(Clone)]
pub(crate) struct JwtKey {
    algorithm: Algorithm,
    jwa: jsonwebtoken::Algorithm,
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    /// `None` for HS256.
    public: Option<PublicKey>,
    thumbprint: String,
}

impl JwtKey {
    pub(crate) fn generate(algorithm: Algorithm) -> Result<Self> {
        match algorithm {
            Algorithm::EdDsa => {
                let private = SigningKey::generate(&mut OsRng);
                Self::ed25519(Some(&private), private.verifying_key())
            }
            Algorithm::Es256 => {
                let private = p256::SecretKey::random(&mut OsRng);
                Self::p256(Some(&private), private.public_key())
            }
            Algorithm::Rs256 => {
                let private = RsaPrivateKey::new(&mut OsRng, MIN_RSA_BITS)
                    .map_err(|_| Error::Internal("RSA key generation failed".into()))?;
                let public = private.to_public_key();
                Self::rsa(Some(&private), public)
            }
            Algorithm::Hs256 => {
                let mut secret = Zeroizing::new([0u8; MIN_HMAC_SECRET]);
                OsRng.fill_bytes(secret.as_mut());
                Self::from_hmac_secret(secret.as_ref())
            }
            #[cfg(feature = "paseto")]
            Algorithm::PasetoV4Public | Algorithm::PasetoV4Local => Err(not_a_jwt_algorithm()),
        }
    }

    pub(crate) fn from_pem(algorithm: Algorithm, pem: &str) -> Result<Self> {
        match algorithm {
            Algorithm::EdDsa => {
                if let Ok(private) = SigningKey::from_pkcs8_pem(pem) {
                    Self::ed25519(Some(&private), private.verifying_key())
                } else if let Ok(public) = VerifyingKey::from_public_key_pem(pem) {
                    Self::ed25519(None, public)
                } else {
                    Err(Error::InvalidKey(
                        "not an Ed25519 PKCS#8 private key or SPKI public key in PEM".into(),
                    ))
                }
            }
            Algorithm::Es256 => {
                let private = p256::SecretKey::from_pkcs8_pem(pem)
                    .or_else(|_| p256::SecretKey::from_sec1_pem(pem));
                if let Ok(private) = private {
                    Self::p256(Some(&private), private.public_key())
                } else if let Ok(public) = p256::PublicKey::from_public_key_pem(pem) {
                    Self::p256(None, public)
                } else {
                    Err(Error::InvalidKey(
                        "not a P-256 PKCS#8 or SEC1 private key or SPKI public key in PEM".into(),
                    ))
                }
            }
            Algorithm::Rs256 => {
                let private = RsaPrivateKey::from_pkcs8_pem(pem)
                    .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem));
                if let Ok(private) = private {
                    private
                        .validate()
                        .map_err(|_| Error::InvalidKey("inconsistent RSA private key".into()))?;
                    let public = private.to_public_key();
                    Self::rsa(Some(&private), public)
                } else if let Ok(public) = RsaPublicKey::from_public_key_pem(pem)
                    .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
                {
                    Self::rsa(None, public)
                } else {
                    Err(Error::InvalidKey(
                        "not an RSA PKCS#8 or PKCS#1 private key or SPKI or PKCS#1 public key in PEM"
                            .into(),
                    ))
                }
            }
            Algorithm::Hs256 => Err(Error::InvalidKey(
                "HS256 keys are raw secrets, not PEM".into(),
            )),
            #[cfg(feature = "paseto")]
            Algorithm::PasetoV4Public | Algorithm::PasetoV4Local => Err(not_a_jwt_algorithm()),
        }
    }

    pub(crate) fn from_hmac_secret(secret: &[u8]) -> Result<Self> {
        if secret.len() < MIN_HMAC_SECRET {
            return Err(Error::InvalidKey(format!(
                "HS256 secrets must have at least {MIN_HMAC_SECRET} bytes"
            )));
        }
        Ok(Self {
            algorithm: Algorithm::Hs256,
            jwa: jsonwebtoken::Algorithm::HS256,
            encoding: Some(EncodingKey::from_secret(secret)),
            decoding: DecodingKey::from_secret(secret),
            public: None,
            thumbprint: oct_thumbprint(secret),
        })
    }

    pub(crate) fn from_base64url_secret(encoded: &str) -> Result<Self> {
        let secret = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(encoded)
                .map_err(|_| Error::InvalidKey("HS256 secret is not unpadded base64url".into()))?,
        );
        Self::from_hmac_secret(&secret)
    }

    fn ed25519(private: Option<&SigningKey>, public: VerifyingKey) -> Result<Self> {
        let encoding = private
            .map(|key| {
                key.to_pkcs8_der()
                    .map(|der| EncodingKey::from_ed_der(der.as_bytes()))
            })
            .transpose()
            .map_err(|_| Error::InvalidKey("cannot encode the Ed25519 key".into()))?;
        let decoding = DecodingKey::from_ed_der(public.as_bytes());
        let public = PublicKey::Ed25519(public);
        Ok(Self {
            algorithm: Algorithm::EdDsa,
            jwa: jsonwebtoken::Algorithm::EdDSA,
            encoding,
            decoding,
            thumbprint: public.params().thumbprint(),
            public: Some(public),
        })
    }

    fn p256(private: Option<&p256::SecretKey>, public: p256::PublicKey) -> Result<Self> {
        let encoding = private
            .map(|key| {
                key.to_pkcs8_der()
                    .map(|der| EncodingKey::from_ec_der(der.as_bytes()))
            })
            .transpose()
            .map_err(|_| Error::InvalidKey("cannot encode the P-256 key".into()))?;
        let point = public.to_encoded_point(false);
        let public = PublicKey::P256(public);
        Ok(Self {
            algorithm: Algorithm::Es256,
            jwa: jsonwebtoken::Algorithm::ES256,
            encoding,
            decoding: DecodingKey::from_ec_der(point.as_bytes()),
            thumbprint: public.params().thumbprint(),
            public: Some(public),
        })
    }

    fn rsa(private: Option<&RsaPrivateKey>, public: RsaPublicKey) -> Result<Self> {
        if public.n().bits() < MIN_RSA_BITS {
            return Err(Error::InvalidKey(format!(
                "RSA keys must have at least {MIN_RSA_BITS} bits"
            )));
        }
        let encoding = private
            .map(|key| {
                key.to_pkcs1_der()
                    .map(|der| EncodingKey::from_rsa_der(der.as_bytes()))
            })
            .transpose()
            .map_err(|_| Error::InvalidKey("cannot encode the RSA key".into()))?;
        let decoding = DecodingKey::from_rsa_raw_components(
            &public.n().to_bytes_be(),
            &public.e().to_bytes_be(),
        );
        let public = PublicKey::Rsa(public);
        Ok(Self {
            algorithm: Algorithm::Rs256,
            jwa: jsonwebtoken::Algorithm::RS256,
            encoding,
            decoding,
            thumbprint: public.params().thumbprint(),
            public: Some(public),
        })
    }

    pub(crate) fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub(crate) fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    pub(crate) fn can_sign(&self) -> bool {
        self.encoding.is_some()
    }

    /// The public JWK members, for asymmetric keys.
    pub(crate) fn public_params(&self) -> Option<JwkParams> {
        self.public.as_ref().map(PublicKey::params)
    }

    pub(crate) fn export_private(&self) -> Result<SecretString> {
        let encoding = self.encoding.as_ref().ok_or_else(no_private_material)?;
        let der = encoding.as_bytes();
        let unreadable = || Error::Internal("stored key material does not parse".into());
        let exported: pkcs8::Result<Zeroizing<String>> = match self.algorithm {
            Algorithm::EdDsa => SigningKey::from_pkcs8_der(der)
                .map_err(|_| unreadable())?
                .to_pkcs8_pem(LineEnding::LF),
            Algorithm::Es256 => p256::SecretKey::from_pkcs8_der(der)
                .map_err(|_| unreadable())?
                .to_pkcs8_pem(LineEnding::LF),
            Algorithm::Rs256 => RsaPrivateKey::from_pkcs1_der(der)
                .map_err(|_| unreadable())?
                .to_pkcs8_pem(LineEnding::LF),
            Algorithm::Hs256 => Ok(Zeroizing::new(URL_SAFE_NO_PAD.encode(der))),
            #[cfg(feature = "paseto")]
            Algorithm::PasetoV4Public | Algorithm::PasetoV4Local => return Err(unreadable()),
        };
        let exported =
            exported.map_err(|_| Error::Internal("cannot encode the private key".into()))?;
        Ok(SecretString::from(exported.as_str()))
    }

    pub(crate) fn export_public(&self) -> Result<String> {
        let public = self.public.as_ref().ok_or_else(|| {
            Error::Config("HS256 keys are shared secrets and have no public half".into())
        })?;
        match public {
            PublicKey::Ed25519(key) => key.to_public_key_pem(LineEnding::LF),
            PublicKey::P256(key) => key.to_public_key_pem(LineEnding::LF),
            PublicKey::Rsa(key) => key.to_public_key_pem(LineEnding::LF),
        }
        .map_err(|_| Error::Internal("cannot encode the public key".into()))
    }
}

impl PublicKey {
    fn params(&self) -> JwkParams {
        match self {
            Self::Ed25519(key) => JwkParams::Okp {
                x: URL_SAFE_NO_PAD.encode(key.as_bytes()),
            },
            Self::P256(key) => {
                let point = key.to_encoded_point(false);
                let coordinate = |c: Option<&p256::FieldBytes>| {
                    c.map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
                        .unwrap_or_default()
                };
                JwkParams::Ec {
                    x: coordinate(point.x()),
                    y: coordinate(point.y()),
                }
            }
            Self::Rsa(key) => JwkParams::Rsa {
                n: URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
                e: URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
            },
        }
    }
}

fn no_private_material() -> Error {
    Error::Config("a verification-only key has no private material".into())
}

#[cfg(feature = "paseto")]
fn not_a_jwt_algorithm() -> Error {
    Error::InvalidKey("not a JWT algorithm".into())
}

/// The JOSE header we write.
#[derive(Serialize)]
struct HeaderOut<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// The JOSE header we read: what we use, and what we refuse to see at all.
#[derive(Deserialize)]
struct HeaderIn<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    typ: Option<Cow<'a, str>>,
    #[serde(default)]
    jwk: Present,
    #[serde(default)]
    jku: Present,
    #[serde(default)]
    x5u: Present,
    #[serde(default)]
    x5c: Present,
    /// Extensions the recipient must understand: we understand none.
    #[serde(default)]
    crit: Present,
}

impl HeaderIn<'_> {
    fn carries_keys_or_extensions(&self) -> bool {
        [self.jwk, self.jku, self.x5u, self.x5c, self.crit]
            .iter()
            .any(|present| present.0)
    }
}

/// Whether a header member is there at all, whatever its value (even `null`).
#[derive(Debug, Clone, Copy, Default)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer)?;
        Ok(Self(true))
    }
}

/// Signs `claims` (already JSON) with `key`, writing `alg`, `typ` and `kid` in the header.
pub(crate) fn sign(key: &JwtKey, kid: &KeyId, kind: TokenKind, claims: &[u8]) -> Result<String> {
    let encoding = key.encoding.as_ref().ok_or_else(no_private_material)?;
    let header = HeaderOut {
        alg: key.algorithm.name(),
        typ: kind.media_type(),
        kid: kid.as_str(),
    };
    let header = serde_json::to_vec(&header)
        .map_err(|_| Error::Internal("cannot encode the JWT header".into()))?;
    let mut token = String::with_capacity((header.len() + claims.len()) * 4 / 3 + 360);
    URL_SAFE_NO_PAD.encode_string(&header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(claims, &mut token);
    let signature = jsonwebtoken::crypto::sign(token.as_bytes(), encoding, key.jwa)
        .map_err(|_| Error::Internal("JWT signing failed".into()))?;
    token.push('.');
    token.push_str(&signature);
    Ok(token)
}

/// Verifies a compact JWT as a token of `kind`, returning its claims (not yet validated).
pub(crate) fn verify<C: DeserializeOwned>(
    keys: &KeySet,
    token: &str,
    kind: TokenKind,
) -> std::result::Result<Claims<C>, TokenRejection> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenRejection::Malformed);
    };
    let header_json = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| TokenRejection::Malformed)?;
    let header: HeaderIn<'_> =
        serde_json::from_slice(&header_json).map_err(|_| TokenRejection::Malformed)?;

    if header.carries_keys_or_extensions() {
        return Err(TokenRejection::ForbiddenHeader);
    }
    if header.alg.eq_ignore_ascii_case("none") {
        return Err(TokenRejection::AlgorithmMismatch);
    }
    let kid = header
        .kid
        .as_deref()
        .filter(|kid| KeyId::is_valid(kid))
        .ok_or(TokenRejection::UnknownKey)?;
    let key = keys
        .get(kid)
        .ok_or(TokenRejection::UnknownKey)?
        .as_jwt()
        .ok_or(TokenRejection::AlgorithmMismatch)?;
    if header.alg != key.algorithm.name() {
        return Err(TokenRejection::AlgorithmMismatch);
    }

    let message = &token[..header_b64.len() + 1 + payload_b64.len()];
    match jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key.decoding, key.jwa) {
        Ok(true) => {}
        Ok(false) => return Err(TokenRejection::BadSignature),
        Err(error) if matches!(error.kind(), ErrorKind::Base64(_)) => {
            return Err(TokenRejection::Malformed);
        }
        Err(_) => return Err(TokenRejection::BadSignature),
    }

    if !kind.matches_typ(header.typ.as_deref()) {
        return Err(TokenRejection::WrongType);
    }
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| TokenRejection::Malformed)?;
    serde_json::from_slice(&payload).map_err(|_| TokenRejection::Malformed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use secrecy::ExposeSecret;
    use serde_json::{Value, json};

    use super::*;
    use crate::token::test_support::{
        clock, config, issue, key, reject, rsa_fixture, tokens, verifier,
    };
    use crate::token::{Key, NewToken};

    fn b64(json: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(json).unwrap())
    }

    fn parts(token: &str) -> (Value, Value, String) {
        let mut parts = token.split('.');
        let mut decode = || -> Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap()
        };
        let header = decode();
        let payload = decode();
        (header, payload, parts.next().unwrap().to_owned())
    }

    /// A token with any header and payload, HMAC-signed with `secret`.
    fn hmac_token(header: &Value, payload: &Value, secret: &[u8]) -> String {
        let message = format!("{}.{}", b64(header), b64(payload));
        let key = EncodingKey::from_secret(secret);
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::HS256)
                .unwrap();
        format!("{message}.{signature}")
    }

    /// Re-signs a token's (possibly edited) header and payload with the key's own algorithm.
    fn resign(key: &Key, header: &Value, payload: &Value) -> String {
        let jwt = key.as_jwt().unwrap();
        let message = format!("{}.{}", b64(header), b64(payload));
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), jwt.encoding.as_ref().unwrap(), jwt.jwa)
                .unwrap();
        format!("{message}.{signature}")
    }

    #[test]
    fn header_names_the_algorithm_the_key_and_the_type() {
        let key = key(Algorithm::EdDsa);
        let (issuer, _) = tokens(KeySet::new(key.clone()).unwrap());
        let token = issue(&issuer);
        let (header, payload, _) = parts(&token);
        assert_eq!(
            header,
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": key.id().as_str()})
        );
        assert!(payload["exp"].is_i64(), "JWT times are NumericDate");
    }

    #[test]
    fn alg_none_is_refused_in_any_case() {
        let key = key(Algorithm::Hs256);
        let verifier = verifier(KeySet::new(key.clone()).unwrap());
        let (issuer, _) = tokens(KeySet::new(key.clone()).unwrap());
        let (_, payload, _) = parts(&issue(&issuer));
        for none in ["none", "None", "NONE", "nOnE"] {
            let header = json!({"alg": none, "typ": "at+jwt", "kid": key.id().as_str()});
            let unsigned = format!("{}.{}.", b64(&header), b64(&payload));
            assert_eq!(
                reject(&verifier, &unsigned),
                TokenRejection::AlgorithmMismatch,
                "{none}"
            );
            let without_kid = json!({"alg": none, "typ": "at+jwt"});
            let unsigned = format!("{}.{}.", b64(&without_kid), b64(&payload));
            assert_eq!(
                reject(&verifier, &unsigned),
                TokenRejection::AlgorithmMismatch
            );
        }
    }

    #[test]
    fn hs256_signed_with_a_public_key_is_refused() {
        for algorithm in [Algorithm::Rs256, Algorithm::EdDsa, Algorithm::Es256] {
            let key = key(algorithm);
            let (issuer, verifier) = tokens(KeySet::new(key.clone()).unwrap());
            let (mut header, payload, _) = parts(&issue(&issuer));
            header["alg"] = json!("HS256");
            let public_pem = key.export_public().unwrap();
            let jwt = key.as_jwt().unwrap();
            let raw_public = jwt.decoding.try_get_as_bytes().unwrap_or_default().to_vec();
            for secret in [public_pem.as_bytes(), &raw_public] {
                let forged = hmac_token(&header, &payload, secret);
                assert_eq!(
                    reject(&verifier, &forged),
                    TokenRejection::AlgorithmMismatch,
                    "{algorithm}"
                );
            }
        }
    }

    #[test]
    fn an_algorithm_other_than_the_keys_is_refused() {
        let key = key(Algorithm::EdDsa);
        let (issuer, verifier) = tokens(KeySet::new(key.clone()).unwrap());
        let (mut header, payload, _) = parts(&issue(&issuer));
        for alg in ["ES256", "eddsa", "EDDSA", "Ed25519", "RS256", "PS256", ""] {
            header["alg"] = json!(alg);
            let token = resign(&key, &header, &payload);
            assert_eq!(
                reject(&verifier, &token),
                TokenRejection::AlgorithmMismatch,
                "{alg}"
            );
        }
    }

    #[test]
    fn unknown_kid_is_refused() {
        let signing = key(Algorithm::EdDsa);
        let (issuer, _) = tokens(KeySet::new(signing).unwrap());
        let verifier = verifier(KeySet::new(key(Algorithm::EdDsa)).unwrap());
        assert_eq!(
            reject(&verifier, &issue(&issuer)),
            TokenRejection::UnknownKey
        );
    }

    #[test]
    fn missing_or_non_string_kid_is_refused() {
        let key = key(Algorithm::Hs256);
        let (issuer, verifier) = tokens(KeySet::new(key.clone()).unwrap());
        let (mut header, payload, _) = parts(&issue(&issuer));
        header.as_object_mut().unwrap().remove("kid");
        let token = resign(&key, &header, &payload);
        assert_eq!(reject(&verifier, &token), TokenRejection::UnknownKey);
        header["kid"] = json!(5);
        let token = resign(&key, &header, &payload);
        assert_eq!(reject(&verifier, &token), TokenRejection::Malformed);
    }

    #[test]
    fn hostile_kids_are_just_unknown_keys() {
        let key = key(Algorithm::Hs256);
        let keys = KeySet::new(key.clone()).unwrap();
        let (issuer, verifier) = tokens(keys.clone());
        let (mut header, payload, _) = parts(&issue(&issuer));
        let huge = "A".repeat(10 * 1024);
        for kid in [
            "../../etc/passwd",
            "' OR 1=1 --",
            "kid\u{0}with nul",
            "%2e%2e%2f",
            huge.as_str(),
        ] {
            header["kid"] = json!(kid);
            let token = resign(&key, &header, &payload);
            let roomy = crate::token::TokenVerifier::new(
                Arc::new(keys.clone()),
                crate::token::TokenConfig {
                    max_token_len: 64 * 1024,
                    ..config()
                },
                clock(),
            )
            .unwrap();
            assert_eq!(
                reject(&roomy, &token),
                TokenRejection::UnknownKey,
                "{kid:.20}"
            );
            let expected = if token.len() > config().max_token_len {
                TokenRejection::TooLarge
            } else {
                TokenRejection::UnknownKey
            };
            assert_eq!(reject(&verifier, &token), expected);
        }
    }

    #[test]
    fn embedded_key_headers_are_refused() {
        let key = key(Algorithm::EdDsa);
        let (issuer, verifier) = tokens(KeySet::new(key.clone()).unwrap());
        let jwk = json!({"kty": "oct", "k": "AAAA"});
        for (name, value) in [
            ("jwk", jwk),
            ("jku", json!("https://attacker.example/jwks.json")),
            ("x5u", json!("https://attacker.example/cert.pem")),
            ("x5c", json!(["MIIB"])),
            ("crit", json!(["exp"])),
            ("jwk", Value::Null),
        ] {
            let (mut header, payload, _) = parts(&issue(&issuer));
            header[name] = value;
            let token = resign(&key, &header, &payload);
            assert_eq!(
                reject(&verifier, &token),
                TokenRejection::ForbiddenHeader,
                "{name}"
            );
        }
    }

    #[test]
    fn tampered_payload_is_refused() {
        let key = key(Algorithm::Es256);
        let (issuer, verifier) = tokens(KeySet::new(key).unwrap());
        let token = issue(&issuer);
        let (_, mut payload, _) = parts(&token);
        payload["sub"] = json!("admin");
        let mut pieces: Vec<&str> = token.split('.').collect();
        let forged_payload = b64(&payload);
        pieces[1] = &forged_payload;
        assert_eq!(
            reject(&verifier, &pieces.join(".")),
            TokenRejection::BadSignature
        );
    }

    #[test]
    fn tampered_signature_is_refused() {
        for algorithm in [
            Algorithm::EdDsa,
            Algorithm::Es256,
            Algorithm::Rs256,
            Algorithm::Hs256,
        ] {
            let (issuer, verifier) = tokens(KeySet::new(key(algorithm)).unwrap());
            let token = issue(&issuer);
            let (head, signature) = token.rsplit_once('.').unwrap();
            let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
            bytes[10] ^= 1;
            let forged = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&bytes));
            assert_eq!(
                reject(&verifier, &forged),
                TokenRejection::BadSignature,
                "{algorithm}"
            );
            let truncated = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&bytes[..8]));
            assert_eq!(
                reject(&verifier, &truncated),
                TokenRejection::BadSignature,
                "{algorithm}"
            );
        }
    }

    #[test]
    fn a_signature_that_is_not_base64url_is_malformed() {
        let (issuer, verifier) = tokens(KeySet::new(key(Algorithm::EdDsa)).unwrap());
        let token = issue(&issuer);
        let (head, _) = token.rsplit_once('.').unwrap();
        assert_eq!(
            reject(&verifier, &format!("{head}.not+base64/==")),
            TokenRejection::Malformed
        );
    }

    #[test]
    fn tokens_without_three_parts_are_malformed() {
        let (issuer, verifier) = tokens(KeySet::new(key(Algorithm::EdDsa)).unwrap());
        let token = issue(&issuer);
        let (head, _) = token.rsplit_once('.').unwrap();
        for bad in [
            head.to_owned(),
            format!("{token}.extra"),
            String::new(),
            "eyJ".into(),
            "...".into(),
        ] {
            assert_eq!(reject(&verifier, &bad), TokenRejection::Malformed, "{bad}");
        }
    }

    #[test]
    fn a_header_that_is_not_a_json_object_is_malformed() {
        let (_, verifier) = tokens(KeySet::new(key(Algorithm::EdDsa)).unwrap());
        for header in [json!("EdDSA"), json!([1]), json!({"kid": "x"})] {
            let token = format!("{}.{}.AAAA", b64(&header), b64(&json!({})));
            assert_eq!(reject(&verifier, &token), TokenRejection::Malformed);
        }
        let duplicate = URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA","alg":"none"}"#);
        assert_eq!(
            reject(&verifier, &format!("{duplicate}.e30.AAAA")),
            TokenRejection::Malformed
        );
    }

    #[test]
    fn a_token_without_typ_is_of_the_wrong_type() {
        let key = key(Algorithm::EdDsa);
        let (issuer, verifier) = tokens(KeySet::new(key.clone()).unwrap());
        let (mut header, payload, _) = parts(&issue(&issuer));
        header.as_object_mut().unwrap().remove("typ");
        let token = resign(&key, &header, &payload);
        assert_eq!(reject(&verifier, &token), TokenRejection::WrongType);
        header["typ"] = json!("JWT");
        let token = resign(&key, &header, &payload);
        assert_eq!(reject(&verifier, &token), TokenRejection::WrongType);
    }

    #[test]
    fn typ_with_the_application_prefix_is_accepted() {
        let key = key(Algorithm::EdDsa);
        let (issuer, verifier) = tokens(KeySet::new(key.clone()).unwrap());
        let (mut header, payload, _) = parts(&issue(&issuer));
        header["typ"] = json!("application/at+jwt");
        let token = resign(&key, &header, &payload);
        let claims: Claims = verifier.verify_access(&token).unwrap();
        assert_eq!(claims.sub, "user-1");
    }

    #[test]
    fn an_audience_array_containing_ours_is_accepted() {
        let key = key(Algorithm::EdDsa);
        let (issuer, verifier) = tokens(KeySet::new(key.clone()).unwrap());
        let (header, mut payload, _) = parts(&issue(&issuer));
        payload["aud"] = json!(["web", config().audience]);
        let token = resign(&key, &header, &payload);
        let claims: Claims = verifier.verify_access(&token).unwrap();
        assert!(claims.aud.contains("web"));
        payload["aud"] = json!(["web", "admin"]);
        let token = resign(&key, &header, &payload);
        assert_eq!(reject(&verifier, &token), TokenRejection::WrongAudience);
    }

    #[test]
    fn claims_of_the_wrong_shape_are_malformed() {
        let key = key(Algorithm::EdDsa);
        let (issuer, verifier) = tokens(KeySet::new(key.clone()).unwrap());
        let (header, payload, _) = parts(&issue(&issuer));
        let mut broken = payload.clone();
        broken["exp"] = json!("tomorrow");
        assert_eq!(
            reject(&verifier, &resign(&key, &header, &broken)),
            TokenRejection::Malformed
        );
        let mut broken = payload;
        broken.as_object_mut().unwrap().remove("exp");
        assert_eq!(
            reject(&verifier, &resign(&key, &header, &broken)),
            TokenRejection::Malformed
        );
    }

    #[test]
    fn hs256_secrets_shorter_than_32_bytes_are_refused() {
        assert!(matches!(
            Key::from_hmac_secret(&[1u8; 31]),
            Err(Error::InvalidKey(_))
        ));
        assert!(Key::from_hmac_secret(&[1u8; 32]).is_ok());
        let short = URL_SAFE_NO_PAD.encode([1u8; 16]);
        assert!(matches!(
            Key::import(Algorithm::Hs256, &short),
            Err(Error::InvalidKey(_))
        ));
    }

    #[test]
    fn rsa_keys_load_from_pkcs8_pkcs1_and_spki_to_the_same_key() {
        let pkcs8 = rsa_fixture();
        let pkcs1 = Key::from_pem(
            Algorithm::Rs256,
            include_str!("testdata/rsa-2048-pkcs1.pem"),
        )
        .unwrap();
        let spki = Key::from_pem(
            Algorithm::Rs256,
            include_str!("testdata/rsa-2048-public.pem"),
        )
        .unwrap();
        let pkcs1_public = Key::from_pem(
            Algorithm::Rs256,
            include_str!("testdata/rsa-2048-public-pkcs1.pem"),
        )
        .unwrap();
        for other in [&pkcs1, &spki, &pkcs1_public] {
            assert_eq!(other.id(), pkcs8.id());
        }
        assert!(pkcs1.can_sign());
        assert!(!spki.can_sign());
        assert!(!pkcs1_public.can_sign());
    }

    #[test]
    fn pem_fixtures_from_openssl_load() {
        for (algorithm, private, public) in [
            (
                Algorithm::EdDsa,
                include_str!("testdata/ed25519.pem"),
                include_str!("testdata/ed25519-public.pem"),
            ),
            (
                Algorithm::Es256,
                include_str!("testdata/p256.pem"),
                include_str!("testdata/p256-public.pem"),
            ),
        ] {
            let private = Key::from_pem(algorithm, private).unwrap();
            let public = Key::from_pem(algorithm, public).unwrap();
            assert_eq!(private.id(), public.id());
            let keys = KeySet::new(private)
                .unwrap()
                .with_verification_key(public.clone().with_id("public").unwrap())
                .unwrap();
            let (issuer, _) = tokens(keys);
            let verifier = verifier(
                KeySet::verification_only()
                    .with_verification_key(public)
                    .unwrap(),
            );
            let claims: Claims = verifier.verify_access(&issue(&issuer)).unwrap();
            assert_eq!(claims.sub, "user-1");
        }
    }

    #[test]
    fn rsa_keys_shorter_than_2048_bits_are_refused() {
        assert!(matches!(
            Key::from_pem(Algorithm::Rs256, include_str!("testdata/rsa-1024.pem")),
            Err(Error::InvalidKey(_))
        ));
    }

    #[test]
    fn pem_of_another_key_type_is_refused() {
        let ed = include_str!("testdata/ed25519.pem");
        let p256 = include_str!("testdata/p256.pem");
        let rsa = include_str!("testdata/rsa-2048.pem");
        for (algorithm, pem) in [
            (Algorithm::Es256, ed),
            (Algorithm::Rs256, ed),
            (Algorithm::EdDsa, p256),
            (Algorithm::EdDsa, rsa),
            (Algorithm::Es256, rsa),
            (Algorithm::Hs256, ed),
            (Algorithm::EdDsa, "not a pem"),
        ] {
            assert!(
                matches!(Key::from_pem(algorithm, pem), Err(Error::InvalidKey(_))),
                "{algorithm}"
            );
        }
    }

    #[test]
    fn rs256_keys_can_be_generated() {
        let key = Key::generate(Algorithm::Rs256).unwrap();
        let (issuer, verifier) = tokens(KeySet::new(key).unwrap());
        let claims: Claims = verifier.verify_access(&issue(&issuer)).unwrap();
        assert_eq!(claims.sub, "user-1");
    }

    #[test]
    fn with_id_renames_a_jwt_key_after_checking_the_id() {
        let key = key(Algorithm::EdDsa);
        let renamed = key.clone().with_id("2025-01").unwrap();
        assert_eq!(renamed.id().as_str(), "2025-01");
        assert!(matches!(key.clone().with_id(""), Err(Error::Config(_))));
        assert!(matches!(
            key.clone().with_id("x".repeat(257)),
            Err(Error::Config(_))
        ));
        assert!(matches!(key.with_id("a b"), Err(Error::Config(_))));

        let (issuer, verifier) = tokens(KeySet::new(renamed).unwrap());
        let issued = issuer.issue_access(NewToken::new("user-1")).unwrap();
        assert_eq!(issued.kid.as_str(), "2025-01");
        let (header, _, _) = parts(issued.token.expose_secret());
        assert_eq!(header["kid"], "2025-01");
        assert!(
            verifier
                .verify_access::<crate::token::NoCustomClaims>(issued.token.expose_secret())
                .is_ok()
        );
    }
}
