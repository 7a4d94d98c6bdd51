//! [`EventSink`]: table `auth_audit_events`, one row per event.

use async_trait::async_trait;

use super::{PostgresStore, execute, pg_time};
use crate::error::Result;
use crate::event::AuthEvent;
use crate::event::EventSink;
use crate::id::{SessionId, UserId};

#[async_trait]
impl EventSink for PostgresStore {
    async fn record(&self, event: AuthEvent) -> Result<()> {
        let client = self.client().await?;
        execute(
            &client,
            "INSERT INTO auth_audit_events (at, name, detail, user_id, session_id, client) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &pg_time(event.at),
                &event.name(),
                &format!("{:?}", event.kind),
                &event.user_id.as_ref().map(UserId::as_uuid),
                &event.session_id.as_ref().map(SessionId::as_str),
                &event.client,
            ],
        )
        .await?;
        Ok(())
    }
}
