//! [`UserStore`]: table `auth_users`, emails unique case-insensitively.

use async_trait::async_trait;
use deadpool_postgres::tokio_postgres::Row;
use uuid::Uuid;

use super::{PostgresStore, execute, get, pg_time, query_opt};
use crate::error::Result;
use crate::id::UserId;
use crate::store::{User, UserStore};

#[async_trait]
impl UserStore for PostgresStore {
    async fn create_user(&self, user: User) -> Result<()> {
        let client = self.client().await?;
        execute(
            &client,
            "INSERT INTO auth_users (id, email, password_hash, disabled, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &user.id.as_uuid(),
                &user.email,
                &user.password_hash,
                &user.disabled,
                &pg_time(user.created_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let client = self.client().await?;
        let sql = "SELECT id, email, password_hash, disabled, created_at FROM auth_users \
                   WHERE lower(email) = lower($1)";
        query_opt(&client, sql, &[&email])
            .await?
            .map(|row| user(&row))
            .transpose()
    }

    async fn user_by_id(&self, id: &UserId) -> Result<Option<User>> {
        let client = self.client().await?;
        let sql = "SELECT id, email, password_hash, disabled, created_at FROM auth_users \
                   WHERE id = $1";
        query_opt(&client, sql, &[&id.as_uuid()])
            .await?
            .map(|row| user(&row))
            .transpose()
    }

    async fn set_password_hash(&self, id: &UserId, password_hash: &str) -> Result<bool> {
        let client = self.client().await?;
        let updated = execute(
            &client,
            "UPDATE auth_users SET password_hash = $2 WHERE id = $1",
            &[&id.as_uuid(), &password_hash],
        )
        .await?;
        Ok(updated == 1)
    }

    async fn set_disabled(&self, id: &UserId, disabled: bool) -> Result<bool> {
        let client = self.client().await?;
        let updated = execute(
            &client,
            "UPDATE auth_users SET disabled = $2 WHERE id = $1",
            &[&id.as_uuid(), &disabled],
        )
        .await?;
        Ok(updated == 1)
    }
}

fn user(row: &Row) -> Result<User> {
    Ok(User {
        id: UserId::from(get::<Uuid>(row, "id")?),
        email: get(row, "email")?,
        password_hash: get(row, "password_hash")?,
        disabled: get(row, "disabled")?,
        created_at: get(row, "created_at")?,
    })
}
