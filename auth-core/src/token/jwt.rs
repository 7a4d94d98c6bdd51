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
mod tests;
