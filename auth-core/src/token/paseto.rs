//! PASETO v4 tokens (`v4.public` and `v4.local`) through `pasetors`' version 4 primitives.
//!
//! The footer is authenticated JSON, `{"kid":"k4.pid.…","typ":"at+jwt"}`: the PASERK id names
//! the key and `typ` the kind of token. Registered time claims travel as RFC 3339 strings, as
//! the PASETO specification requires, and are converted to and from the NumericDate seconds of
//! [`Claims`]. `pasetors`' own claim validation (no leeway) is not used: both formats go through
//! [`super::validation`].

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pasetors::errors::Error as PasetoError;
use pasetors::keys::{
    AsymmetricKeyPair, AsymmetricPublicKey, AsymmetricSecretKey, Generate, SymmetricKey,
};
use pasetors::paserk::{FormatAsPaserk, Id};
use pasetors::token::UntrustedToken;
use pasetors::version4::{LocalToken, PublicToken, V4};
use pasetors::{Local, Public};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use crate::error::{Error, Result, TokenRejection};

use super::claims::{Claims, TokenKind};
use super::key::{Algorithm, KeyId, KeySet};

/// The claims PASETO registers as RFC 3339 date-times.
const TIME_CLAIMS: [&str; 3] = ["exp", "iat", "nbf"];

/// A PASETO v4 key and its PASERK id.
#[derive(Clone)]
pub(crate) struct PasetoKey {
    id: String,
    material: PasetoMaterial,
}

#[derive(Clone)]
enum PasetoMaterial {
    Public {
        secret: Option<AsymmetricSecretKey<V4>>,
        public: AsymmetricPublicKey<V4>,
    },
    Local(SymmetricKey<V4>),
}

impl PasetoKey {
    pub(crate) fn generate(algorithm: Algorithm) -> Result<Self> {
        let failed = |_| Error::Internal("PASETO key generation failed".into());
        match algorithm {
            Algorithm::PasetoV4Public => {
                let pair = AsymmetricKeyPair::<V4>::generate().map_err(failed)?;
                Self::public(Some(pair.secret), pair.public)
            }
            Algorithm::PasetoV4Local => {
                Self::local(SymmetricKey::<V4>::generate().map_err(failed)?)
            }
            #[cfg(feature = "jwt")]
            Algorithm::EdDsa | Algorithm::Es256 | Algorithm::Rs256 | Algorithm::Hs256 => {
                Err(Error::InvalidKey("not a PASETO algorithm".into()))
            }
        }
    }

    pub(crate) fn from_paserk(paserk: &str) -> Result<Self> {
        let invalid = || Error::InvalidKey("not a k4.secret, k4.public or k4.local PASERK".into());
        let decode = |body: &str, len: usize| -> Result<Zeroizing<Vec<u8>>> {
            let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(body).map_err(|_| invalid())?);
            if bytes.len() == len {
                Ok(bytes)
            } else {
                Err(invalid())
            }
        };
        if let Some(body) = paserk.strip_prefix("k4.secret.") {
            let bytes = decode(body, 64)?;
            // pasetors panics on an all-zero Ed25519 seed: refuse it first.
            if bytes[..32].iter().all(|b| *b == 0) {
                return Err(invalid());
            }
            let secret = AsymmetricSecretKey::<V4>::from(&bytes).map_err(|_| invalid())?;
            let public = AsymmetricPublicKey::<V4>::try_from(&secret).map_err(|_| invalid())?;
            Self::public(Some(secret), public)
        } else if let Some(body) = paserk.strip_prefix("k4.public.") {
            let public =
                AsymmetricPublicKey::<V4>::from(&decode(body, 32)?).map_err(|_| invalid())?;
            Self::public(None, public)
        } else if let Some(body) = paserk.strip_prefix("k4.local.") {
            Self::local(SymmetricKey::<V4>::from(&decode(body, 32)?).map_err(|_| invalid())?)
        } else {
            Err(invalid())
        }
    }

    fn public(
        secret: Option<AsymmetricSecretKey<V4>>,
        public: AsymmetricPublicKey<V4>,
    ) -> Result<Self> {
        Ok(Self {
            id: paserk(&Id::from(&public))?.to_string(),
            material: PasetoMaterial::Public { secret, public },
        })
    }

    fn local(key: SymmetricKey<V4>) -> Result<Self> {
        Ok(Self {
            id: paserk(&Id::from(&key))?.to_string(),
            material: PasetoMaterial::Local(key),
        })
    }

    /// The PASERK id: `k4.pid.…` for public keys (also when we hold the secret half, since
    /// verifiers only know the public one), `k4.lid.…` for local keys.
    pub(crate) fn paserk_id(&self) -> String {
        self.id.clone()
    }

    pub(crate) fn algorithm(&self) -> Algorithm {
        match self.material {
            PasetoMaterial::Public { .. } => Algorithm::PasetoV4Public,
            PasetoMaterial::Local(_) => Algorithm::PasetoV4Local,
        }
    }

    pub(crate) fn can_sign(&self) -> bool {
        match &self.material {
            PasetoMaterial::Public { secret, .. } => secret.is_some(),
            PasetoMaterial::Local(_) => true,
        }
    }

    pub(crate) fn export_private(&self) -> Result<SecretString> {
        let exported = match &self.material {
            PasetoMaterial::Public {
                secret: Some(secret),
                ..
            } => paserk(secret)?,
            PasetoMaterial::Public { secret: None, .. } => {
                return Err(Error::Config(
                    "a verification-only key has no private material".into(),
                ));
            }
            PasetoMaterial::Local(key) => paserk(key)?,
        };
        Ok(SecretString::from(exported.as_str()))
    }

    pub(crate) fn export_public(&self) -> Result<String> {
        match &self.material {
            PasetoMaterial::Public { public, .. } => Ok(paserk(public)?.to_string()),
            PasetoMaterial::Local(_) => Err(Error::Config(
                "v4.local keys are shared secrets and have no public half".into(),
            )),
        }
    }
}

/// Formats anything PASERK can express, in a string that is wiped when dropped.
fn paserk(value: &dyn FormatAsPaserk) -> Result<Zeroizing<String>> {
    let mut out = Zeroizing::new(String::with_capacity(128));
    value
        .fmt(&mut *out)
        .map_err(|_| Error::Internal("cannot format PASERK".into()))?;
    Ok(out)
}

/// The footer we write.
#[derive(Serialize)]
struct FooterOut<'a> {
    kid: &'a str,
    typ: &'a str,
}

/// The footer we read.
#[derive(Deserialize)]
struct FooterIn<'a> {
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    typ: Option<Cow<'a, str>>,
}

/// Issues a PASETO token carrying `claims` (our JSON form, NumericDate times).
pub(crate) fn issue(
    key: &PasetoKey,
    kid: &KeyId,
    kind: TokenKind,
    claims: Value,
    implicit_assertion: Option<&[u8]>,
) -> Result<String> {
    let internal = |what: &str| Error::Internal(format!("cannot {what} the PASETO token"));
    let payload = serde_json::to_vec(&times_to_rfc3339(claims)?).map_err(|_| internal("encode"))?;
    let footer = FooterOut {
        kid: kid.as_str(),
        typ: kind.media_type(),
    };
    let footer = serde_json::to_vec(&footer).map_err(|_| internal("encode"))?;
    match &key.material {
        PasetoMaterial::Public {
            secret: Some(secret),
            ..
        } => PublicToken::sign(secret, &payload, Some(&footer), implicit_assertion)
            .map_err(|_| internal("sign")),
        PasetoMaterial::Public { secret: None, .. } => Err(Error::Config(
            "a verification-only key cannot issue tokens".into(),
        )),
        PasetoMaterial::Local(key) => {
            LocalToken::encrypt(key, &payload, Some(&footer), implicit_assertion)
                .map_err(|_| internal("encrypt"))
        }
    }
}

/// Verifies a `v4.public` or `v4.local` token as a token of `kind`, returning its claims (not
/// yet validated).
pub(crate) fn verify<C: DeserializeOwned>(
    keys: &KeySet,
    token: &str,
    kind: TokenKind,
    implicit_assertion: Option<&[u8]>,
) -> std::result::Result<Claims<C>, TokenRejection> {
    if token.starts_with(PublicToken::HEADER) {
        let untrusted =
            UntrustedToken::<Public, V4>::try_from(token).map_err(|_| TokenRejection::Malformed)?;
        let footer = parse_footer(untrusted.untrusted_footer())?;
        let PasetoMaterial::Public { public, .. } = &key_for(keys, &footer)?.material else {
            return Err(TokenRejection::AlgorithmMismatch);
        };
        let trusted = PublicToken::verify(public, &untrusted, None, implicit_assertion)
            .map_err(verification_failure)?;
        authenticated_claims(trusted.payload(), &footer, kind)
    } else if token.starts_with(LocalToken::HEADER) {
        let untrusted =
            UntrustedToken::<Local, V4>::try_from(token).map_err(|_| TokenRejection::Malformed)?;
        let footer = parse_footer(untrusted.untrusted_footer())?;
        let PasetoMaterial::Local(local) = &key_for(keys, &footer)?.material else {
            return Err(TokenRejection::AlgorithmMismatch);
        };
        let trusted = LocalToken::decrypt(local, &untrusted, None, implicit_assertion)
            .map_err(verification_failure)?;
        authenticated_claims(trusted.payload(), &footer, kind)
    } else {
        Err(TokenRejection::Malformed)
    }
}

/// Parses the (not yet authenticated) footer, for its key id only.
fn parse_footer(footer: &[u8]) -> std::result::Result<FooterIn<'_>, TokenRejection> {
    if footer.is_empty() {
        return Err(TokenRejection::UnknownKey);
    }
    serde_json::from_slice(footer).map_err(|_| TokenRejection::Malformed)
}

fn key_for<'k>(
    keys: &'k KeySet,
    footer: &FooterIn<'_>,
) -> std::result::Result<&'k PasetoKey, TokenRejection> {
    let kid = footer
        .kid
        .as_deref()
        .filter(|kid| KeyId::is_valid(kid))
        .ok_or(TokenRejection::UnknownKey)?;
    keys.get(kid)
        .ok_or(TokenRejection::UnknownKey)?
        .as_paseto()
        .ok_or(TokenRejection::AlgorithmMismatch)
}

fn verification_failure(error: PasetoError) -> TokenRejection {
    match error {
        PasetoError::TokenValidation => TokenRejection::BadSignature,
        _ => TokenRejection::Malformed,
    }
}

/// Type check and claims of a token whose payload and footer have been authenticated.
fn authenticated_claims<C: DeserializeOwned>(
    payload: &str,
    footer: &FooterIn<'_>,
    kind: TokenKind,
) -> std::result::Result<Claims<C>, TokenRejection> {
    if !kind.matches_typ(footer.typ.as_deref()) {
        return Err(TokenRejection::WrongType);
    }
    let payload: Value = serde_json::from_str(payload).map_err(|_| TokenRejection::Malformed)?;
    serde_json::from_value(times_from_rfc3339(payload)?).map_err(|_| TokenRejection::Malformed)
}

fn times_to_rfc3339(mut claims: Value) -> Result<Value> {
    let object = claims
        .as_object_mut()
        .ok_or_else(|| Error::Internal("claims must serialize as a JSON object".into()))?;
    for name in TIME_CLAIMS {
        if let Some(time) = object.get_mut(name) {
            let formatted = time
                .as_i64()
                .and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok())
                .and_then(|time| time.format(&Rfc3339).ok())
                .ok_or_else(|| Error::Internal(format!("{name} is not a representable time")))?;
            *time = Value::String(formatted);
        }
    }
    Ok(claims)
}

fn times_from_rfc3339(mut claims: Value) -> std::result::Result<Value, TokenRejection> {
    let object: &mut Map<String, Value> =
        claims.as_object_mut().ok_or(TokenRejection::Malformed)?;
    for name in TIME_CLAIMS {
        if let Some(time) = object.get_mut(name) {
            let seconds = time
                .as_str()
                .and_then(|text| OffsetDateTime::parse(text, &Rfc3339).ok())
                .map(OffsetDateTime::unix_timestamp)
                .ok_or(TokenRejection::Malformed)?;
            *time = Value::from(seconds);
        }
    }
    Ok(claims)
}

#[cfg(test)]
mod tests;
