//! TOTP secrets encrypted at rest with AES-256-GCM, under key ids so the key can rotate.

use std::fmt;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Nonce, Payload};
use data_encoding::HEXLOWER_PERMISSIVE;
use rand::RngCore;
use rand::rngs::OsRng;
use zeroize::Zeroizing;

use super::{EncryptedSecret, TotpSecret};
use crate::error::{Error, Result};
use crate::id::UserId;

/// Length of an AES-256 key in bytes.
const KEY_LEN: usize = 32;

/// Length of a GCM nonce in bytes (96 bits).
const NONCE_LEN: usize = 12;

/// The keys that encrypt TOTP secrets at rest: one active key that encrypts and decrypts, and
/// older keys kept only to decrypt what they encrypted until it is re-encrypted. The user id is
/// the associated data, so a ciphertext copied to another user does not decrypt. `Debug` shows
/// key ids only.
#[derive(Clone)]
pub struct MfaKeyring {
    active: KeyEntry,
    older: Vec<KeyEntry>,
}

#[derive(Clone)]
struct KeyEntry {
    id: String,
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl KeyEntry {
    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new((&*self.key).into())
    }
}

impl MfaKeyring {
    /// A keyring whose active key is `key`, named `key_id`.
    pub fn new(key_id: impl Into<String>, key: [u8; KEY_LEN]) -> Self {
        Self::with_active(key_id.into(), Zeroizing::new(key))
    }

    /// A keyring whose active key is given as 64 hexadecimal characters (as in the
    /// `MFA_ENCRYPTION_KEY` variable); [`Error::Config`] saying what is wrong otherwise.
    pub fn from_hex(key_id: impl Into<String>, hex: &str) -> Result<Self> {
        Ok(Self::with_active(key_id.into(), Self::decode_hex_key(hex)?))
    }

    /// Decodes a key written as 64 hexadecimal characters; [`Error::Config`] saying what is
    /// wrong otherwise.
    pub fn decode_hex_key(hex: &str) -> Result<Zeroizing<[u8; KEY_LEN]>> {
        if hex.len() != 2 * KEY_LEN {
            return Err(Error::Config(format!(
                "the MFA encryption key must be {} hexadecimal characters, not {}",
                2 * KEY_LEN,
                hex.len()
            )));
        }
        let mut key = Zeroizing::new([0; KEY_LEN]);
        HEXLOWER_PERMISSIVE
            .decode_mut(hex.as_bytes(), key.as_mut())
            .map_err(|_| Error::Config("the MFA encryption key is not hexadecimal".into()))?;
        Ok(key)
    }

    /// A keyring with a random key named `dev`, for development: what it encrypts is lost
    /// with the process.
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0; KEY_LEN]);
        OsRng.fill_bytes(key.as_mut());
        Self::with_active("dev".into(), key)
    }

    fn with_active(id: String, key: Zeroizing<[u8; KEY_LEN]>) -> Self {
        Self {
            active: KeyEntry { id, key },
            older: Vec::new(),
        }
    }

    /// Adds an older key that only decrypts; [`Error::Config`] if `key_id` is already taken.
    pub fn with_decryption_key(
        mut self,
        key_id: impl Into<String>,
        key: [u8; KEY_LEN],
    ) -> Result<Self> {
        let id = key_id.into();
        if self.entry(&id).is_some() {
            return Err(Error::Config(format!(
                "two MFA encryption keys have the id {id:?}"
            )));
        }
        self.older.push(KeyEntry {
            id,
            key: Zeroizing::new(key),
        });
        Ok(self)
    }

    /// A key for `purpose`, derived from the active key (HMAC-SHA-256 of the purpose): the
    /// same on every server sharing the keyring, and changed when the active key rotates.
    pub fn derive_key(&self, purpose: &str) -> Zeroizing<[u8; KEY_LEN]> {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(self.active.key.as_ref())
            .expect("HMAC takes keys of any length");
        mac.update(b"auth-core derived key\0");
        mac.update(purpose.as_bytes());
        Zeroizing::new(mac.finalize().into_bytes().into())
    }

    /// The id of the key that encrypts.
    pub fn active_key_id(&self) -> &str {
        &self.active.id
    }

    fn entry(&self, key_id: &str) -> Option<&KeyEntry> {
        std::iter::once(&self.active)
            .chain(&self.older)
            .find(|entry| entry.id == key_id)
    }

    /// Encrypts `secret` for `user` under the active key, with a fresh random nonce.
    pub fn encrypt(&self, user: &UserId, secret: &TotpSecret) -> Result<EncryptedSecret> {
        let mut nonce = [0; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let aad = user.as_uuid().into_bytes();
        let payload = Payload {
            msg: secret.expose_bytes(),
            aad: &aad,
        };
        let ciphertext = self
            .active
            .cipher()
            .encrypt(&Nonce::<Aes256Gcm>::from(nonce), payload)
            .map_err(|_| Error::Internal("TOTP secret encryption failed".into()))?;
        Ok(EncryptedSecret {
            key_id: self.active.id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Decrypts the secret `user` stored. [`Error::InvalidKey`] if its key id is not in the
    /// keyring; [`Error::Internal`] if the nonce is malformed or the ciphertext does not
    /// authenticate (tampered, or another user's).
    pub fn decrypt(&self, user: &UserId, encrypted: &EncryptedSecret) -> Result<TotpSecret> {
        let entry = self.entry(&encrypted.key_id).ok_or_else(|| {
            Error::InvalidKey(format!(
                "no MFA encryption key has the id {:?}",
                encrypted.key_id
            ))
        })?;
        let nonce = Nonce::<Aes256Gcm>::try_from(encrypted.nonce.as_slice()).map_err(|_| {
            Error::Internal(format!(
                "a stored TOTP nonce has {} bytes, not {NONCE_LEN}",
                encrypted.nonce.len()
            ))
        })?;
        let aad = user.as_uuid().into_bytes();
        let payload = Payload {
            msg: &encrypted.ciphertext,
            aad: &aad,
        };
        let plaintext = entry
            .cipher()
            .decrypt(&nonce, payload)
            .map(Zeroizing::new)
            .map_err(|_| Error::Internal("a stored TOTP secret does not decrypt".into()))?;
        TotpSecret::from_bytes(&plaintext)
    }

    /// Whether `encrypted` was encrypted under a key other than the active one.
    pub fn needs_reencryption(&self, encrypted: &EncryptedSecret) -> bool {
        encrypted.key_id != self.active.id
    }

    /// Decrypts `encrypted` and encrypts it again under the active key, with a new nonce.
    pub fn reencrypt(&self, user: &UserId, encrypted: &EncryptedSecret) -> Result<EncryptedSecret> {
        self.encrypt(user, &self.decrypt(user, encrypted)?)
    }
}

impl fmt::Debug for MfaKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let older: Vec<&str> = self.older.iter().map(|entry| entry.id.as_str()).collect();
        f.debug_struct("MfaKeyring")
            .field("active_key_id", &self.active.id)
            .field("decryption_key_ids", &older)
            .finish()
    }
}

#[cfg(test)]
mod tests;
