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
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use secrecy::ExposeSecret;
    use serde_json::json;

    use super::*;
    use crate::token::test_support::{clock, config, issue, key, reject, tokens, verifier};
    use crate::token::{Key, NewToken, TokenConfig, TokenIssuer, TokenVerifier};

    fn paseto(key: &Key) -> &PasetoKey {
        key.as_paseto().unwrap()
    }

    /// Splits a token into its prefix + body and its decoded footer.
    fn split(token: &str) -> (String, Value) {
        let (body, footer) = token.rsplit_once('.').unwrap();
        let footer = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(footer).unwrap()).unwrap();
        (body.to_owned(), footer)
    }

    fn with_footer(body: &str, footer: &Value) -> String {
        format!(
            "{body}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(footer).unwrap())
        )
    }

    /// Signs an arbitrary payload and footer with a `v4.public` key.
    fn sign_raw(key: &Key, payload: &Value, footer: &Value) -> String {
        let PasetoMaterial::Public {
            secret: Some(secret),
            ..
        } = &paseto(key).material
        else {
            panic!("not a v4.public signing key")
        };
        PublicToken::sign(
            secret,
            &serde_json::to_vec(payload).unwrap(),
            Some(&serde_json::to_vec(footer).unwrap()),
            None,
        )
        .unwrap()
    }

    /// The signed payload of a `v4.public` token (it is not encrypted).
    fn public_payload(token: &str) -> Value {
        let body = token
            .strip_prefix("v4.public.")
            .unwrap()
            .split('.')
            .next()
            .unwrap();
        let message = URL_SAFE_NO_PAD.decode(body).unwrap();
        serde_json::from_slice(&message[..message.len() - 64]).unwrap()
    }

    #[test]
    fn footer_names_the_key_by_paserk_id_and_the_type() {
        for algorithm in [Algorithm::PasetoV4Public, Algorithm::PasetoV4Local] {
            let key = key(algorithm);
            let prefix = match algorithm {
                Algorithm::PasetoV4Public => "k4.pid.",
                _ => "k4.lid.",
            };
            assert!(key.id().as_str().starts_with(prefix), "{}", key.id());
            let (issuer, _) = tokens(KeySet::new(key.clone()).unwrap());
            let token = issue(&issuer);
            assert!(token.starts_with(&format!("{}.", algorithm.name())));
            let (_, footer) = split(&token);
            assert_eq!(footer, json!({"kid": key.id().as_str(), "typ": "at+jwt"}));
        }
    }

    #[test]
    fn time_claims_travel_as_rfc_3339_strings() {
        let (issuer, _) = tokens(KeySet::new(key(Algorithm::PasetoV4Public)).unwrap());
        let payload = public_payload(&issue(&issuer));
        // test_support's clock stands at 2023-11-14T22:13:20Z.
        assert_eq!(payload["iat"], "2023-11-14T22:13:20Z");
        assert_eq!(payload["nbf"], "2023-11-14T22:13:20Z");
        assert_eq!(payload["exp"], "2023-11-14T22:28:20Z");
    }

    #[test]
    fn numeric_or_unparsable_time_claims_are_malformed() {
        let key = key(Algorithm::PasetoV4Public);
        let (issuer, verifier) = tokens(KeySet::new(key.clone()).unwrap());
        let token = issue(&issuer);
        let (_, footer) = split(&token);
        let good = public_payload(&token);
        for (name, value) in [
            ("exp", json!(1_700_000_900)),
            ("iat", json!("yesterday")),
            ("nbf", json!("2023-11-14 22:13:20")),
        ] {
            let mut payload = good.clone();
            payload[name] = value;
            let forged = sign_raw(&key, &payload, &footer);
            assert_eq!(
                reject(&verifier, &forged),
                TokenRejection::Malformed,
                "{name}"
            );
        }
        let fractional = {
            let mut payload = good;
            payload["iat"] = json!("2023-11-14T22:13:20.75+00:00");
            sign_raw(&key, &payload, &footer)
        };
        let claims: Claims = verifier.verify_access(&fractional).unwrap();
        assert_eq!(claims.iat, 1_700_000_000);
    }

    #[test]
    fn local_token_offered_to_a_public_keys_id_is_refused() {
        let local = key(Algorithm::PasetoV4Local);
        let public = key(Algorithm::PasetoV4Public);
        let keys = KeySet::new(local.clone())
            .unwrap()
            .with_verification_key(public.clone())
            .unwrap();
        let (issuer, verifier) = tokens(keys);
        let (body, mut footer) = split(&issue(&issuer));
        footer["kid"] = json!(public.id().as_str());
        assert_eq!(
            reject(&verifier, &with_footer(&body, &footer)),
            TokenRejection::AlgorithmMismatch
        );
    }

    #[test]
    fn public_token_offered_to_a_local_keys_id_is_refused() {
        let local = key(Algorithm::PasetoV4Local);
        let public = key(Algorithm::PasetoV4Public);
        let keys = KeySet::new(public)
            .unwrap()
            .with_verification_key(local.clone())
            .unwrap();
        let (issuer, verifier) = tokens(keys);
        let (body, mut footer) = split(&issue(&issuer));
        footer["kid"] = json!(local.id().as_str());
        assert_eq!(
            reject(&verifier, &with_footer(&body, &footer)),
            TokenRejection::AlgorithmMismatch
        );
    }

    #[test]
    fn tampered_payloads_are_refused() {
        for algorithm in [Algorithm::PasetoV4Public, Algorithm::PasetoV4Local] {
            let (issuer, verifier) = tokens(KeySet::new(key(algorithm)).unwrap());
            let token = issue(&issuer);
            let (body, footer) = token.rsplit_once('.').unwrap();
            let (prefix, message) = body.split_at(algorithm.name().len() + 1);
            let mut message = URL_SAFE_NO_PAD.decode(message).unwrap();
            let middle = message.len() / 2;
            message[middle] ^= 1;
            let forged = format!("{prefix}{}.{footer}", URL_SAFE_NO_PAD.encode(&message));
            assert_eq!(
                reject(&verifier, &forged),
                TokenRejection::BadSignature,
                "{algorithm}"
            );
        }
    }

    #[test]
    fn the_footer_is_authenticated() {
        for algorithm in [Algorithm::PasetoV4Public, Algorithm::PasetoV4Local] {
            let (issuer, verifier) = tokens(KeySet::new(key(algorithm)).unwrap());
            let challenge = issuer
                .issue(TokenKind::MfaChallenge, NewToken::new("user-1"))
                .unwrap();
            let (body, mut footer) = split(challenge.token.expose_secret());
            footer["typ"] = json!("at+jwt");
            assert_eq!(
                reject(&verifier, &with_footer(&body, &footer)),
                TokenRejection::BadSignature,
                "{algorithm}"
            );
        }
    }

    #[test]
    fn a_wrong_implicit_assertion_is_refused() {
        for algorithm in [Algorithm::PasetoV4Public, Algorithm::PasetoV4Local] {
            let keys = Arc::new(KeySet::new(key(algorithm)).unwrap());
            let bound = |assertion: &[u8]| TokenConfig {
                implicit_assertion: Some(assertion.to_vec()),
                ..config()
            };
            let issuer = TokenIssuer::new(keys.clone(), bound(b"tenant-a"), clock()).unwrap();
            let token = issue(&issuer);
            let same = TokenVerifier::new(keys.clone(), bound(b"tenant-a"), clock()).unwrap();
            assert!(
                same.verify_access::<crate::token::NoCustomClaims>(&token)
                    .is_ok()
            );
            let other = TokenVerifier::new(keys.clone(), bound(b"tenant-b"), clock()).unwrap();
            assert_eq!(
                reject(&other, &token),
                TokenRejection::BadSignature,
                "{algorithm}"
            );
            let none = TokenVerifier::new(keys, config(), clock()).unwrap();
            assert_eq!(
                reject(&none, &token),
                TokenRejection::BadSignature,
                "{algorithm}"
            );
        }
    }

    #[test]
    fn a_token_without_footer_or_kid_names_no_key() {
        let key = key(Algorithm::PasetoV4Public);
        let (issuer, verifier) = tokens(KeySet::new(key.clone()).unwrap());
        let token = issue(&issuer);
        let payload = public_payload(&token);
        let PasetoMaterial::Public {
            secret: Some(secret),
            ..
        } = &paseto(&key).material
        else {
            unreachable!()
        };
        let bare =
            PublicToken::sign(secret, &serde_json::to_vec(&payload).unwrap(), None, None).unwrap();
        assert_eq!(reject(&verifier, &bare), TokenRejection::UnknownKey);
        let no_kid = sign_raw(&key, &payload, &json!({"typ": "at+jwt"}));
        assert_eq!(reject(&verifier, &no_kid), TokenRejection::UnknownKey);
    }

    #[test]
    fn hostile_or_unknown_kids_are_just_unknown_keys() {
        let key = key(Algorithm::PasetoV4Public);
        let (issuer, verifier) = tokens(KeySet::new(key.clone()).unwrap());
        let payload = public_payload(&issue(&issuer));
        let stranger = self::key(Algorithm::PasetoV4Public);
        for kid in [
            "../../etc/passwd",
            "' OR 1=1 --",
            "k4.secret.AAAA",
            stranger.id().as_str(),
        ] {
            let token = sign_raw(&key, &payload, &json!({"kid": kid, "typ": "at+jwt"}));
            assert_eq!(
                reject(&verifier, &token),
                TokenRejection::UnknownKey,
                "{kid}"
            );
        }
    }

    #[test]
    fn a_footer_that_is_not_json_is_malformed() {
        let (issuer, verifier) = tokens(KeySet::new(key(Algorithm::PasetoV4Local)).unwrap());
        let (body, _) = split(&issue(&issuer));
        let token = format!("{body}.{}", URL_SAFE_NO_PAD.encode("k4.lid.plain-text"));
        assert_eq!(reject(&verifier, &token), TokenRejection::Malformed);
    }

    #[test]
    fn other_versions_and_purposes_are_malformed() {
        let verifier = verifier(KeySet::new(key(Algorithm::PasetoV4Public)).unwrap());
        for token in [
            "v2.local.AAAA",
            "v3.public.AAAA",
            "v4.secret.AAAA",
            "v4.public.",
            "v4.public.AAAA",
            "v4.local.!!!!",
        ] {
            assert_eq!(
                reject(&verifier, token),
                TokenRejection::Malformed,
                "{token}"
            );
        }
    }

    #[test]
    fn paserk_keys_load_and_keep_their_id() {
        for algorithm in [Algorithm::PasetoV4Public, Algorithm::PasetoV4Local] {
            let key = key(algorithm);
            let exported = key.export_private().unwrap();
            let prefix = match algorithm {
                Algorithm::PasetoV4Public => "k4.secret.",
                _ => "k4.local.",
            };
            assert!(exported.expose_secret().starts_with(prefix));
            let loaded = Key::from_paserk(exported.expose_secret()).unwrap();
            assert_eq!(loaded.id(), key.id());
        }
        let public = key(Algorithm::PasetoV4Public);
        let exported = public.export_public().unwrap();
        assert!(exported.starts_with("k4.public."));
        let loaded = Key::from_paserk(&exported).unwrap();
        assert_eq!(loaded.id(), public.id());
        assert!(!loaded.can_sign());
    }

    #[test]
    fn malformed_paserk_is_refused_without_panicking() {
        let zero_seed = format!("k4.secret.{}", URL_SAFE_NO_PAD.encode([0u8; 64]));
        let wrong_half = {
            let good = key(Algorithm::PasetoV4Public).export_private().unwrap();
            let body = good
                .expose_secret()
                .strip_prefix("k4.secret.")
                .unwrap()
                .to_owned();
            let mut bytes = URL_SAFE_NO_PAD.decode(body).unwrap();
            bytes[40] ^= 1;
            format!("k4.secret.{}", URL_SAFE_NO_PAD.encode(bytes))
        };
        for bad in [
            zero_seed.as_str(),
            wrong_half.as_str(),
            "k4.local.AAAA",
            "k4.public.",
            "k3.public.AAAA",
            "k4.pid.AAAA",
            "",
        ] {
            assert!(
                matches!(Key::from_paserk(bad), Err(Error::InvalidKey(_))),
                "{bad:.20}"
            );
        }
    }

    #[test]
    fn paseto_keys_keep_their_paserk_id() {
        let key = key(Algorithm::PasetoV4Local);
        assert!(matches!(key.with_id("mine"), Err(Error::Config(_))));
    }

    #[test]
    fn local_keys_have_no_public_half() {
        assert!(matches!(
            key(Algorithm::PasetoV4Local).export_public(),
            Err(Error::Config(_))
        ));
    }
}
