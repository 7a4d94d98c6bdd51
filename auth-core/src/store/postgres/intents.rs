//! [`IntentStore`]: table `auth_intents`.

use std::time::SystemTime;

use async_trait::async_trait;
use deadpool_postgres::tokio_postgres::Row;
use deadpool_postgres::tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::users::{epoch, epoch_param};
use deadpool_postgres::GenericClient;

use super::{PostgresStore, db_error, execute, get, pg_time, query_opt};
use crate::error::{Error, Result};
use crate::id::{SecretHash, UserId};
use crate::intent::{Intent, IntentId, IntentKey, Purpose};
use crate::store::IntentStore;

/// The columns an intent is read from.
const COLUMNS: &str =
    "id, user_id, purpose, secret_hash, code, epoch, target, created_at, expires_at";

/// The condition naming the live intent of purpose `$1` that a key names, at `$2`: a link's by
/// the secret's digest (`$3`) alone (`$4` NULL), a code's by its intent's id (`$4`) too.
const LIVE: &str = "purpose = $1 AND expires_at > $2 AND secret_hash = $3 \
                    AND (($4::text IS NULL AND NOT code) OR (id = $4 AND code)) \
                    AND used_at IS NULL AND voided_at IS NULL";

fn key_params(key: &IntentKey) -> (&SecretHash, Option<&str>) {
    match key {
        IntentKey::Link(hash) => (hash, None),
        IntentKey::Code { id, hash } => (hash, Some(id.as_str())),
    }
}

#[async_trait]
impl IntentStore for PostgresStore {
    async fn issue_intent(&self, intent: Intent) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        issue_in(&tx, &intent).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn find_intent(
        &self,
        purpose: Purpose,
        key: &IntentKey,
        now: SystemTime,
    ) -> Result<Option<Intent>> {
        let select = format!("SELECT {COLUMNS} FROM auth_intents WHERE {LIVE}");
        self.live_intent(&select, purpose, key, now).await
    }

    async fn code_intent(
        &self,
        purpose: Purpose,
        id: &IntentId,
        now: SystemTime,
    ) -> Result<Option<Intent>> {
        let client = self.client().await?;
        let select = format!(
            "SELECT {COLUMNS} FROM auth_intents \
             WHERE id = $1 AND purpose = $2 AND code AND expires_at > $3 \
               AND used_at IS NULL AND voided_at IS NULL"
        );
        query_opt(
            &client,
            &select,
            &[&id.as_str(), &purpose.as_str(), &pg_time(now)],
        )
        .await?
        .map(|row| intent(&row))
        .transpose()
    }

    async fn void_intents_since(
        &self,
        user: &UserId,
        purpose: Purpose,
        since: SystemTime,
        now: SystemTime,
    ) -> Result<u64> {
        let client = self.client().await?;
        execute(
            &client,
            "UPDATE auth_intents SET voided_at = $4 \
             WHERE user_id = $1 AND purpose = $2 AND created_at >= $3 \
               AND expires_at > $4 AND used_at IS NULL AND voided_at IS NULL",
            &[
                &user.as_uuid(),
                &purpose.as_str(),
                &pg_time(since),
                &pg_time(now),
            ],
        )
        .await
    }

    async fn consume_intent(
        &self,
        purpose: Purpose,
        key: &IntentKey,
        now: SystemTime,
    ) -> Result<Option<Intent>> {
        // One statement: of concurrent uses, the first to update the row gets it; the others
        // find it used when they re-check the row.
        let update =
            format!("UPDATE auth_intents SET used_at = $2 WHERE {LIVE} RETURNING {COLUMNS}");
        self.live_intent(&update, purpose, key, now).await
    }

    async fn void_intents(
        &self,
        user: &UserId,
        purpose: Option<Purpose>,
        now: SystemTime,
    ) -> Result<u64> {
        let client = self.client().await?;
        execute(
            &client,
            "UPDATE auth_intents SET voided_at = $3 \
             WHERE user_id = $1 \
               AND (purpose = $2 OR ($2::text IS NULL AND purpose <> 'undo_email_change')) \
               AND expires_at > $3 AND used_at IS NULL AND voided_at IS NULL",
            &[
                &user.as_uuid(),
                &purpose.map(Purpose::as_str),
                &pg_time(now),
            ],
        )
        .await
    }
}

/// Issues `intent` within `tx`: the account's row locked first, so two intents issued at once
/// for one account take turns and the later one always voids the earlier.
pub(super) async fn issue_in(tx: &impl GenericClient, intent: &Intent) -> Result<()> {
    let account = query_opt(
        tx,
        "SELECT 1 AS found FROM auth_users WHERE id = $1 FOR UPDATE",
        &[&intent.user_id.as_uuid()],
    )
    .await?;
    if account.is_none() {
        return Err(Error::NotFound("no such account".into()));
    }
    execute(
        tx,
        "UPDATE auth_intents SET voided_at = $3 \
         WHERE user_id = $1 AND purpose = $2 AND $2 <> 'undo_email_change' \
           AND used_at IS NULL AND voided_at IS NULL",
        &[
            &intent.user_id.as_uuid(),
            &intent.purpose.as_str(),
            &pg_time(intent.created_at),
        ],
    )
    .await?;
    execute(
        tx,
        "INSERT INTO auth_intents \
           (id, user_id, purpose, secret_hash, code, epoch, target, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &intent.id.as_str(),
            &intent.user_id.as_uuid(),
            &intent.purpose.as_str(),
            &&intent.secret_hash.as_bytes()[..],
            &intent.code,
            &epoch_param(intent.epoch)?,
            &intent.target,
            &pg_time(intent.created_at),
            &pg_time(intent.expires_at),
        ],
    )
    .await?;
    Ok(())
}

impl PostgresStore {
    /// Runs `statement` (a query over [`LIVE`]'s parameters returning [`COLUMNS`]) for the live
    /// intent of `purpose` that `key` names at `now`.
    async fn live_intent(
        &self,
        statement: &str,
        purpose: Purpose,
        key: &IntentKey,
        now: SystemTime,
    ) -> Result<Option<Intent>> {
        let (hash, id) = key_params(key);
        let client = self.client().await?;
        let params: [&(dyn ToSql + Sync); 4] =
            [&purpose.as_str(), &pg_time(now), &&hash.as_bytes()[..], &id];
        query_opt(&client, statement, &params)
            .await?
            .map(|row| intent(&row))
            .transpose()
    }
}

fn intent(row: &Row) -> Result<Intent> {
    let hash: Vec<u8> = get(row, "secret_hash")?;
    let hash: [u8; 32] = hash
        .try_into()
        .map_err(|_| Error::Internal("PostgreSQL holds an invalid intent digest".into()))?;
    Ok(Intent {
        id: IntentId::parse(&get::<String>(row, "id")?)
            .map_err(|_| Error::Internal("PostgreSQL holds an invalid intent id".into()))?,
        user_id: UserId::from(get::<Uuid>(row, "user_id")?),
        purpose: get::<String>(row, "purpose")?.parse()?,
        secret_hash: SecretHash::from_bytes(hash),
        code: get(row, "code")?,
        epoch: epoch(row)?,
        target: get(row, "target")?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
    })
}
