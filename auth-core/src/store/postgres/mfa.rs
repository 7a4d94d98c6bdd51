//! [`MfaStore`]: tables `auth_totp` (the encrypted secret, its parameters and the last
//! accepted step) and `auth_recovery_codes` (digests, deleted when used).

use async_trait::async_trait;
use deadpool_postgres::tokio_postgres::Row;
use uuid::Uuid;

use super::{
    PostgresStore, corrupt, db_error, execute, get, pg_time, query, query_one, query_opt, to_i64,
    to_u64,
};
use crate::error::{Error, Result};
use crate::id::{SecretHash, UserId};
use crate::mfa::{EncryptedSecret, TotpAlgorithm, TotpParams};
use crate::store::{MfaStore, TotpRecord};

#[async_trait]
impl MfaStore for PostgresStore {
    async fn save_pending_totp(&self, record: TotpRecord) -> Result<()> {
        let client = self.client().await?;
        // Replaces a pending credential, never a confirmed one, in one statement.
        let saved = query_opt(
            &client,
            "INSERT INTO auth_totp AS t \
               (user_id, key_id, nonce, ciphertext, algorithm, digits, period, confirmed, \
                last_used_step, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, false, NULL, $8) \
             ON CONFLICT (user_id) DO UPDATE SET \
               key_id = EXCLUDED.key_id, nonce = EXCLUDED.nonce, \
               ciphertext = EXCLUDED.ciphertext, algorithm = EXCLUDED.algorithm, \
               digits = EXCLUDED.digits, period = EXCLUDED.period, confirmed = false, \
               last_used_step = NULL, created_at = EXCLUDED.created_at \
             WHERE NOT t.confirmed \
             RETURNING user_id",
            &[
                &record.user_id.as_uuid(),
                &record.secret.key_id,
                &record.secret.nonce,
                &record.secret.ciphertext,
                &record.params.algorithm.as_str(),
                &i32::try_from(record.params.digits)
                    .map_err(|_| Error::InvalidRequest("TOTP digits out of range".into()))?,
                &to_i64(record.params.period, "TOTP period")?,
                &pg_time(record.created_at),
            ],
        )
        .await?;
        match saved {
            Some(_) => Ok(()),
            None => Err(Error::Conflict("TOTP is already enabled".into())),
        }
    }

    async fn totp(&self, user: &UserId) -> Result<Option<TotpRecord>> {
        let client = self.client().await?;
        query_opt(
            &client,
            "SELECT user_id, key_id, nonce, ciphertext, algorithm, digits, period, confirmed, \
                    last_used_step, created_at \
             FROM auth_totp WHERE user_id = $1",
            &[&user.as_uuid()],
        )
        .await?
        .map(|row| totp_record(&row))
        .transpose()
    }

    async fn confirm_totp(
        &self,
        user: &UserId,
        step: u64,
        recovery_codes: Vec<SecretHash>,
    ) -> Result<bool> {
        let step = to_i64(step, "TOTP step")?;
        let codes: Vec<&[u8]> = recovery_codes.iter().map(|c| &c.as_bytes()[..]).collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let confirmed = execute(
            &tx,
            "UPDATE auth_totp SET confirmed = true, last_used_step = $2 \
             WHERE user_id = $1 AND NOT confirmed",
            &[&user.as_uuid(), &step],
        )
        .await?;
        if confirmed == 0 {
            return Ok(false);
        }
        execute(
            &tx,
            "DELETE FROM auth_recovery_codes WHERE user_id = $1",
            &[&user.as_uuid()],
        )
        .await?;
        execute(
            &tx,
            "INSERT INTO auth_recovery_codes (user_id, code_hash) \
             SELECT $1, code FROM unnest($2::bytea[]) AS code \
             ON CONFLICT DO NOTHING",
            &[&user.as_uuid(), &codes],
        )
        .await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn accept_totp_step(&self, user: &UserId, step: u64) -> Result<bool> {
        let step = to_i64(step, "TOTP step")?;
        let client = self.client().await?;
        let accepted = execute(
            &client,
            "UPDATE auth_totp SET last_used_step = $2 \
             WHERE user_id = $1 AND confirmed \
               AND (last_used_step IS NULL OR last_used_step < $2)",
            &[&user.as_uuid(), &step],
        )
        .await?;
        Ok(accepted == 1)
    }

    async fn totp_not_under_key(
        &self,
        key_id: &str,
        after: Option<&UserId>,
        limit: usize,
    ) -> Result<Vec<TotpRecord>> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "SELECT user_id, key_id, nonce, ciphertext, algorithm, digits, period, confirmed, \
                        last_used_step, created_at \
                 FROM auth_totp \
                 WHERE key_id <> $1 AND ($2::uuid IS NULL OR user_id > $2) \
                 ORDER BY user_id LIMIT $3",
            &[
                &key_id,
                &after.map(UserId::as_uuid),
                &i64::try_from(limit).unwrap_or(i64::MAX),
            ],
        )
        .await?;
        rows.iter().map(totp_record).collect()
    }

    async fn replace_totp_secret(
        &self,
        user: &UserId,
        old: &EncryptedSecret,
        new: EncryptedSecret,
    ) -> Result<bool> {
        let client = self.client().await?;
        let replaced = execute(
            &client,
            "UPDATE auth_totp SET key_id = $5, nonce = $6, ciphertext = $7 \
             WHERE user_id = $1 AND key_id = $2 AND nonce = $3 AND ciphertext = $4",
            &[
                &user.as_uuid(),
                &old.key_id,
                &old.nonce,
                &old.ciphertext,
                &new.key_id,
                &new.nonce,
                &new.ciphertext,
            ],
        )
        .await?;
        Ok(replaced == 1)
    }

    async fn delete_totp(&self, user: &UserId) -> Result<bool> {
        let client = self.client().await?;
        // Recovery codes go with it (ON DELETE CASCADE).
        let deleted = execute(
            &client,
            "DELETE FROM auth_totp WHERE user_id = $1",
            &[&user.as_uuid()],
        )
        .await?;
        Ok(deleted == 1)
    }

    async fn consume_recovery_code(&self, user: &UserId, code: &SecretHash) -> Result<bool> {
        let client = self.client().await?;
        let consumed = execute(
            &client,
            "DELETE FROM auth_recovery_codes WHERE user_id = $1 AND code_hash = $2",
            &[&user.as_uuid(), &&code.as_bytes()[..]],
        )
        .await?;
        Ok(consumed == 1)
    }

    async fn recovery_codes_left(&self, user: &UserId) -> Result<usize> {
        let client = self.client().await?;
        let row = query_one(
            &client,
            "SELECT count(*) AS codes FROM auth_recovery_codes WHERE user_id = $1",
            &[&user.as_uuid()],
        )
        .await?;
        usize::try_from(get::<i64>(&row, "codes")?).map_err(|_| corrupt("recovery code count"))
    }
}

fn totp_record(row: &Row) -> Result<TotpRecord> {
    let name: &str = get(row, "algorithm")?;
    let algorithm = [
        TotpAlgorithm::Sha1,
        TotpAlgorithm::Sha256,
        TotpAlgorithm::Sha512,
    ]
    .into_iter()
    .find(|algorithm| algorithm.as_str() == name)
    .ok_or_else(|| corrupt("TOTP algorithm"))?;
    let last_used_step = get::<Option<i64>>(row, "last_used_step")?
        .map(|step| to_u64(step, "TOTP step"))
        .transpose()?;
    Ok(TotpRecord {
        user_id: UserId::from(get::<Uuid>(row, "user_id")?),
        secret: EncryptedSecret {
            key_id: get(row, "key_id")?,
            nonce: get(row, "nonce")?,
            ciphertext: get(row, "ciphertext")?,
        },
        params: TotpParams {
            algorithm,
            digits: u32::try_from(get::<i32>(row, "digits")?)
                .map_err(|_| corrupt("TOTP digit count"))?,
            period: to_u64(get(row, "period")?, "TOTP period")?,
        },
        confirmed: get(row, "confirmed")?,
        last_used_step,
        created_at: get(row, "created_at")?,
    })
}
