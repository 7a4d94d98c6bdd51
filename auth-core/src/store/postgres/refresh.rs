//! [`RefreshStore`]: tables `auth_refresh_families` and `auth_refresh_tokens`.
//!
//! Rotation is one transaction that first locks the family row of the presented token
//! (`SELECT ... FOR UPDATE`). Every change to a family's tokens happens under that lock, so
//! concurrent presentations of tokens of one family run one after the other, each seeing what
//! the previous one committed: of 50 concurrent rotations of one token, one rotates and the
//! others find it spent.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use deadpool_postgres::tokio_postgres::Row;
use uuid::Uuid;

use super::users::{epoch, epoch_param};
use super::{PostgresStore, db_error, execute, get, get_session_id, pg_time, query_opt};
use crate::error::{Error, Result};
use crate::id::{FamilyId, SecretHash, SessionId, UserId};
use crate::refresh::{
    MAX_GRACE_RETRIES, RefreshFamily, RefreshTokenRecord, Rotation, within_grace,
};
use crate::store::RefreshStore;

#[async_trait]
impl RefreshStore for PostgresStore {
    async fn create_family(&self, family: RefreshFamily, first: RefreshTokenRecord) -> Result<()> {
        let expires_at = pg_time(family.expires_at);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        execute(
            &tx,
            "INSERT INTO auth_refresh_families \
               (id, user_id, session_id, created_at, expires_at, epoch) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &family.id.as_uuid(),
                &family.user_id.as_uuid(),
                &family.session_id.as_str(),
                &pg_time(family.created_at),
                &expires_at,
                &epoch_param(family.epoch)?,
            ],
        )
        .await?;
        insert_token(&tx, &first, family.id, expires_at).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn rotate(
        &self,
        presented: &SecretHash,
        successor: RefreshTokenRecord,
        now: SystemTime,
        grace: Duration,
    ) -> Result<Rotation> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let rotation = rotate(&tx, presented, &successor, now, grace).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(rotation)
    }

    async fn live_family_of(
        &self,
        token: &SecretHash,
        now: SystemTime,
    ) -> Result<Option<RefreshFamily>> {
        let client = self.client().await?;
        query_opt(
            &client,
            "SELECT f.id, f.user_id, f.session_id, f.created_at, f.expires_at, f.revoked, f.epoch \
             FROM auth_refresh_tokens t JOIN auth_refresh_families f ON f.id = t.family_id \
             WHERE t.hash = $1 AND NOT f.revoked AND f.expires_at > $2",
            &[&&token.as_bytes()[..], &pg_time(now)],
        )
        .await?
        .map(|row| refresh_family(&row))
        .transpose()
    }

    async fn current_token(
        &self,
        token: &SecretHash,
        now: SystemTime,
    ) -> Result<Option<(RefreshFamily, RefreshTokenRecord)>> {
        let client = self.client().await?;
        let Some(row) = query_opt(
            &client,
            "SELECT f.id, f.user_id, f.session_id, f.created_at, f.expires_at, f.epoch, \
                    t.issued_at, t.idle_expires_at \
             FROM auth_refresh_tokens t JOIN auth_refresh_families f ON f.id = t.family_id \
             WHERE t.hash = $1 AND NOT f.revoked AND f.expires_at > $2 \
               AND t.spent_at IS NULL AND NOT t.replaced AND t.idle_expires_at > $2",
            &[&&token.as_bytes()[..], &pg_time(now)],
        )
        .await?
        else {
            return Ok(None);
        };
        let record = RefreshTokenRecord {
            hash: *token,
            issued_at: get(&row, "issued_at")?,
            idle_expires_at: get(&row, "idle_expires_at")?,
        };
        Ok(Some((refresh_family(&row)?, record)))
    }

    async fn revoke_session_family(&self, session: &SessionId) -> Result<bool> {
        let client = self.client().await?;
        let revoked = execute(
            &client,
            "UPDATE auth_refresh_families SET revoked = true \
             WHERE session_id = $1 AND NOT revoked",
            &[&session.as_str()],
        )
        .await?;
        Ok(revoked > 0)
    }

    async fn advance_family_epoch(&self, session: &SessionId, epoch: u64) -> Result<bool> {
        let client = self.client().await?;
        let advanced = execute(
            &client,
            "UPDATE auth_refresh_families SET epoch = GREATEST(epoch, $2) \
             WHERE session_id = $1 AND NOT revoked",
            &[&session.as_str(), &epoch_param(epoch)?],
        )
        .await?;
        Ok(advanced > 0)
    }
}

/// The protocol step of [`RefreshStore::rotate`], inside `tx`; the same decisions, in the same
/// order, as the memory store's.
async fn rotate(
    tx: &Transaction<'_>,
    presented: &SecretHash,
    successor: &RefreshTokenRecord,
    now: SystemTime,
    grace: Duration,
) -> Result<Rotation> {
    let presented = &presented.as_bytes()[..];
    // The lock every writer of the family's tokens takes first.
    let Some(family_row) = query_opt(
        tx,
        "SELECT id, user_id, session_id, created_at, expires_at, revoked, epoch \
         FROM auth_refresh_families \
         WHERE id = (SELECT family_id FROM auth_refresh_tokens WHERE hash = $1) \
         FOR UPDATE",
        &[&presented],
    )
    .await?
    else {
        return Ok(Rotation::Invalid);
    };
    let family = refresh_family(&family_row)?;
    if get::<bool>(&family_row, "revoked")? || now >= family.expires_at {
        return Ok(Rotation::Invalid);
    }
    // Read after taking the lock: what earlier holders committed is visible.
    let Some(token) = query_opt(
        tx,
        "SELECT t.idle_expires_at, t.spent_at, t.grace_retries, t.replaced, \
                (SELECT s.spent_at IS NOT NULL FROM auth_refresh_tokens s \
                 WHERE s.hash = t.successor_hash) AS successor_spent, \
                t.successor_hash, \
                EXISTS (SELECT 1 FROM auth_refresh_tokens WHERE hash = $2) AS successor_exists \
         FROM auth_refresh_tokens t WHERE t.hash = $1 \
         FOR UPDATE OF t",
        &[&presented, &&successor.hash.as_bytes()[..]],
    )
    .await?
    else {
        return Ok(Rotation::Invalid);
    };
    if get::<bool>(&token, "successor_exists")? {
        return Err(Error::Conflict("refresh token exists".into()));
    }
    if get::<bool>(&token, "replaced")? {
        // Exchanged already, by the retry that replaced it.
        revoke_family(tx, family.id).await?;
        return Ok(Rotation::Reused(family));
    }
    let spent_at: Option<SystemTime> = get(&token, "spent_at")?;
    let retries = u32::try_from(get::<i32>(&token, "grace_retries")?).unwrap_or(u32::MAX);
    match spent_at {
        Some(spent_at) if !within_grace(spent_at, now, grace) || retries >= MAX_GRACE_RETRIES => {
            revoke_family(tx, family.id).await?;
            Ok(Rotation::Reused(family))
        }
        Some(_) if get::<Option<bool>>(&token, "successor_spent")? == Some(true) => {
            // The successor was used already: this is no retry, it is reuse.
            revoke_family(tx, family.id).await?;
            Ok(Rotation::Reused(family))
        }
        Some(_) => {
            // A retry within the grace period: the successor issued last time is replaced
            // (and kept, so presenting it is reuse). `spent_at` stays that of the first
            // exchange: retries do not extend the period.
            let previous: Option<Vec<u8>> = get(&token, "successor_hash")?;
            execute(
                tx,
                "UPDATE auth_refresh_tokens SET replaced = true WHERE hash = $1",
                &[&previous],
            )
            .await?;
            execute(
                tx,
                "UPDATE auth_refresh_tokens \
                 SET grace_retries = grace_retries + 1, successor_hash = $2 WHERE hash = $1",
                &[&presented, &&successor.hash.as_bytes()[..]],
            )
            .await?;
            insert_token(tx, successor, family.id, pg_time(family.expires_at)).await?;
            Ok(Rotation::Rotated(family))
        }
        None if now >= get::<SystemTime>(&token, "idle_expires_at")? => Ok(Rotation::Invalid),
        None => {
            spend(tx, presented, successor, &family, now).await?;
            Ok(Rotation::Rotated(family))
        }
    }
}

/// Marks `presented` spent at `now` in exchange for `successor`, which becomes current.
async fn spend(
    tx: &Transaction<'_>,
    presented: &[u8],
    successor: &RefreshTokenRecord,
    family: &RefreshFamily,
    now: SystemTime,
) -> Result<()> {
    execute(
        tx,
        "UPDATE auth_refresh_tokens SET spent_at = $2, successor_hash = $3 WHERE hash = $1",
        &[&presented, &pg_time(now), &&successor.hash.as_bytes()[..]],
    )
    .await?;
    insert_token(tx, successor, family.id, pg_time(family.expires_at)).await
}

/// Stores a current token of the family, its idle expiry capped at the family's expiry.
async fn insert_token(
    tx: &Transaction<'_>,
    token: &RefreshTokenRecord,
    family: FamilyId,
    family_expires_at: SystemTime,
) -> Result<()> {
    execute(
        tx,
        "INSERT INTO auth_refresh_tokens (hash, family_id, issued_at, idle_expires_at) \
         VALUES ($1, $2, $3, $4)",
        &[
            &&token.hash.as_bytes()[..],
            &family.as_uuid(),
            &pg_time(token.issued_at),
            &pg_time(token.idle_expires_at).min(family_expires_at),
        ],
    )
    .await?;
    Ok(())
}

async fn revoke_family(tx: &Transaction<'_>, family: FamilyId) -> Result<()> {
    execute(
        tx,
        "UPDATE auth_refresh_families SET revoked = true WHERE id = $1",
        &[&family.as_uuid()],
    )
    .await?;
    Ok(())
}

fn refresh_family(row: &Row) -> Result<RefreshFamily> {
    Ok(RefreshFamily {
        id: FamilyId::from(get::<Uuid>(row, "id")?),
        user_id: UserId::from(get::<Uuid>(row, "user_id")?),
        session_id: get_session_id(row, "session_id")?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
        epoch: epoch(row)?,
    })
}
