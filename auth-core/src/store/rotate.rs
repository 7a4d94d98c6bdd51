//! Moving stored TOTP secrets to the active key, so an older key can leave the keyring.

use super::MfaStore;
use crate::error::Result;
use crate::id::UserId;
use crate::mfa::MfaKeyring;

/// What [`reencrypt_totp_secrets`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reencryption {
    /// Secrets now under the active key.
    pub moved: usize,
    /// Secrets that changed while being moved (re-enrolled, disabled, moved by another run):
    /// left as they are; a second run picks up any still under an old key.
    pub changed_meanwhile: usize,
    /// Secrets that could not be decrypted, with why: their key is not in the keyring, or the
    /// stored data is damaged. They stay as they are and the old key must stay too.
    pub unreadable: Vec<(UserId, String)>,
}

/// Re-encrypts every stored TOTP secret not under `keyring`'s active key, `batch` at a time.
/// Each secret is replaced only if it is still the one read (a compare-and-set), so the
/// credentials in use while this runs are never overwritten with older ones. Safe to run
/// again, and from several processes at once.
pub async fn reencrypt_totp_secrets(
    store: &dyn MfaStore,
    keyring: &MfaKeyring,
    batch: usize,
) -> Result<Reencryption> {
    let mut report = Reencryption::default();
    let mut after: Option<UserId> = None;
    loop {
        let records = store
            .totp_not_under_key(keyring.active_key_id(), after.as_ref(), batch.max(1))
            .await?;
        let Some(last) = records.last() else {
            return Ok(report);
        };
        after = Some(last.user_id);
        for record in records {
            match keyring.reencrypt(&record.user_id, &record.secret) {
                Ok(moved) => {
                    if store
                        .replace_totp_secret(&record.user_id, &record.secret, moved)
                        .await?
                    {
                        report.moved += 1;
                    } else {
                        report.changed_meanwhile += 1;
                    }
                }
                Err(error) => report.unreadable.push((record.user_id, error.to_string())),
            }
        }
    }
}
