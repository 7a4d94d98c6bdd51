//! [`GrantStore`]: tables `auth_oauth_codes` (one row per authorization code, kept after its
//! redemption so that a replay is recognised) and `auth_oauth_consents` (one row per user and
//! client).

use std::time::SystemTime;

use async_trait::async_trait;
use deadpool_postgres::tokio_postgres::Row;
use uuid::Uuid;

use super::{
    PostgresStore, corrupt, execute, get, get_session_id, pg_time, query, query_one, query_opt,
    to_i64, to_u64,
};
use crate::authz::{Scope, ScopeSet};
use crate::error::Result;
use crate::id::{Amr, SecretHash, SessionId, UserId};
use crate::oauth::{
    AuthorizationCode, ClientId, CodeChallenge, Consent, PushedRequest, Redemption,
};
use crate::store::GrantStore;

const CODE_COLUMNS: &str = "hash, client_id, user_id, redirect_uri, scope, nonce, code_challenge, \
                            amr, auth_time, epoch, created_at, expires_at";

fn scopes(row: &Row, column: &str) -> Result<ScopeSet> {
    get::<Vec<String>>(row, column)?
        .iter()
        .map(|scope| Scope::parse(scope).map_err(|_| corrupt("scope")))
        .collect()
}

fn client_id(row: &Row) -> Result<ClientId> {
    ClientId::parse(get::<&str>(row, "client_id")?).map_err(|_| corrupt("client id"))
}

fn code_of(row: &Row) -> Result<AuthorizationCode> {
    let hash = <[u8; 32]>::try_from(get::<&[u8]>(row, "hash")?)
        .map(SecretHash::from_bytes)
        .map_err(|_| corrupt("code digest"))?;
    Ok(AuthorizationCode {
        hash,
        client_id: client_id(row)?,
        user_id: UserId::from(get::<Uuid>(row, "user_id")?),
        redirect_uri: get(row, "redirect_uri")?,
        scope: scopes(row, "scope")?,
        nonce: get(row, "nonce")?,
        code_challenge: get::<Option<&str>>(row, "code_challenge")?
            .map(|challenge| {
                CodeChallenge::parse(challenge, Some("S256")).map_err(|_| corrupt("code challenge"))
            })
            .transpose()?,
        amr: Amr::from_methods(&get::<Vec<String>>(row, "amr")?)
            .ok_or_else(|| corrupt("authentication methods"))?,
        auth_time: get(row, "auth_time")?,
        epoch: to_u64(get(row, "epoch")?, "epoch")?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
    })
}

fn consent_of(row: &Row) -> Result<Consent> {
    Ok(Consent {
        user_id: UserId::from(get::<Uuid>(row, "user_id")?),
        client_id: client_id(row)?,
        scope: scopes(row, "scope")?,
        granted_at: get(row, "granted_at")?,
    })
}

#[async_trait]
impl GrantStore for PostgresStore {
    async fn save_code(&self, code: AuthorizationCode) -> Result<()> {
        let db = self.client().await?;
        execute(
            &db,
            &format!(
                "INSERT INTO auth_oauth_codes ({CODE_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ),
            &[
                &code.hash.as_bytes().as_slice(),
                &code.client_id.as_str(),
                &code.user_id.as_uuid(),
                &code.redirect_uri,
                &code.scope.to_strings(),
                &code.nonce,
                &code.code_challenge.as_ref().map(CodeChallenge::as_str),
                &code.amr.methods(),
                &pg_time(code.auth_time),
                &to_i64(code.epoch, "epoch")?,
                &pg_time(code.created_at),
                &pg_time(code.expires_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn redeem_code(
        &self,
        hash: &SecretHash,
        session: &SessionId,
        now: SystemTime,
    ) -> Result<Redemption> {
        let db = self.client().await?;
        let hash = hash.as_bytes().as_slice();
        // Of two redemptions, the row lock lets one through; the other finds it redeemed.
        let redeemed = query_opt(
            &db,
            &format!(
                "UPDATE auth_oauth_codes SET redeemed_by = $2 \
                 WHERE hash = $1 AND redeemed_by IS NULL AND $3 < expires_at \
                 RETURNING {CODE_COLUMNS}"
            ),
            &[&hash, &session.as_str(), &pg_time(now)],
        )
        .await?;
        if let Some(row) = redeemed {
            return Ok(Redemption::Redeemed(code_of(&row)?));
        }
        let spent = query_opt(
            &db,
            &format!(
                "SELECT {CODE_COLUMNS}, redeemed_by FROM auth_oauth_codes \
                 WHERE hash = $1 AND redeemed_by IS NOT NULL"
            ),
            &[&hash],
        )
        .await?;
        match spent {
            Some(row) => Ok(Redemption::Replayed {
                code: code_of(&row)?,
                session: get_session_id(&row, "redeemed_by")?,
            }),
            None => Ok(Redemption::Unknown),
        }
    }

    async fn push_request(&self, request: PushedRequest) -> Result<()> {
        let db = self.client().await?;
        let params = serde_json::to_string(&request.params)
            .map_err(|_| corrupt("pushed request parameters"))?;
        execute(
            &db,
            "INSERT INTO auth_oauth_pushed_requests (hash, client_id, params, expires_at) \
             VALUES ($1, $2, $3::text::jsonb, $4)",
            &[
                &request.hash.as_bytes().as_slice(),
                &request.client_id.as_str(),
                &params,
                &pg_time(request.expires_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn pushed_request(
        &self,
        hash: &SecretHash,
        now: SystemTime,
    ) -> Result<Option<PushedRequest>> {
        let db = self.client().await?;
        let Some(row) = query_opt(
            &db,
            "SELECT client_id, params::text AS params, expires_at FROM auth_oauth_pushed_requests \
             WHERE hash = $1 AND $2 < expires_at",
            &[&hash.as_bytes().as_slice(), &pg_time(now)],
        )
        .await?
        else {
            return Ok(None);
        };
        let params = serde_json::from_str(get::<&str>(&row, "params")?)
            .map_err(|_| corrupt("pushed request parameters"))?;
        Ok(Some(PushedRequest {
            hash: *hash,
            client_id: client_id(&row)?,
            params,
            expires_at: get(&row, "expires_at")?,
        }))
    }

    async fn take_pushed_request(&self, hash: &SecretHash, now: SystemTime) -> Result<bool> {
        let db = self.client().await?;
        let taken = execute(
            &db,
            "DELETE FROM auth_oauth_pushed_requests WHERE hash = $1 AND $2 < expires_at",
            &[&hash.as_bytes().as_slice(), &pg_time(now)],
        )
        .await?;
        Ok(taken == 1)
    }

    async fn put_consent(&self, consent: Consent) -> Result<()> {
        let db = self.client().await?;
        execute(
            &db,
            "INSERT INTO auth_oauth_consents AS c (user_id, client_id, scope, granted_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, client_id) DO UPDATE \
             SET scope = ARRAY(SELECT DISTINCT s FROM unnest(c.scope || EXCLUDED.scope) AS s \
                               ORDER BY s), \
                 granted_at = EXCLUDED.granted_at",
            &[
                &consent.user_id.as_uuid(),
                &consent.client_id.as_str(),
                &consent.scope.to_strings(),
                &pg_time(consent.granted_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn consent(&self, user: &UserId, client: &ClientId) -> Result<Option<Consent>> {
        let db = self.client().await?;
        query_opt(
            &db,
            "SELECT user_id, client_id, scope, granted_at FROM auth_oauth_consents \
             WHERE user_id = $1 AND client_id = $2",
            &[&user.as_uuid(), &client.as_str()],
        )
        .await?
        .map(|row| consent_of(&row))
        .transpose()
    }

    async fn consents_of(&self, user: &UserId) -> Result<Vec<Consent>> {
        let db = self.client().await?;
        query(
            &db,
            "SELECT user_id, client_id, scope, granted_at FROM auth_oauth_consents \
             WHERE user_id = $1 ORDER BY granted_at, client_id",
            &[&user.as_uuid()],
        )
        .await?
        .iter()
        .map(consent_of)
        .collect()
    }

    async fn revoke_consent(&self, user: &UserId, client: &ClientId) -> Result<bool> {
        let db = self.client().await?;
        let row = query_one(
            &db,
            "WITH codes AS (DELETE FROM auth_oauth_codes \
                            WHERE user_id = $1 AND client_id = $2 AND redeemed_by IS NULL), \
                  consent AS (DELETE FROM auth_oauth_consents \
                              WHERE user_id = $1 AND client_id = $2 RETURNING 1) \
             SELECT count(*) AS withdrawn FROM consent",
            &[&user.as_uuid(), &client.as_str()],
        )
        .await?;
        Ok(get::<i64>(&row, "withdrawn")? == 1)
    }
}
