//! [`SessionStore`] (table `auth_sessions`) and [`RevocationStore`] (tables
//! `auth_revoked_sessions` and `auth_used_once`).

use std::time::SystemTime;

use async_trait::async_trait;
use deadpool_postgres::tokio_postgres::Row;
use uuid::Uuid;

use super::{
    PostgresStore, corrupt, execute, get, get_session_id, pg_time, query, query_one, query_opt,
};
use crate::authz::{Scope, ScopeSet};
use crate::error::{Error, Result};
use crate::id::{Amr, SessionId, UserId};
use crate::oauth::{ClientGrant, ClientId};
use crate::store::{RevocationStore, Session, SessionStore};

impl PostgresStore {
    /// Marks a live session used (and, when `reauthenticated`, freshly authenticated at
    /// `now`); `None` if it is not alive.
    async fn touch(
        &self,
        id: &SessionId,
        now: SystemTime,
        idle_expires_at: SystemTime,
        reauthenticated: bool,
    ) -> Result<Option<Session>> {
        let client = self.client().await?;
        query_opt(
            &client,
            "UPDATE auth_sessions \
             SET last_used_at = $2, idle_expires_at = LEAST($3, expires_at), \
               auth_time = CASE WHEN $4 THEN $2 ELSE auth_time END \
             WHERE id = $1 AND $2 < idle_expires_at AND $2 < expires_at \
             RETURNING id, user_id, amr, created_at, last_used_at, idle_expires_at, expires_at, \
               COALESCE(auth_time, created_at) AS auth_time, flagged, client, user_agent, \
               oauth_client, oauth_scope",
            &[
                &id.as_str(),
                &pg_time(now),
                &pg_time(idle_expires_at),
                &reauthenticated,
            ],
        )
        .await?
        .map(|row| session(&row))
        .transpose()
    }
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn create_session(&self, session: Session) -> Result<()> {
        let client = self.client().await?;
        execute(
            &client,
            "INSERT INTO auth_sessions \
               (id, user_id, amr, created_at, last_used_at, idle_expires_at, expires_at, \
                auth_time, flagged, client, user_agent, oauth_client, oauth_scope) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            &[
                &session.id.as_str(),
                &session.user_id.as_uuid(),
                &session.amr.methods(),
                &pg_time(session.created_at),
                &pg_time(session.last_used_at),
                &pg_time(session.idle_expires_at),
                &pg_time(session.expires_at),
                &pg_time(session.auth_time),
                &session.flagged,
                &session.client,
                &session.user_agent,
                &session.grant.as_ref().map(|grant| grant.client_id.as_str()),
                &session.grant.as_ref().map(|grant| grant.scope.to_strings()),
            ],
        )
        .await?;
        Ok(())
    }

    async fn describe_session(&self, id: &SessionId, user_agent: &str) -> Result<()> {
        let client = self.client().await?;
        execute(
            &client,
            "UPDATE auth_sessions SET user_agent = $2 WHERE id = $1",
            &[&id.as_str(), &user_agent],
        )
        .await?;
        Ok(())
    }

    async fn session(&self, id: &SessionId, now: SystemTime) -> Result<Option<Session>> {
        let client = self.client().await?;
        query_opt(
            &client,
            "SELECT id, user_id, amr, created_at, last_used_at, idle_expires_at, expires_at, \
               COALESCE(auth_time, created_at) AS auth_time, flagged, client, user_agent, \
               oauth_client, oauth_scope \
             FROM auth_sessions \
             WHERE id = $1 AND $2 < idle_expires_at AND $2 < expires_at",
            &[&id.as_str(), &pg_time(now)],
        )
        .await?
        .map(|row| session(&row))
        .transpose()
    }

    async fn touch_session(
        &self,
        id: &SessionId,
        now: SystemTime,
        idle_expires_at: SystemTime,
    ) -> Result<Option<Session>> {
        self.touch(id, now, idle_expires_at, false).await
    }

    async fn reauthenticate_session(
        &self,
        id: &SessionId,
        now: SystemTime,
        idle_expires_at: SystemTime,
    ) -> Result<Option<Session>> {
        self.touch(id, now, idle_expires_at, true).await
    }

    async fn sessions_of(&self, user: &UserId, now: SystemTime) -> Result<Vec<Session>> {
        let client = self.client().await?;
        query(
            &client,
            "SELECT id, user_id, amr, created_at, last_used_at, idle_expires_at, expires_at, \
               COALESCE(auth_time, created_at) AS auth_time, flagged, client, user_agent, \
               oauth_client, oauth_scope \
             FROM auth_sessions \
             WHERE user_id = $1 AND $2 < idle_expires_at AND $2 < expires_at \
             ORDER BY created_at, id",
            &[&user.as_uuid(), &pg_time(now)],
        )
        .await?
        .iter()
        .map(session)
        .collect()
    }

    async fn revoke_session(&self, user: &UserId, id: &SessionId) -> Result<bool> {
        let client = self.client().await?;
        let deleted = execute(
            &client,
            "DELETE FROM auth_sessions WHERE id = $2 AND user_id = $1",
            &[&user.as_uuid(), &id.as_str()],
        )
        .await?;
        Ok(deleted == 1)
    }

    async fn revoke_sessions_of(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
    ) -> Result<Vec<SessionId>> {
        let client = self.client().await?;
        query(
            &client,
            "DELETE FROM auth_sessions \
             WHERE user_id = $1 AND ($2::text IS NULL OR id <> $2) \
             RETURNING id",
            &[&user.as_uuid(), &except.map(SessionId::as_str)],
        )
        .await?
        .iter()
        .map(|row| get_session_id(row, "id"))
        .collect()
    }
}

#[async_trait]
impl RevocationStore for PostgresStore {
    async fn revoke_sid(&self, id: &SessionId, _now: SystemTime, until: SystemTime) -> Result<()> {
        let client = self.client().await?;
        // A later deadline is never shortened by an earlier one.
        execute(
            &client,
            "INSERT INTO auth_revoked_sessions AS r (session_id, revoked_until) VALUES ($1, $2) \
             ON CONFLICT (session_id) DO UPDATE \
             SET revoked_until = GREATEST(r.revoked_until, EXCLUDED.revoked_until)",
            &[&id.as_str(), &pg_time(until)],
        )
        .await?;
        Ok(())
    }

    async fn is_sid_revoked(&self, id: &SessionId, now: SystemTime) -> Result<bool> {
        let client = self.client().await?;
        let row = query_one(
            &client,
            "SELECT EXISTS (SELECT 1 FROM auth_revoked_sessions \
                            WHERE session_id = $1 AND $2 < revoked_until) AS revoked",
            &[&id.as_str(), &pg_time(now)],
        )
        .await?;
        get(&row, "revoked")
    }

    async fn use_once(&self, id: &str, now: SystemTime, until: SystemTime) -> Result<bool> {
        let client = self.client().await?;
        // A row comes back when the id is new, or when its earlier use has expired.
        let row = query_opt(
            &client,
            "INSERT INTO auth_used_once AS u (id, used_until) VALUES ($1, $3) \
             ON CONFLICT (id) DO UPDATE SET used_until = EXCLUDED.used_until \
             WHERE u.used_until <= $2 \
             RETURNING 1 AS used",
            &[&id, &pg_time(now), &pg_time(until)],
        )
        .await?;
        Ok(row.is_some())
    }
}

fn session(row: &Row) -> Result<Session> {
    Ok(Session {
        id: get_session_id(row, "id")?,
        user_id: UserId::from(get::<Uuid>(row, "user_id")?),
        amr: Amr::from_methods(&get::<Vec<String>>(row, "amr")?)
            .ok_or_else(|| Error::Internal("unknown authentication methods in a session".into()))?,
        created_at: get(row, "created_at")?,
        last_used_at: get(row, "last_used_at")?,
        idle_expires_at: get(row, "idle_expires_at")?,
        expires_at: get(row, "expires_at")?,
        auth_time: get(row, "auth_time")?,
        flagged: get(row, "flagged")?,
        client: get(row, "client")?,
        user_agent: get(row, "user_agent")?,
        grant: grant_of(row)?,
    })
}

/// The session's client grant, if it has one.
fn grant_of(row: &Row) -> Result<Option<ClientGrant>> {
    let Some(client) = get::<Option<&str>>(row, "oauth_client")? else {
        return Ok(None);
    };
    let scope = get::<Option<Vec<String>>>(row, "oauth_scope")?.unwrap_or_default();
    Ok(Some(ClientGrant {
        client_id: ClientId::parse(client).map_err(|_| corrupt("session client"))?,
        scope: scope
            .iter()
            .map(|scope| Scope::parse(scope).map_err(|_| corrupt("session scope")))
            .collect::<Result<ScopeSet>>()?,
    }))
}
