//! [`GrantStore`] in memory.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use super::MemoryStore;
use crate::error::Result;
use crate::id::{SecretHash, SessionId, UserId};
use crate::oauth::{AuthorizationCode, ClientId, Consent, PushedRequest, Redemption};
use crate::store::GrantStore;

/// Codes by digest, each with the session that redeemed it; consent, oldest first.
#[derive(Debug, Default)]
pub(super) struct GrantState {
    codes: HashMap<SecretHash, (AuthorizationCode, Option<SessionId>)>,
    consents: Vec<Consent>,
    pushed: HashMap<SecretHash, PushedRequest>,
}

impl GrantState {
    /// Forgets everything of a client that is gone, as the tables' cascade does.
    pub(super) fn forget_client(&mut self, client: &ClientId) {
        self.codes.retain(|_, (code, _)| code.client_id != *client);
        self.consents.retain(|consent| consent.client_id != *client);
        self.pushed
            .retain(|_, request| request.client_id != *client);
    }
}

#[async_trait]
impl GrantStore for MemoryStore {
    async fn save_code(&self, code: AuthorizationCode) -> Result<()> {
        let mut state = self.state();
        // Codes a day past their expiry go, as the PostgreSQL purge deletes them.
        let horizon = code.created_at.checked_sub(Duration::from_secs(24 * 3600));
        if let Some(horizon) = horizon {
            state
                .grants
                .codes
                .retain(|_, (kept, _)| kept.expires_at > horizon);
        }
        state.grants.codes.insert(code.hash, (code, None));
        Ok(())
    }

    async fn redeem_code(
        &self,
        hash: &SecretHash,
        session: &SessionId,
        now: SystemTime,
    ) -> Result<Redemption> {
        let mut state = self.state();
        let Some((code, redeemed_by)) = state.grants.codes.get_mut(hash) else {
            return Ok(Redemption::Unknown);
        };
        if let Some(first) = redeemed_by {
            return Ok(Redemption::Replayed {
                code: code.clone(),
                session: first.clone(),
            });
        }
        if now >= code.expires_at {
            return Ok(Redemption::Unknown);
        }
        *redeemed_by = Some(session.clone());
        Ok(Redemption::Redeemed(code.clone()))
    }

    async fn push_request(&self, request: PushedRequest) -> Result<()> {
        let mut state = self.state();
        // Expired requests go as new ones come, as the PostgreSQL purge deletes them.
        let now = request
            .expires_at
            .checked_sub(crate::oauth::par::PUSHED_REQUEST_TTL);
        if let Some(now) = now {
            state.grants.pushed.retain(|_, kept| kept.expires_at > now);
        }
        state.grants.pushed.insert(request.hash, request);
        Ok(())
    }

    async fn pushed_request(
        &self,
        hash: &SecretHash,
        now: SystemTime,
    ) -> Result<Option<PushedRequest>> {
        Ok(self
            .state()
            .grants
            .pushed
            .get(hash)
            .filter(|request| now < request.expires_at)
            .cloned())
    }

    async fn take_pushed_request(&self, hash: &SecretHash, now: SystemTime) -> Result<bool> {
        let mut state = self.state();
        let usable = state
            .grants
            .pushed
            .get(hash)
            .is_some_and(|request| now < request.expires_at);
        if usable {
            state.grants.pushed.remove(hash);
        }
        Ok(usable)
    }

    async fn put_consent(&self, consent: Consent) -> Result<()> {
        let mut state = self.state();
        let consents = &mut state.grants.consents;
        match consents
            .iter_mut()
            .find(|kept| kept.user_id == consent.user_id && kept.client_id == consent.client_id)
        {
            Some(kept) => {
                for scope in consent.scope.iter() {
                    kept.scope.insert(scope.clone());
                }
                kept.granted_at = consent.granted_at;
            }
            None => consents.push(consent),
        }
        Ok(())
    }

    async fn consent(&self, user: &UserId, client: &ClientId) -> Result<Option<Consent>> {
        Ok(self
            .state()
            .grants
            .consents
            .iter()
            .find(|kept| kept.user_id == *user && kept.client_id == *client)
            .cloned())
    }

    async fn consents_of(&self, user: &UserId) -> Result<Vec<Consent>> {
        let mut consents: Vec<Consent> = self
            .state()
            .grants
            .consents
            .iter()
            .filter(|kept| kept.user_id == *user)
            .cloned()
            .collect();
        consents.sort_by(|a, b| (a.granted_at, &a.client_id).cmp(&(b.granted_at, &b.client_id)));
        Ok(consents)
    }

    async fn revoke_consent(&self, user: &UserId, client: &ClientId) -> Result<bool> {
        let mut state = self.state();
        let consents = &mut state.grants.consents;
        let before = consents.len();
        consents.retain(|kept| !(kept.user_id == *user && kept.client_id == *client));
        let withdrawn = consents.len() < before;
        state.grants.codes.retain(|_, (code, redeemed_by)| {
            redeemed_by.is_some() || !(code.user_id == *user && code.client_id == *client)
        });
        Ok(withdrawn)
    }
}
