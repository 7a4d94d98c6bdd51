//! [`UserStore`]: table `auth_users`, emails unique case-insensitively.

use std::time::SystemTime;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use deadpool_postgres::tokio_postgres::Row;
use uuid::Uuid;

use super::{PostgresStore, db_error, execute, get, pg_time, query_opt};
use crate::error::{Error, Result};
use crate::id::UserId;
use crate::store::{AddressChange, User, UserStore};

#[async_trait]
impl UserStore for PostgresStore {
    async fn create_user(&self, user: User) -> Result<()> {
        let client = self.client().await?;
        create_user_in(&client, &user).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let client = self.client().await?;
        let sql = "SELECT id, email, password_hash, disabled, created_at, epoch, email_verified_at, locale \
                   FROM auth_users \
                   WHERE lower(email) = lower($1)";
        query_opt(&client, sql, &[&email])
            .await?
            .map(|row| user(&row))
            .transpose()
    }

    async fn user_by_id(&self, id: &UserId) -> Result<Option<User>> {
        let client = self.client().await?;
        let sql = "SELECT id, email, password_hash, disabled, created_at, epoch, email_verified_at, locale \
                   FROM auth_users \
                   WHERE id = $1";
        query_opt(&client, sql, &[&id.as_uuid()])
            .await?
            .map(|row| user(&row))
            .transpose()
    }

    async fn upgrade_password_hash(
        &self,
        id: &UserId,
        epoch: u64,
        password_hash: &str,
    ) -> Result<bool> {
        let client = self.client().await?;
        let updated = execute(
            &client,
            "UPDATE auth_users SET password_hash = $3 WHERE id = $1 AND epoch = $2",
            &[&id.as_uuid(), &epoch_param(epoch)?, &password_hash],
        )
        .await?;
        Ok(updated == 1)
    }

    async fn change_password_hash(
        &self,
        id: &UserId,
        epoch: u64,
        password_hash: &str,
    ) -> Result<Option<u64>> {
        let client = self.client().await?;
        let row = query_opt(
            &client,
            "UPDATE auth_users SET password_hash = $3, epoch = epoch + 1 \
             WHERE id = $1 AND epoch = $2 RETURNING epoch",
            &[&id.as_uuid(), &epoch_param(epoch)?, &password_hash],
        )
        .await?;
        row.map(|row| self::epoch(&row)).transpose()
    }

    async fn advance_epoch(&self, id: &UserId, epoch: u64) -> Result<Option<u64>> {
        let client = self.client().await?;
        let row = query_opt(
            &client,
            "UPDATE auth_users SET epoch = epoch + 1 WHERE id = $1 AND epoch = $2 RETURNING epoch",
            &[&id.as_uuid(), &epoch_param(epoch)?],
        )
        .await?;
        row.map(|row| self::epoch(&row)).transpose()
    }

    async fn set_disabled(&self, id: &UserId, disabled: bool) -> Result<bool> {
        let client = self.client().await?;
        let updated = execute(
            &client,
            "UPDATE auth_users SET disabled = $2, \
               epoch = CASE WHEN $2 THEN epoch + 1 ELSE epoch END \
             WHERE id = $1",
            &[&id.as_uuid(), &disabled],
        )
        .await?;
        Ok(updated == 1)
    }

    async fn mark_email_verified(&self, id: &UserId, email: &str, now: SystemTime) -> Result<bool> {
        let client = self.client().await?;
        let updated = execute(
            &client,
            "UPDATE auth_users SET email_verified_at = coalesce(email_verified_at, $3) \
             WHERE id = $1 AND email = $2",
            &[&id.as_uuid(), &email, &pg_time(now)],
        )
        .await?;
        Ok(updated == 1)
    }

    async fn change_email(
        &self,
        id: &UserId,
        from: &str,
        to: &str,
        now: SystemTime,
    ) -> Result<bool> {
        let client = self.client().await?;
        let change = AddressChange {
            user: *id,
            from: from.to_owned(),
            to: to.to_owned(),
            at: now,
        };
        change_email_in(&client, &change).await
    }

    async fn adopt_email_verification(&self, now: SystemTime) -> Result<Option<u64>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        // The marker row first: of concurrent first calls, one inserts it, the others wait on
        // its key and then find it taken.
        let first = execute(
            &tx,
            "INSERT INTO auth_data_migrations (name) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&VERIFICATION_ADOPTED],
        )
        .await?;
        if first == 0 {
            return Ok(None);
        }
        let adopted = execute(
            &tx,
            "UPDATE auth_users SET email_verified_at = $1 WHERE email_verified_at IS NULL",
            &[&pg_time(now)],
        )
        .await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Some(adopted))
    }
}

/// Moves an account as `change` says, through `client` (a transaction, for a unit of work):
/// false if its address is no longer `change.from`; a taken address violates the unique
/// index, a conflict (see `db_error`).
pub(super) async fn change_email_in(
    client: &impl GenericClient,
    change: &AddressChange,
) -> Result<bool> {
    refuse_held(client, &change.to, Some(&change.user), change.at).await?;
    let updated = execute(
        client,
        "UPDATE auth_users SET email = $3, email_verified_at = $4 \
         WHERE id = $1 AND email = $2",
        &[
            &change.user.as_uuid(),
            &change.from,
            &change.to,
            &pg_time(change.at),
        ],
    )
    .await?;
    Ok(updated == 1)
}

/// The `auth_data_migrations` row recording that accounts made before verification was
/// required were marked verified.
const VERIFICATION_ADOPTED: &str = "email_verification_adopted";

/// [`Error::Conflict`] if `email` is held at `now` for another account than `owner`: an
/// account left it and the undo link sent to it still lives.
async fn refuse_held(
    client: &impl GenericClient,
    email: &str,
    owner: Option<&UserId>,
    now: SystemTime,
) -> Result<()> {
    let held = query_opt(
        client,
        "SELECT 1 AS held FROM auth_intents \
         WHERE purpose = 'undo_email_change' AND target = $1 \
           AND used_at IS NULL AND voided_at IS NULL AND expires_at > $2 \
           AND ($3::uuid IS NULL OR user_id <> $3) \
         LIMIT 1",
        &[&email, &pg_time(now), &owner.map(UserId::as_uuid)],
    )
    .await?;
    match held {
        Some(_) => Err(Error::Conflict("an account with this email exists".into())),
        None => Ok(()),
    }
}

/// Creates `user` through `client` (a transaction, for a unit of work).
pub(super) async fn create_user_in(client: &impl GenericClient, user: &User) -> Result<()> {
    refuse_held(client, &user.email, None, user.created_at).await?;
    execute(
        client,
        "INSERT INTO auth_users \
           (id, email, password_hash, disabled, created_at, epoch, email_verified_at, locale) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &user.id.as_uuid(),
            &user.email,
            &user.password_hash,
            &user.disabled,
            &pg_time(user.created_at),
            &epoch_param(user.epoch)?,
            &user.email_verified_at.map(pg_time),
            &user.locale,
        ],
    )
    .await?;
    Ok(())
}

/// An epoch as stored: a non-negative `bigint`.
pub(super) fn epoch_param(epoch: u64) -> Result<i64> {
    i64::try_from(epoch).map_err(|_| Error::InvalidRequest("credentials epoch out of range".into()))
}

/// The `epoch` column of a row.
pub(super) fn epoch(row: &Row) -> Result<u64> {
    u64::try_from(get::<i64>(row, "epoch")?)
        .map_err(|_| Error::Internal("a negative credentials epoch is stored".into()))
}

fn user(row: &Row) -> Result<User> {
    Ok(User {
        id: UserId::from(get::<Uuid>(row, "id")?),
        email: get(row, "email")?,
        password_hash: get(row, "password_hash")?,
        disabled: get(row, "disabled")?,
        created_at: get(row, "created_at")?,
        epoch: epoch(row)?,
        email_verified_at: get(row, "email_verified_at")?,
        locale: get(row, "locale")?,
    })
}
