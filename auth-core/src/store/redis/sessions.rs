//! [`SessionStore`] on Redis: one hash per session, one sorted set per user as the index.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use fred::prelude::{HashesInterface, KeysInterface, SortedSetsInterface};
use fred::types::Value;

use super::{RedisStore, decode_time, encode_time, malformed, ttl_millis};
use crate::authz::ScopeSet;
use crate::error::{Error, Result};
use crate::id::{Amr, SessionId, UserId};
use crate::oauth::{ClientGrant, ClientId};
use crate::store::{Session, SessionStore};

/// The session hash's fields, in the order [`parse_session`] reads them.
const FIELDS: [&str; 12] = [
    "user",
    "amr",
    "created",
    "last_used",
    "idle_expires",
    "expires",
    "auth_time",
    "flagged",
    "client",
    "user_agent",
    "oauth_client",
    "oauth_scope",
];

/// A session id read back from an index: any text, as [`SessionId`] accepts when deserialised.
fn session_id(raw: &str) -> Option<SessionId> {
    serde_json::from_value(serde_json::Value::String(raw.to_owned())).ok()
}

/// The session stored as `fields` (in [`FIELDS`] order); `None` if the key does not exist.
fn parse_session(id: &SessionId, fields: Vec<Option<String>>) -> Result<Option<Session>> {
    if fields.iter().all(Option::is_none) {
        return Ok(None);
    }
    let [
        user,
        amr,
        created,
        last_used,
        idle,
        expires,
        auth_time,
        flagged,
        client,
        user_agent,
        oauth_client,
        oauth_scope,
    ]: [Option<String>; 12] = fields.try_into().map_err(|_| malformed("session"))?;
    let time = |field: Option<String>| {
        field
            .as_deref()
            .and_then(decode_time)
            .ok_or_else(|| malformed("session"))
    };
    Ok(Some(Session {
        id: id.clone(),
        user_id: user
            .and_then(|u| u.parse().ok())
            .ok_or_else(|| malformed("session"))?,
        amr: amr
            .and_then(|a| serde_json::from_str::<Vec<String>>(&a).ok())
            .and_then(|methods| Amr::from_methods(&methods))
            .ok_or_else(|| malformed("session"))?,
        // Sessions stored by a release before `auth_time` count from their login.
        auth_time: time(auth_time.or_else(|| created.clone()))?,
        created_at: time(created)?,
        last_used_at: time(last_used)?,
        idle_expires_at: time(idle)?,
        expires_at: time(expires)?,
        // Sessions stored by a release before the flag are not flagged.
        flagged: flagged.as_deref() == Some("1"),
        // Absent in sessions stored by a release before them, empty when unknown.
        client: client.and_then(|c| c.parse().ok()),
        user_agent: user_agent.filter(|agent| !agent.is_empty()),
        // Absent in sessions stored by a release before grants, empty for the server's own.
        grant: match oauth_client.filter(|client| !client.is_empty()) {
            None => None,
            Some(client) => Some(ClientGrant {
                client_id: ClientId::parse(&client).map_err(|_| malformed("session"))?,
                scope: ScopeSet::parse(oauth_scope.as_deref().unwrap_or_default())
                    .map_err(|_| malformed("session"))?,
            }),
        },
    }))
}

impl RedisStore {
    /// The session stored under `id`, alive or not.
    async fn stored_session(&self, id: &SessionId) -> Result<Option<Session>> {
        let fields: Vec<Option<String>> = self
            .run(
                "session",
                self.client()
                    .hmget(self.session_key(id.as_str()), FIELDS.to_vec()),
            )
            .await?;
        parse_session(id, fields)
    }

    /// Marks a live session used (and, when `reauthenticated`, freshly authenticated at
    /// `now`); `None` if it is not alive.
    async fn touch(
        &self,
        id: &SessionId,
        now: SystemTime,
        idle_expires_at: SystemTime,
        reauthenticated: bool,
    ) -> Result<Option<Session>> {
        let mut args = vec![encode_time(now), encode_time(idle_expires_at)];
        if reauthenticated {
            args.push("reauthenticated".to_owned());
        }
        let fields: Option<Vec<Option<String>>> = self
            .run(
                "touch session",
                self.inner.scripts.touch_session.evalsha_with_reload(
                    self.client(),
                    self.session_key(id.as_str()),
                    args,
                ),
            )
            .await?;
        match fields {
            Some(fields) => parse_session(id, fields),
            None => Ok(None),
        }
    }

    /// The ids in the user's index, as stored.
    async fn indexed_sessions(&self, user: &UserId) -> Result<Vec<String>> {
        self.run(
            "session index",
            self.client().zrange(
                self.user_sessions_key(user),
                0,
                -1,
                None,
                false,
                None,
                false,
            ),
        )
        .await
    }

    /// Removes ids from the user's index. Best effort: a stale entry left behind is pruned by
    /// the next listing, so a failure here must not fail an operation that has succeeded.
    async fn unindex_sessions(&self, user: &UserId, ids: Vec<String>) {
        if ids.is_empty() {
            return;
        }
        let removal = self
            .client()
            .zrem::<i64, _, _>(self.user_sessions_key(user), ids);
        if let Err(error) = self.run("session index", removal).await {
            tracing::warn!(%error, "could not prune the session index; the next listing will");
        }
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn create_session(&self, session: Session) -> Result<()> {
        let key = self.session_key(session.id.as_str());
        // The session's last use stands for "now": the key lives until the session expires.
        let now = session.last_used_at;
        let ttl = ttl_millis(now, session.idle_expires_at.min(session.expires_at));
        let amr = serde_json::to_string(session.amr.methods())
            .map_err(|e| Error::Internal(format!("encoding amr: {e}")))?;
        let args = vec![
            ttl.to_string(),
            "user".into(),
            session.user_id.to_string(),
            "amr".into(),
            amr,
            "created".into(),
            encode_time(session.created_at),
            "last_used".into(),
            encode_time(session.last_used_at),
            "idle_expires".into(),
            encode_time(session.idle_expires_at),
            "expires".into(),
            encode_time(session.expires_at),
            "auth_time".into(),
            encode_time(session.auth_time),
            "flagged".into(),
            if session.flagged { "1" } else { "0" }.into(),
            "client".into(),
            session.client.map(|ip| ip.to_string()).unwrap_or_default(),
            "user_agent".into(),
            session.user_agent.clone().unwrap_or_default(),
            "oauth_client".into(),
            session
                .grant
                .as_ref()
                .map(|grant| grant.client_id.to_string())
                .unwrap_or_default(),
            "oauth_scope".into(),
            session
                .grant
                .as_ref()
                .map(|grant| grant.scope.to_string())
                .unwrap_or_default(),
        ];
        let scripts = &self.inner.scripts;
        let client = self.client();
        let created: i64 = self
            .run(
                "create session",
                scripts
                    .create_session
                    .evalsha_with_reload(client, key.clone(), args),
            )
            .await?;
        if created == 0 {
            return Err(Error::Conflict("session exists".into()));
        }

        // Then the index, which must outlive every session in it: touching never extends a
        // session past its absolute expiry.
        let score = session
            .created_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let index_ttl = ttl_millis(now, session.expires_at).max(ttl);
        let indexed = self
            .run(
                "index session",
                scripts.index_session.evalsha_with_reload::<i64, _, _>(
                    client,
                    self.user_sessions_key(&session.user_id),
                    vec![
                        score.to_string(),
                        session.id.to_string(),
                        index_ttl.to_string(),
                    ],
                ),
            )
            .await;
        if let Err(error) = indexed {
            // An unindexed session would escape "revoke all": take it back.
            let _ = self.run("create session", client.del::<i64, _>(key)).await;
            return Err(error);
        }
        Ok(())
    }

    async fn session(&self, id: &SessionId, now: SystemTime) -> Result<Option<Session>> {
        Ok(self.stored_session(id).await?.filter(|s| s.is_live(now)))
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

    async fn describe_session(&self, id: &SessionId, user_agent: &str) -> Result<()> {
        let _described: i64 = self
            .run(
                "describe session",
                self.inner.scripts.describe_session.evalsha_with_reload(
                    self.client(),
                    self.session_key(id.as_str()),
                    vec![user_agent.to_owned()],
                ),
            )
            .await?;
        Ok(())
    }

    async fn sessions_of(&self, user: &UserId, now: SystemTime) -> Result<Vec<Session>> {
        let indexed = self.indexed_sessions(user).await?;
        if indexed.is_empty() {
            return Ok(Vec::new());
        }
        // One round trip for all the records (each its own key, hence its own slot).
        let pipeline = self.client().pipeline();
        for raw in &indexed {
            let queued: Result<(), _> =
                pipeline.hmget(self.session_key(raw), FIELDS.to_vec()).await;
            queued.map_err(|e| super::unavailable("sessions", &e))?;
        }
        let replies: Vec<Result<Value, _>> = self
            .run("sessions", async { Ok(pipeline.try_all::<Value>().await) })
            .await?;

        let mut sessions = Vec::with_capacity(indexed.len());
        let mut stale = Vec::new();
        for (raw, reply) in indexed.into_iter().zip(replies) {
            let fields: Vec<Option<String>> = reply
                .and_then(|value| value.convert())
                .map_err(|e| super::unavailable("sessions", &e))?;
            let stored = match session_id(&raw) {
                Some(id) => parse_session(&id, fields)?,
                None => None,
            };
            match stored {
                Some(session) if session.user_id == *user => {
                    if session.is_live(now) {
                        sessions.push(session);
                    }
                }
                // Expired in Redis, revoked, or (never by us) another user's: not theirs.
                _ => stale.push(raw),
            }
        }
        self.unindex_sessions(user, stale).await;
        sessions.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(sessions)
    }

    async fn revoke_session(&self, user: &UserId, id: &SessionId) -> Result<bool> {
        let deleted: i64 = self
            .run(
                "revoke session",
                self.inner.scripts.revoke_session.evalsha_with_reload(
                    self.client(),
                    self.session_key(id.as_str()),
                    vec![user.to_string()],
                ),
            )
            .await?;
        if deleted == 1 {
            self.unindex_sessions(user, vec![id.to_string()]).await;
        }
        Ok(deleted == 1)
    }

    async fn revoke_sessions_of(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
    ) -> Result<Vec<SessionId>> {
        let mut ended = Vec::new();
        let mut unindex = Vec::new();
        for raw in self.indexed_sessions(user).await? {
            if except.is_some_and(|keep| keep.as_str() == raw) {
                continue;
            }
            let deleted: i64 = self
                .run(
                    "revoke sessions",
                    self.inner.scripts.revoke_session.evalsha_with_reload(
                        self.client(),
                        self.session_key(&raw),
                        vec![user.to_string()],
                    ),
                )
                .await?;
            if deleted == 1 {
                ended.extend(session_id(&raw));
            }
            unindex.push(raw);
        }
        self.unindex_sessions(user, unindex).await;
        Ok(ended)
    }
}
