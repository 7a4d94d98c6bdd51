//! [`OutboxStore`]: tables `auth_outbox` and `auth_outbox_deliveries`.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use deadpool_postgres::tokio_postgres::Row;
use uuid::Uuid;

use super::{PostgresStore, db_error, execute, get, pg_time, query, query_one, to_u64};
use crate::error::{Error, Result};
use crate::outbox::{Backlog, Delivery, MessageId, OutboxMessage};
use crate::store::OutboxStore;

#[async_trait]
impl OutboxStore for PostgresStore {
    async fn enqueue(&self, message: OutboxMessage) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        enqueue_in(&tx, &message).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn claim_deliveries(
        &self,
        sink: &str,
        now: SystemTime,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        let client = self.client().await?;
        let now = pg_time(now);
        let until = pg_time(now + lease);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Rows another worker is claiming right now are skipped, not waited for.
        let rows = query(
            &client,
            "WITH due AS ( \
               SELECT d.message_id, d.sink FROM auth_outbox_deliveries d \
               JOIN auth_outbox m ON m.id = d.message_id \
               WHERE d.sink = $1 AND d.delivered_at IS NULL AND d.next_attempt_at <= $2 \
                 AND (d.leased_until IS NULL OR d.leased_until <= $2) \
               ORDER BY m.created_at, m.id LIMIT $4 \
               FOR UPDATE OF d SKIP LOCKED) \
             UPDATE auth_outbox_deliveries d \
             SET attempts = d.attempts + 1, leased_until = $3 \
             FROM due, auth_outbox m \
             WHERE d.message_id = due.message_id AND d.sink = due.sink AND m.id = d.message_id \
             RETURNING m.id, m.kind, m.payload::text AS payload, m.sinks, m.created_at, \
                       d.sink, d.attempts",
            &[&sink, &now, &until, &limit],
        )
        .await?;
        let mut deliveries = rows.iter().map(delivery).collect::<Result<Vec<_>>>()?;
        deliveries.sort_by_key(|d| (d.message.created_at, d.message.id));
        Ok(deliveries)
    }

    async fn delivered(&self, message: &MessageId, sink: &str, now: SystemTime) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        // The message's row first: two sinks reporting at once take turns, so the second sees
        // the first's delivery done and removes the message (otherwise each would see the
        // other's still pending and neither would).
        execute(
            &tx,
            "SELECT 1 FROM auth_outbox WHERE id = $1 FOR UPDATE",
            &[&message.as_uuid()],
        )
        .await?;
        execute(
            &tx,
            "UPDATE auth_outbox_deliveries SET delivered_at = $3, leased_until = NULL \
             WHERE message_id = $1 AND sink = $2",
            &[&message.as_uuid(), &sink, &pg_time(now)],
        )
        .await?;
        // Once every sink has it, the message goes (its deliveries with it).
        execute(
            &tx,
            "DELETE FROM auth_outbox WHERE id = $1 AND NOT EXISTS ( \
               SELECT 1 FROM auth_outbox_deliveries \
               WHERE message_id = $1 AND delivered_at IS NULL)",
            &[&message.as_uuid()],
        )
        .await?;
        tx.commit().await.map_err(db_error)
    }

    async fn failed(
        &self,
        message: &MessageId,
        sink: &str,
        retry_at: SystemTime,
        error: &str,
    ) -> Result<()> {
        let client = self.client().await?;
        execute(
            &client,
            "UPDATE auth_outbox_deliveries \
             SET next_attempt_at = $3, leased_until = NULL, last_error = $4 \
             WHERE message_id = $1 AND sink = $2 AND delivered_at IS NULL",
            &[&message.as_uuid(), &sink, &pg_time(retry_at), &error],
        )
        .await?;
        Ok(())
    }

    async fn backlog(&self, sink: &str) -> Result<Backlog> {
        let client = self.client().await?;
        let row = query_one(
            &client,
            "SELECT count(*) AS pending, min(m.created_at) AS oldest \
             FROM auth_outbox_deliveries d JOIN auth_outbox m ON m.id = d.message_id \
             WHERE d.sink = $1 AND d.delivered_at IS NULL",
            &[&sink],
        )
        .await?;
        Ok(Backlog {
            pending: to_u64(get(&row, "pending")?, "count")?,
            oldest: get(&row, "oldest")?,
        })
    }
}

/// Enqueues `message` within `tx`: the message and one delivery per sink.
pub(super) async fn enqueue_in(tx: &impl GenericClient, message: &OutboxMessage) -> Result<()> {
    execute(
        tx,
        "INSERT INTO auth_outbox (id, kind, payload, sinks, created_at) \
         VALUES ($1, $2, $3::text::jsonb, $4, $5)",
        &[
            &message.id.as_uuid(),
            &message.kind,
            &message.payload.to_string(),
            &message.sinks,
            &pg_time(message.created_at),
        ],
    )
    .await?;
    execute(
        tx,
        "INSERT INTO auth_outbox_deliveries (message_id, sink, next_attempt_at) \
         SELECT $1, sink, $3 FROM unnest($2::text[]) AS sink",
        &[
            &message.id.as_uuid(),
            &message.sinks,
            &pg_time(message.created_at),
        ],
    )
    .await?;
    Ok(())
}

fn delivery(row: &Row) -> Result<Delivery> {
    let payload: String = get(row, "payload")?;
    let attempts: i32 = get(row, "attempts")?;
    Ok(Delivery {
        message: OutboxMessage {
            id: MessageId::from(get::<Uuid>(row, "id")?),
            kind: get(row, "kind")?,
            payload: serde_json::from_str(&payload).map_err(|_| {
                Error::Internal("PostgreSQL holds an invalid outbox payload".into())
            })?,
            sinks: get(row, "sinks")?,
            created_at: get(row, "created_at")?,
        },
        sink: get(row, "sink")?,
        attempts: u32::try_from(attempts)
            .map_err(|_| Error::Internal("a negative attempt count is stored".into()))?,
    })
}
