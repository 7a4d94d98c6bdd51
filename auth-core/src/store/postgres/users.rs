//! [`UserStore`]: table `auth_users`, emails unique case-insensitively.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use deadpool_postgres::tokio_postgres::Row;
use uuid::Uuid;

use super::{PostgresStore, execute, get, pg_time, query_opt};
use crate::error::{Error, Result};
use crate::id::UserId;
use crate::store::{User, UserStore};

#[async_trait]
impl UserStore for PostgresStore {
    async fn create_user(&self, user: User) -> Result<()> {
        let client = self.client().await?;
        create_user_in(&client, &user).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let client = self.client().await?;
        let sql = "SELECT id, email, password_hash, disabled, created_at, epoch FROM auth_users \
                   WHERE lower(email) = lower($1)";
        query_opt(&client, sql, &[&email])
            .await?
            .map(|row| user(&row))
            .transpose()
    }

    async fn user_by_id(&self, id: &UserId) -> Result<Option<User>> {
        let client = self.client().await?;
        let sql = "SELECT id, email, password_hash, disabled, created_at, epoch FROM auth_users \
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
}

/// Creates `user` through `client` (a transaction, for a unit of work).
pub(super) async fn create_user_in(client: &impl GenericClient, user: &User) -> Result<()> {
    execute(
        client,
        "INSERT INTO auth_users (id, email, password_hash, disabled, created_at, epoch) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &user.id.as_uuid(),
            &user.email,
            &user.password_hash,
            &user.disabled,
            &pg_time(user.created_at),
            &epoch_param(user.epoch)?,
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
    })
}
