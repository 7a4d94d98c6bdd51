//! JSON Web Tokens (RFC 7519) signed with EdDSA, ES256, RS256 or HS256.
//!
//! We split the token and parse the JOSE header ourselves, once, into a small struct; the key is
//! chosen by `kid` alone and the signature checked with that key's fixed algorithm through
//! `jsonwebtoken::crypto::verify`. The header's `alg` only has to agree with the key: it never
//! selects anything. Claims are validated by [`super::validation`], not by `jsonwebtoken`.
//!
//! Signatures are made and checked by aws-lc. RSA keys are generated, parsed and held as aws-lc
//! key pairs, and RS256 tokens signed with them directly: aws-lc's private-key operations run
//! in constant time, which the pure-Rust `rsa` crate's do not (RUSTSEC-2023-0071), and this
//! holds whatever `jsonwebtoken` provider a program installs. The other algorithms, and every
//! verification, go through `jsonwebtoken`'s process-wide provider: its `aws_lc_rs` backend,
//! installed on first use unless the program installed another first.

use std::borrow::Cow;
use std::sync::{Arc, Once};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    KeyPair as RsaKeyPair, KeySize, PublicKey as RsaPublicKey, PublicKeyComponents,
};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{SigningKey, VerifyingKey};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, EncodingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use pkcs8::der::pem as pem_text;
use pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
    PrivateKeyInfo,
};
use rand::RngCore;
use rand::rngs::OsRng;
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
/// The largest RSA modulus accepted: what aws-lc signs and verifies with.
const MAX_RSA_BITS: usize = 8192;
/// The smallest HS256 secret accepted, in bytes.
const MIN_HMAC_SECRET: usize = 32;

/// The public half of an asymmetric JWT key.
#[derive(Clone)]
enum PublicKey {
    Ed25519(VerifyingKey),
    P256(p256::PublicKey),
    Rsa(RsaPublicKey),
}

/// What signs: a `jsonwebtoken` key, or an aws-lc RSA key pair (RS256 never goes through the
/// process-wide provider).
#[derive(Clone)]
enum Signer {
    Jose(EncodingKey),
    Rsa(Arc<RsaKeyPair>),
}

/// A JWT key: its algorithm, the signing and `jsonwebtoken` keys built once, and its public half.
#[derive(Clone)]
pub(crate) struct JwtKey {
    algorithm: Algorithm,
    jwa: jsonwebtoken::Algorithm,
    signer: Option<Signer>,
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
                let private = RsaKeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| Error::Internal("RSA key generation failed".into()))?;
                Self::rsa_private(private)
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
            Algorithm::Rs256 => Self::rsa_from_pem(pem),
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
            signer: Some(Signer::Jose(EncodingKey::from_secret(secret))),
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
            signer: encoding.map(Signer::Jose),
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
            signer: encoding.map(Signer::Jose),
            decoding: DecodingKey::from_ec_der(point.as_bytes()),
            thumbprint: public.params().thumbprint(),
            public: Some(public),
        })
    }

    /// An RSA key from PEM: a PKCS#8 or PKCS#1 private key, or an SPKI or PKCS#1 public key,
    /// each under its own label.
    fn rsa_from_pem(pem: &str) -> Result<Self> {
        let not_rsa = || {
            Error::InvalidKey(
                "not an RSA PKCS#8 or PKCS#1 private key or SPKI or PKCS#1 public key in PEM"
                    .into(),
            )
        };
        let (label, der) = pem_text::decode_vec(pem.as_bytes()).map_err(|_| not_rsa())?;
        let der = Zeroizing::new(der);
        let unreadable =
            |_| Error::InvalidKey("an unreadable or inconsistent RSA private key".into());
        match label {
            "PRIVATE KEY" => {
                // Read first as any PKCS#8 key, so an RSA key too short or too long for aws-lc
                // is named as such rather than as unreadable.
                let info = PrivateKeyInfo::try_from(der.as_slice()).map_err(|_| not_rsa())?;
                if info.algorithm.oid != RSA_ENCRYPTION {
                    return Err(not_rsa());
                }
                check_rsa_size(modulus_of_pkcs1_private(info.private_key))?;
                Self::rsa_private(RsaKeyPair::from_pkcs8(&der).map_err(unreadable)?)
            }
            "RSA PRIVATE KEY" => {
                check_rsa_size(modulus_of_pkcs1_private(&der))?;
                Self::rsa_private(RsaKeyPair::from_der(&der).map_err(unreadable)?)
            }
            "PUBLIC KEY" => {
                let spki = pkcs8::spki::SubjectPublicKeyInfoRef::try_from(der.as_slice())
                    .map_err(|_| not_rsa())?;
                if spki.algorithm.oid != RSA_ENCRYPTION {
                    return Err(not_rsa());
                }
                let pkcs1 = spki.subject_public_key.as_bytes().ok_or_else(not_rsa)?;
                Self::rsa_public(pkcs1, not_rsa)
            }
            "RSA PUBLIC KEY" => Self::rsa_public(&der, not_rsa),
            _ => Err(not_rsa()),
        }
    }

    /// An RSA public key from its PKCS#1 encoding, its size named before aws-lc reads it;
    /// `malformed` for an encoding that is not one.
    fn rsa_public(pkcs1: &[u8], malformed: impl Fn() -> Error) -> Result<Self> {
        let (n, _) = pkcs1_integers(pkcs1).ok_or_else(&malformed)?;
        check_rsa_size(Some(n))?;
        let public = RsaPublicKey::from_der(pkcs1).map_err(|_| malformed())?;
        Self::rsa(None, public)
    }

    fn rsa_private(private: RsaKeyPair) -> Result<Self> {
        let public = private.public_key().clone();
        Self::rsa(Some(Signer::Rsa(Arc::new(private))), public)
    }

    fn rsa(signer: Option<Signer>, public: RsaPublicKey) -> Result<Self> {
        let components = PublicKeyComponents::<Vec<u8>>::from(&public);
        check_rsa_size(Some(&components.n))?;
        let decoding = DecodingKey::from_rsa_raw_components(&components.n, &components.e);
        let public = PublicKey::Rsa(public);
        Ok(Self {
            algorithm: Algorithm::Rs256,
            jwa: jsonwebtoken::Algorithm::RS256,
            signer,
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
        self.signer.is_some()
    }

    /// The public JWK members, for asymmetric keys.
    pub(crate) fn public_params(&self) -> Option<JwkParams> {
        self.public.as_ref().map(PublicKey::params)
    }

    pub(crate) fn export_private(&self) -> Result<SecretString> {
        let unreadable = || Error::Internal("stored key material does not parse".into());
        let der = match self.signer.as_ref().ok_or_else(no_private_material)? {
            Signer::Jose(encoding) => encoding.as_bytes(),
            Signer::Rsa(pair) => {
                let pkcs8: Pkcs8V1Der<'_> = pair.as_der().map_err(|_| unreadable())?;
                let pem = pem_text::encode_string("PRIVATE KEY", LineEnding::LF, pkcs8.as_ref())
                    .map_err(|_| unreadable())?;
                return Ok(SecretString::from(pem));
            }
        };
        let exported: pkcs8::Result<Zeroizing<String>> = match self.algorithm {
            Algorithm::EdDsa => SigningKey::from_pkcs8_der(der)
                .map_err(|_| unreadable())?
                .to_pkcs8_pem(LineEnding::LF),
            Algorithm::Es256 => p256::SecretKey::from_pkcs8_der(der)
                .map_err(|_| unreadable())?
                .to_pkcs8_pem(LineEnding::LF),
            Algorithm::Rs256 => return Err(unreadable()),
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
        let pem = match public {
            PublicKey::Ed25519(key) => key.to_public_key_pem(LineEnding::LF).ok(),
            PublicKey::P256(key) => key.to_public_key_pem(LineEnding::LF).ok(),
            PublicKey::Rsa(key) => key.as_der().ok().and_then(|spki: PublicKeyX509Der<'_>| {
                pem_text::encode_string("PUBLIC KEY", LineEnding::LF, spki.as_ref()).ok()
            }),
        };
        pem.ok_or_else(|| Error::Internal("cannot encode the public key".into()))
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
            Self::Rsa(key) => {
                let components = PublicKeyComponents::<Vec<u8>>::from(key);
                JwkParams::Rsa {
                    n: URL_SAFE_NO_PAD.encode(components.n),
                    e: URL_SAFE_NO_PAD.encode(components.e),
                }
            }
        }
    }
}

/// The bit length of a big-endian modulus.
fn modulus_bits(n: &[u8]) -> usize {
    let n = &n[n.iter().take_while(|&&byte| byte == 0).count()..];
    n.first().map_or(0, |&top| {
        (n.len() - 1) * 8 + (u8::BITS - top.leading_zeros()) as usize
    })
}

/// The object identifier of `rsaEncryption` (PKCS#1), the only RSA key algorithm accepted.
const RSA_ENCRYPTION: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Refuses a modulus outside [`MIN_RSA_BITS`]..=[`MAX_RSA_BITS`]; `None` (not found) passes,
/// for aws-lc to refuse.
fn check_rsa_size(modulus: Option<&[u8]>) -> Result<()> {
    let Some(bits) = modulus.map(modulus_bits) else {
        return Ok(());
    };
    if bits < MIN_RSA_BITS {
        return Err(Error::InvalidKey(format!(
            "RSA keys must have at least {MIN_RSA_BITS} bits"
        )));
    }
    if bits > MAX_RSA_BITS {
        return Err(Error::InvalidKey(format!(
            "RSA keys may have at most {MAX_RSA_BITS} bits"
        )));
    }
    Ok(())
}

/// The modulus of a PKCS#1 `RSAPrivateKey` (a version, then the modulus), if it parses.
fn modulus_of_pkcs1_private(der: &[u8]) -> Option<&[u8]> {
    pkcs1_integers(der).map(|(_, modulus)| modulus)
}

/// The first two INTEGERs of a DER SEQUENCE: `(n, e)` of an `RSAPublicKey`, `(version, n)` of
/// an `RSAPrivateKey`.
fn pkcs1_integers(der: &[u8]) -> Option<(&[u8], &[u8])> {
    use pkcs8::der::asn1::UintRef;
    use pkcs8::der::{Decode as _, Reader as _, SliceReader};

    let mut reader = SliceReader::new(der).ok()?;
    reader
        .sequence(|fields| {
            let first = UintRef::decode(fields)?;
            let second = UintRef::decode(fields)?;
            // The rest of the structure is aws-lc's to read.
            let rest = fields.remaining_len();
            fields.read_slice(rest)?;
            Ok((first.as_bytes(), second.as_bytes()))
        })
        .ok()
}

fn no_private_material() -> Error {
    Error::Config("a verification-only key has no private material".into())
}

#[cfg(feature = "paseto")]
fn not_a_jwt_algorithm() -> Error {
    Error::InvalidKey("not a JWT algorithm".into())
}

/// Installs `jsonwebtoken`'s aws-lc provider for the process, once. Without it, a program whose
/// dependencies turn on both of `jsonwebtoken`'s backends would panic at the first signature;
/// a program that installed a provider of its own keeps it.
pub(crate) fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
        );
    });
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
    if !key.can_sign() {
        return Err(no_private_material());
    }
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
    let signature = signature(key, token.as_bytes())?;
    token.push('.');
    token.push_str(&signature);
    Ok(token)
}

/// The base64url signature of `message` (a JWT's signing input) with `key`.
fn signature(key: &JwtKey, message: &[u8]) -> Result<String> {
    let failed = || Error::Internal("JWT signing failed".into());
    match key.signer.as_ref().ok_or_else(no_private_material)? {
        Signer::Jose(encoding) => {
            install_crypto_provider();
            jsonwebtoken::crypto::sign(message, encoding, key.jwa).map_err(|_| failed())
        }
        Signer::Rsa(pair) => {
            let mut signature = vec![0; pair.public_modulus_len()];
            pair.sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| failed())?;
            Ok(URL_SAFE_NO_PAD.encode(signature))
        }
    }
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
    install_crypto_provider();
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
