//! [`PasskeyStore`]: tables `auth_passkeys` (the credentials), `auth_passkey_handles` (each
//! account's user handle) and `auth_passkey_ceremonies` (state between a ceremony's two
//! requests, deleted by the finish that takes it, or by the purge once expired).

use std::time::SystemTime;

use async_trait::async_trait;
use deadpool_postgres::tokio_postgres::Row;
use uuid::Uuid;

use super::{PostgresStore, corrupt, execute, get, pg_time, query, query_one, query_opt, to_u64};
use crate::error::{Error, Result};
use crate::id::UserId;
use crate::passkey::{
    Ceremony, CeremonyId, CeremonyKind, CounterCheck, PasskeyId, PasskeyRecord, PasskeyUse,
};
use crate::store::PasskeyStore;

const RECORD_COLUMNS: &str = "id, user_id, name, credential, sign_count, backup_eligible, \
                              backup_state, transports, aaguid, created_at, last_used_at";

#[async_trait]
impl PasskeyStore for PostgresStore {
    async fn passkey_handle(&self, user: &UserId, fresh: Uuid) -> Result<Uuid> {
        let client = self.client().await?;
        // The no-op update makes the row come back whether it was inserted or already there.
        let row = query_one(
            &client,
            "INSERT INTO auth_passkey_handles AS h (user_id, handle) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO UPDATE SET handle = h.handle \
             RETURNING handle",
            &[&user.as_uuid(), &fresh],
        )
        .await?;
        get(&row, "handle")
    }

    async fn user_of_passkey_handle(&self, handle: &Uuid) -> Result<Option<UserId>> {
        let client = self.client().await?;
        query_opt(
            &client,
            "SELECT user_id FROM auth_passkey_handles WHERE handle = $1",
            &[handle],
        )
        .await?
        .map(|row| get::<Uuid>(&row, "user_id").map(UserId::from))
        .transpose()
    }

    async fn add_passkey(&self, record: PasskeyRecord) -> Result<()> {
        let client = self.client().await?;
        let added = execute(
            &client,
            "INSERT INTO auth_passkeys \
               (id, user_id, name, credential, sign_count, backup_eligible, backup_state, \
                transports, aaguid, created_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (id) DO NOTHING",
            &[
                &record.id.as_bytes(),
                &record.user_id.as_uuid(),
                &record.name,
                &record.credential,
                &i64::from(record.sign_count),
                &record.backup_eligible,
                &record.backup_state,
                &record.transports,
                &record.aaguid,
                &pg_time(record.created_at),
                &record.last_used_at.map(pg_time),
            ],
        )
        .await?;
        if added == 0 {
            return Err(Error::Conflict("the passkey is registered already".into()));
        }
        Ok(())
    }

    async fn passkey(&self, id: &PasskeyId) -> Result<Option<PasskeyRecord>> {
        let client = self.client().await?;
        query_opt(
            &client,
            &format!("SELECT {RECORD_COLUMNS} FROM auth_passkeys WHERE id = $1"),
            &[&id.as_bytes()],
        )
        .await?
        .map(|row| passkey_record(&row))
        .transpose()
    }

    async fn passkeys_of(&self, user: &UserId) -> Result<Vec<PasskeyRecord>> {
        let client = self.client().await?;
        query(
            &client,
            &format!(
                "SELECT {RECORD_COLUMNS} FROM auth_passkeys WHERE user_id = $1 \
                 ORDER BY created_at, id"
            ),
            &[&user.as_uuid()],
        )
        .await?
        .iter()
        .map(passkey_record)
        .collect()
    }

    async fn rename_passkey(&self, user: &UserId, id: &PasskeyId, name: &str) -> Result<bool> {
        let client = self.client().await?;
        let renamed = execute(
            &client,
            "UPDATE auth_passkeys SET name = $3 WHERE id = $1 AND user_id = $2",
            &[&id.as_bytes(), &user.as_uuid(), &name],
        )
        .await?;
        Ok(renamed == 1)
    }

    async fn delete_passkey(&self, user: &UserId, id: &PasskeyId) -> Result<bool> {
        let client = self.client().await?;
        let deleted = execute(
            &client,
            "DELETE FROM auth_passkeys WHERE id = $1 AND user_id = $2",
            &[&id.as_bytes(), &user.as_uuid()],
        )
        .await?;
        Ok(deleted == 1)
    }

    async fn delete_passkeys_of(&self, user: &UserId) -> Result<u64> {
        let client = self.client().await?;
        let row = query_one(
            &client,
            "WITH keys AS (DELETE FROM auth_passkeys WHERE user_id = $1 RETURNING 1), \
                  handle AS (DELETE FROM auth_passkey_handles WHERE user_id = $1 RETURNING 1), \
                  ceremonies AS (DELETE FROM auth_passkey_ceremonies WHERE user_id = $1 \
                                 RETURNING 1) \
             SELECT (SELECT count(*) FROM keys) AS keys, \
                    (SELECT count(*) FROM handle) AS handles, \
                    (SELECT count(*) FROM ceremonies) AS ceremonies",
            &[&user.as_uuid()],
        )
        .await?;
        to_u64(get(&row, "keys")?, "count")
    }

    async fn record_passkey_use(
        &self,
        id: &PasskeyId,
        used: PasskeyUse,
        accept_regression: bool,
    ) -> Result<Option<CounterCheck>> {
        let client = self.client().await?;
        let presented = i64::from(used.sign_count);
        let at = pg_time(used.at);
        // The check and the update in one statement: of two assertions presenting the same
        // counter at once, the second finds the first's counter stored and fails the check.
        let advanced = execute(
            &client,
            "UPDATE auth_passkeys SET sign_count = $2, backup_eligible = $3, \
               backup_state = $4, last_used_at = $5 \
             WHERE id = $1 AND ($2 > sign_count OR ($2 = 0 AND sign_count = 0))",
            &[
                &id.as_bytes(),
                &presented,
                &used.backup_eligible,
                &used.backup_state,
                &at,
            ],
        )
        .await?;
        if advanced == 1 {
            return Ok(Some(if used.sign_count == 0 {
                CounterCheck::NoCounter
            } else {
                CounterCheck::Advanced
            }));
        }
        // Regressed, or no such passkey: the counter stays as it is either way.
        let stored = if accept_regression {
            query_opt(
                &client,
                "UPDATE auth_passkeys SET backup_eligible = $2, backup_state = $3, \
                   last_used_at = $4 \
                 WHERE id = $1 RETURNING sign_count",
                &[
                    &id.as_bytes(),
                    &used.backup_eligible,
                    &used.backup_state,
                    &at,
                ],
            )
            .await?
        } else {
            query_opt(
                &client,
                "SELECT sign_count FROM auth_passkeys WHERE id = $1",
                &[&id.as_bytes()],
            )
            .await?
        };
        stored
            .map(|row| {
                Ok(CounterCheck::Regressed {
                    stored: sign_count(&row)?,
                })
            })
            .transpose()
    }

    async fn save_ceremony(&self, ceremony: Ceremony) -> Result<()> {
        let client = self.client().await?;
        execute(
            &client,
            "INSERT INTO auth_passkey_ceremonies \
               (id, kind, user_id, binding, state, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &ceremony.id.as_str(),
                &ceremony.kind.as_str(),
                &ceremony.user_id.as_ref().map(UserId::as_uuid),
                &ceremony.binding,
                &ceremony.state,
                &pg_time(ceremony.created_at),
                &pg_time(ceremony.expires_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn take_ceremony(&self, id: &CeremonyId, now: SystemTime) -> Result<Option<Ceremony>> {
        let client = self.client().await?;
        // Deleted whether or not it has expired: an expired ceremony is taken by no one.
        let Some(row) = query_opt(
            &client,
            "DELETE FROM auth_passkey_ceremonies WHERE id = $1 \
             RETURNING id, kind, user_id, binding, state, created_at, expires_at",
            &[&id.as_str()],
        )
        .await?
        else {
            return Ok(None);
        };
        let ceremony = Ceremony {
            id: CeremonyId::parse(get(&row, "id")?).map_err(|_| corrupt("ceremony id"))?,
            kind: CeremonyKind::from_name(get(&row, "kind")?)
                .ok_or_else(|| corrupt("ceremony kind"))?,
            user_id: get::<Option<Uuid>>(&row, "user_id")?.map(UserId::from),
            binding: get(&row, "binding")?,
            state: get(&row, "state")?,
            created_at: get(&row, "created_at")?,
            expires_at: get(&row, "expires_at")?,
        };
        Ok((now < ceremony.expires_at).then_some(ceremony))
    }
}

fn sign_count(row: &Row) -> Result<u32> {
    u32::try_from(get::<i64>(row, "sign_count")?).map_err(|_| corrupt("sign count"))
}

fn passkey_record(row: &Row) -> Result<PasskeyRecord> {
    Ok(PasskeyRecord {
        id: PasskeyId::from_bytes(get(row, "id")?).map_err(|_| corrupt("credential id"))?,
        user_id: UserId::from(get::<Uuid>(row, "user_id")?),
        name: get(row, "name")?,
        credential: get(row, "credential")?,
        sign_count: sign_count(row)?,
        backup_eligible: get(row, "backup_eligible")?,
        backup_state: get(row, "backup_state")?,
        transports: get(row, "transports")?,
        aaguid: get(row, "aaguid")?,
        created_at: get(row, "created_at")?,
        last_used_at: get(row, "last_used_at")?,
    })
}
