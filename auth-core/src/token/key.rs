//! Keys, their ids and algorithms, and the set of keys a service signs and verifies with.

use std::fmt;
use std::str::FromStr;

use secrecy::SecretString;

use crate::error::{Error, Result};

#[cfg(feature = "jwt")]
use super::jwt::JwtKey;
#[cfg(feature = "paseto")]
use super::paseto::PasetoKey;

/// The algorithm a key is fixed to. A token is only ever verified with its key's algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// JWT signed with Ed25519 (`EdDSA`): the default.
    #[cfg(feature = "jwt")]
    EdDsa,
    /// JWT signed with ECDSA over P-256 and SHA-256 (`ES256`).
    #[cfg(feature = "jwt")]
    Es256,
    /// JWT signed with RSASSA-PKCS1-v1_5 and SHA-256 (`RS256`), keys of at least 2048 bits.
    #[cfg(feature = "jwt")]
    Rs256,
    /// JWT authenticated with HMAC-SHA-256 (`HS256`), a shared secret of at least 32 bytes; for
    /// compatibility with services that cannot verify signatures.
    #[cfg(feature = "jwt")]
    Hs256,
    /// PASETO `v4.public`: Ed25519 signatures.
    #[cfg(feature = "paseto")]
    PasetoV4Public,
    /// PASETO `v4.local`: XChaCha20 + BLAKE2b authenticated encryption under a shared key.
    #[cfg(feature = "paseto")]
    PasetoV4Local,
}

impl Algorithm {
    /// The algorithm's name: the JWT `alg` value, or the PASETO version and purpose.
    pub fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "jwt")]
            Self::EdDsa => "EdDSA",
            #[cfg(feature = "jwt")]
            Self::Es256 => "ES256",
            #[cfg(feature = "jwt")]
            Self::Rs256 => "RS256",
            #[cfg(feature = "jwt")]
            Self::Hs256 => "HS256",
            #[cfg(feature = "paseto")]
            Self::PasetoV4Public => "v4.public",
            #[cfg(feature = "paseto")]
            Self::PasetoV4Local => "v4.local",
        }
    }

    /// Whether tokens of this algorithm are JWTs (otherwise PASETO).
    pub fn is_jwt(self) -> bool {
        match self {
            #[cfg(feature = "jwt")]
            Self::EdDsa | Self::Es256 | Self::Rs256 | Self::Hs256 => true,
            #[cfg(feature = "paseto")]
            Self::PasetoV4Public | Self::PasetoV4Local => false,
        }
    }

    /// Every algorithm this build supports.
    pub fn all() -> &'static [Algorithm] {
        &[
            #[cfg(feature = "jwt")]
            Self::EdDsa,
            #[cfg(feature = "jwt")]
            Self::Es256,
            #[cfg(feature = "jwt")]
            Self::Rs256,
            #[cfg(feature = "jwt")]
            Self::Hs256,
            #[cfg(feature = "paseto")]
            Self::PasetoV4Public,
            #[cfg(feature = "paseto")]
            Self::PasetoV4Local,
        ]
    }
}

#[cfg(feature = "jwt")]
const DEFAULT_ALGORITHM: Algorithm = Algorithm::EdDsa;
#[cfg(not(feature = "jwt"))]
const DEFAULT_ALGORITHM: Algorithm = Algorithm::PasetoV4Public;

impl Default for Algorithm {
    /// `EdDSA` JWTs, or PASETO `v4.public` in a build without JWT support.
    fn default() -> Self {
        DEFAULT_ALGORITHM
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    /// Parses an algorithm name as written by [`Algorithm::name`], ignoring ASCII case; for
    /// configuration, never for tokens.
    fn from_str(name: &str) -> Result<Self> {
        Self::all()
            .iter()
            .copied()
            .find(|algorithm| algorithm.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::Config(format!("unsupported token algorithm {name:?}")))
    }
}

/// A key id: the JWT `kid` header, or the PASERK id in a PASETO footer.
///
/// Non-empty, at most 256 characters, visible ASCII only (no spaces or control characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// The longest key id accepted.
    pub const MAX_LEN: usize = 256;

    /// Checks and wraps a key id.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        if Self::is_valid(&id) {
            Ok(Self(id))
        } else {
            Err(Error::Config(format!(
                "key ids must be 1 to {} visible ASCII characters",
                Self::MAX_LEN
            )))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `id` could name a key at all; anything else is refused without a lookup.
    pub(crate) fn is_valid(id: &str) -> bool {
        !id.is_empty() && id.len() <= Self::MAX_LEN && id.bytes().all(|b| b.is_ascii_graphic())
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for KeyId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A signing or verification key, fixed to one [`Algorithm`] and named by a [`KeyId`].
///
/// JWT keys are named by their RFC 7638 JWK thumbprint (SHA-256, base64url) unless renamed with
/// [`Key::with_id`]; PASETO keys by their PASERK id (`k4.pid.…`, `k4.lid.…`). `Debug` output
/// never shows key material.
#[derive(Clone)]
pub struct Key {
    id: KeyId,
    material: Material,
}

#[derive(Clone)]
pub(crate) enum Material {
    #[cfg(feature = "jwt")]
    Jwt(Box<JwtKey>),
    #[cfg(feature = "paseto")]
    Paseto(PasetoKey),
}

impl Key {
    /// A new random key for `algorithm` (RSA keys have 2048 bits, HS256 secrets 32 bytes).
    pub fn generate(algorithm: Algorithm) -> Result<Self> {
        match algorithm {
            #[cfg(feature = "jwt")]
            Algorithm::EdDsa | Algorithm::Es256 | Algorithm::Rs256 | Algorithm::Hs256 => {
                JwtKey::generate(algorithm).map(Self::from_jwt)
            }
            #[cfg(feature = "paseto")]
            Algorithm::PasetoV4Public | Algorithm::PasetoV4Local => {
                PasetoKey::generate(algorithm).map(Self::from_paseto)
            }
        }
    }

    /// Loads a JWT key from PEM: a PKCS#8 private key, an SPKI public key (verification only),
    /// a SEC1 private key for ES256, or PKCS#1 private and public keys for RS256.
    #[cfg(feature = "jwt")]
    pub fn from_pem(algorithm: Algorithm, pem: &str) -> Result<Self> {
        JwtKey::from_pem(algorithm, pem).map(Self::from_jwt)
    }

    /// An HS256 key from a raw shared secret of at least 32 bytes.
    #[cfg(feature = "jwt")]
    pub fn from_hmac_secret(secret: &[u8]) -> Result<Self> {
        JwtKey::from_hmac_secret(secret).map(Self::from_jwt)
    }

    /// Loads a PASETO v4 key from PASERK: `k4.secret.…`, `k4.public.…` (verification only) or
    /// `k4.local.…`.
    #[cfg(feature = "paseto")]
    pub fn from_paserk(paserk: &str) -> Result<Self> {
        PasetoKey::from_paserk(paserk).map(Self::from_paseto)
    }

    /// Loads a key from what [`Key::export_private`] wrote: PEM for JWT asymmetric keys,
    /// base64url (unpadded) for HS256, PASERK for PASETO.
    pub fn import(algorithm: Algorithm, encoded: &str) -> Result<Self> {
        let encoded = encoded.trim();
        let key = match algorithm {
            #[cfg(feature = "jwt")]
            Algorithm::Hs256 => JwtKey::from_base64url_secret(encoded).map(Self::from_jwt)?,
            #[cfg(feature = "jwt")]
            Algorithm::EdDsa | Algorithm::Es256 | Algorithm::Rs256 => {
                Self::from_pem(algorithm, encoded)?
            }
            #[cfg(feature = "paseto")]
            Algorithm::PasetoV4Public | Algorithm::PasetoV4Local => Self::from_paserk(encoded)?,
        };
        if key.algorithm() == algorithm {
            Ok(key)
        } else {
            Err(Error::InvalidKey(format!("not a {algorithm} key")))
        }
    }

    /// Renames a JWT key. PASETO keys keep their PASERK id, which the PASETO footer requires.
    pub fn with_id(self, id: impl Into<String>) -> Result<Self> {
        if !self.algorithm().is_jwt() {
            return Err(Error::Config(
                "PASETO keys are named by their PASERK id and cannot be renamed".into(),
            ));
        }
        Ok(Self {
            id: KeyId::new(id)?,
            material: self.material,
        })
    }

    /// The key's id.
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// The algorithm the key is fixed to.
    pub fn algorithm(&self) -> Algorithm {
        match &self.material {
            #[cfg(feature = "jwt")]
            Material::Jwt(key) => key.algorithm(),
            #[cfg(feature = "paseto")]
            Material::Paseto(key) => key.algorithm(),
        }
    }

    /// Whether the key can issue tokens (it holds private or shared secret material).
    pub fn can_sign(&self) -> bool {
        match &self.material {
            #[cfg(feature = "jwt")]
            Material::Jwt(key) => key.can_sign(),
            #[cfg(feature = "paseto")]
            Material::Paseto(key) => key.can_sign(),
        }
    }

    /// The private or shared secret material, for storing the key: PKCS#8 PEM for JWT
    /// asymmetric keys, unpadded base64url for HS256, PASERK for PASETO. Read it back with
    /// [`Key::import`]. Fails for verification-only keys.
    pub fn export_private(&self) -> Result<SecretString> {
        match &self.material {
            #[cfg(feature = "jwt")]
            Material::Jwt(key) => key.export_private(),
            #[cfg(feature = "paseto")]
            Material::Paseto(key) => key.export_private(),
        }
    }

    /// The public key, for verifiers elsewhere: SPKI PEM for JWT asymmetric keys, `k4.public`
    /// PASERK for PASETO public keys. Fails for shared-secret keys (HS256, `v4.local`).
    pub fn export_public(&self) -> Result<String> {
        match &self.material {
            #[cfg(feature = "jwt")]
            Material::Jwt(key) => key.export_public(),
            #[cfg(feature = "paseto")]
            Material::Paseto(key) => key.export_public(),
        }
    }

    pub(crate) fn material(&self) -> &Material {
        &self.material
    }

    /// The JWT key, if this is one.
    #[cfg(feature = "jwt")]
    pub(crate) fn as_jwt(&self) -> Option<&JwtKey> {
        match &self.material {
            Material::Jwt(key) => Some(key),
            #[cfg(feature = "paseto")]
            Material::Paseto(_) => None,
        }
    }

    /// The PASETO key, if this is one.
    #[cfg(feature = "paseto")]
    pub(crate) fn as_paseto(&self) -> Option<&PasetoKey> {
        match &self.material {
            Material::Paseto(key) => Some(key),
            #[cfg(feature = "jwt")]
            Material::Jwt(_) => None,
        }
    }

    #[cfg(feature = "jwt")]
    fn from_jwt(key: JwtKey) -> Self {
        Self {
            id: KeyId(key.thumbprint().to_owned()),
            material: Material::Jwt(Box::new(key)),
        }
    }

    #[cfg(feature = "paseto")]
    fn from_paseto(key: PasetoKey) -> Self {
        Self {
            id: KeyId(key.paserk_id()),
            material: Material::Paseto(key),
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id.as_str())
            .field("algorithm", &self.algorithm())
            .field("can_sign", &self.can_sign())
            .finish_non_exhaustive()
    }
}

/// One active signing key and any number of older keys still accepted for verification.
///
/// Rotating keeps tokens signed by the previous key valid until that key is retired:
///
/// ```
/// use auth_core::token::{Algorithm, Key, KeySet};
///
/// let first = Key::generate(Algorithm::default())?;
/// let first_id = first.id().clone();
/// let mut keys = KeySet::new(first)?;
/// keys.rotate(Key::generate(Algorithm::default())?)?;
/// assert!(keys.get(first_id.as_str()).is_some());
/// keys.retire(first_id.as_str())?;
/// assert!(keys.get(first_id.as_str()).is_none());
/// # Ok::<(), auth_core::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct KeySet {
    /// The active key first when `has_active`, then the verification keys.
    keys: Vec<Key>,
    has_active: bool,
}

impl KeySet {
    /// A set that signs with `active`, which must be able to sign.
    pub fn new(active: Key) -> Result<Self> {
        let mut keys = Self::verification_only();
        keys.rotate(active)?;
        Ok(keys)
    }

    /// An empty set without a signing key, for services that only verify.
    pub fn verification_only() -> Self {
        Self::default()
    }

    /// Adds a key accepted for verification only.
    pub fn with_verification_key(mut self, key: Key) -> Result<Self> {
        self.add_verification_key(key)?;
        Ok(self)
    }

    /// Adds a key accepted for verification only.
    pub fn add_verification_key(&mut self, key: Key) -> Result<()> {
        self.refuse_duplicate(&key)?;
        self.keys.push(key);
        Ok(())
    }

    /// Makes `key` the signing key; the previous one stays for verification until retired.
    pub fn rotate(&mut self, key: Key) -> Result<()> {
        if !key.can_sign() {
            return Err(Error::Config(format!(
                "key {} cannot sign: it has no private material",
                key.id()
            )));
        }
        self.refuse_duplicate(&key)?;
        self.keys.insert(0, key);
        self.has_active = true;
        Ok(())
    }

    /// Removes a verification key: tokens it signed are refused from now on. The active key
    /// cannot be retired; rotate first.
    pub fn retire(&mut self, id: &str) -> Result<Key> {
        let position = self
            .keys
            .iter()
            .position(|key| key.id().as_str() == id)
            .ok_or_else(|| Error::Config(format!("no key with id {id:?} to retire")))?;
        if self.has_active && position == 0 {
            return Err(Error::Config(
                "the active signing key cannot be retired; rotate to a new key first".into(),
            ));
        }
        Ok(self.keys.remove(position))
    }

    /// The signing key, if any.
    pub fn active(&self) -> Option<&Key> {
        if self.has_active {
            self.keys.first()
        } else {
            None
        }
    }

    /// The key that signs tokens of `algorithm`: the active key if it is of that algorithm,
    /// else the first key of the set in it that can sign. The order of the set is the
    /// preference, so a new key added after the current one is published before it signs.
    pub fn signing_key(&self, algorithm: Algorithm) -> Option<&Key> {
        self.active()
            .filter(|key| key.algorithm() == algorithm)
            .or_else(|| {
                self.keys
                    .iter()
                    .find(|key| key.algorithm() == algorithm && key.can_sign())
            })
    }

    /// The key named `id`, active or not.
    pub fn get(&self, id: &str) -> Option<&Key> {
        self.keys.iter().find(|key| key.id().as_str() == id)
    }

    /// Every key, the active one first.
    pub fn iter(&self) -> impl Iterator<Item = &Key> {
        self.keys.iter()
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key at all.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn refuse_duplicate(&self, key: &Key) -> Result<()> {
        if self.get(key.id().as_str()).is_some() {
            return Err(Error::Config(format!(
                "the key set already holds a key with id {}",
                key.id()
            )));
        }
        Ok(())
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("active", &self.active().map(|key| key.id().as_str()))
            .field("keys", &self.keys)
            .finish()
    }
}

#[cfg(test)]
mod tests;
