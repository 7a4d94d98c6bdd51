//! Roles and scopes (see [`crate::authz`]): defining roles, granting and revoking them, and
//! the scopes a session's tokens carry.
//!
//! Every change is an audit event naming its [`Actor`]. A change that takes a scope from an
//! account has moved its credentials epoch in the store; here its sessions end, so their
//! access tokens are refused within the revocation bound rather than at their expiry.

use super::Authenticator;
use crate::authz::{ClientScopes, MAX_SCOPE_CLAIM_LEN, Role, RoleName, ScopeSet, granted_scopes};
use crate::error::{Error, Result};
use crate::event::{Actor, AuthEventKind, SessionEnd};
use crate::id::UserId;
use crate::store::RoleChange;

impl Authenticator {
    /// Creates the role, or sets its scopes and description to `role`'s. Holders that lose a
    /// scope by it are signed out everywhere (their credentials epoch moves on); holders that
    /// gain one carry it from their next login or refresh. Recorded as `role_defined` when
    /// anything changed.
    pub async fn define_role(&self, role: &Role, actor: &Actor) -> Result<RoleChange> {
        let change = self.inner.stores.roles.put_role(role).await?;
        if change.changed() {
            self.emit(
                AuthEventKind::RoleDefined {
                    role: role.name.to_string(),
                    created: change.created,
                    added: change.added.to_strings(),
                    removed: change.removed.to_strings(),
                    actor: actor.clone(),
                },
                None,
                None,
                None,
            )
            .await;
        }
        self.end_demoted_sessions(&role.name, &change, actor)
            .await?;
        Ok(change)
    }

    /// Deletes the role and every holding of it; [`Error::NotFound`] if there is no such
    /// role. Holders that lose a scope by it are signed out everywhere.
    pub async fn delete_role(&self, name: &RoleName, actor: &Actor) -> Result<RoleChange> {
        let change = self
            .inner
            .stores
            .roles
            .delete_role(name)
            .await?
            .ok_or_else(|| Error::NotFound("no such role".into()))?;
        self.emit(
            AuthEventKind::RoleDeleted {
                role: name.to_string(),
                holders: change.holders,
                actor: actor.clone(),
            },
            None,
            None,
            None,
        )
        .await;
        self.end_demoted_sessions(name, &change, actor).await?;
        Ok(change)
    }

    /// Every role, by name.
    pub async fn roles(&self) -> Result<Vec<Role>> {
        self.inner.stores.roles.roles().await
    }

    /// The roles `user` holds, by name.
    pub async fn roles_of(&self, user: &UserId) -> Result<Vec<Role>> {
        self.inner.stores.roles.roles_of(user).await
    }

    /// Grants `role` to `user`: its scopes are in the user's tokens from their next login or
    /// refresh. False if the user held it already (nothing recorded);
    /// [`Error::NotFound`] if there is no such role or account.
    pub async fn grant_role(&self, user: &UserId, role: &RoleName, actor: &Actor) -> Result<bool> {
        let granted = self
            .inner
            .stores
            .roles
            .grant_role(user, role, self.now())
            .await?;
        if granted {
            self.emit(
                AuthEventKind::RoleGranted {
                    role: role.to_string(),
                    actor: actor.clone(),
                },
                Some(*user),
                None,
                None,
            )
            .await;
        }
        Ok(granted)
    }

    /// Takes `role` from `user`; the scopes they lost (those no other role of theirs grants).
    /// When they lost any, their credentials epoch has moved on and every session of theirs
    /// ends. [`Error::NotFound`] if they did not hold it.
    pub async fn revoke_role(
        &self,
        user: &UserId,
        role: &RoleName,
        actor: &Actor,
    ) -> Result<ScopeSet> {
        let lost = self
            .inner
            .stores
            .roles
            .revoke_role(user, role)
            .await?
            .ok_or_else(|| Error::NotFound("the account does not hold this role".into()))?;
        self.emit(
            AuthEventKind::RoleRevoked {
                role: role.to_string(),
                lost: lost.to_strings(),
                actor: actor.clone(),
            },
            Some(*user),
            None,
            None,
        )
        .await;
        if !lost.is_empty() {
            self.end_sessions_of(*user, None, SessionEnd::AccessRemoved, None)
                .await?;
        }
        Ok(lost)
    }

    /// Signs the account out everywhere: its credentials epoch moves on and every session of
    /// it ends at once (for an operator: a removal whose sessions could not all be ended, a
    /// device reported lost). [`Error::NotFound`] if there is no such account.
    pub async fn sign_out_everywhere(&self, user: &UserId) -> Result<()> {
        let account = self
            .inner
            .stores
            .users
            .user_by_id(user)
            .await?
            .ok_or_else(|| Error::NotFound("no such account".into()))?;
        self.advance_epoch(&account).await?;
        self.end_sessions_of(*user, None, SessionEnd::CredentialsChanged, None)
            .await
    }

    /// After `change` to `role` (by `actor`): each holder that lost a scope by it is told in
    /// the audit trail and signed out (their epoch moved already). Every holder is dealt with
    /// even if one fails; the first failure is the answer.
    async fn end_demoted_sessions(
        &self,
        role: &RoleName,
        change: &RoleChange,
        actor: &Actor,
    ) -> Result<()> {
        let mut first_failure = None;
        for user in &change.demoted {
            self.emit(
                AuthEventKind::AccessRemoved {
                    role: role.to_string(),
                    removed: change.removed.to_strings(),
                    actor: actor.clone(),
                },
                Some(*user),
                None,
                None,
            )
            .await;
            let ended = self
                .end_sessions_of(*user, None, SessionEnd::AccessRemoved, None)
                .await;
            if let Err(error) = ended {
                tracing::error!(%user, %error, "the sessions of an account that lost a scope could not all be ended");
                first_failure.get_or_insert(error);
            }
        }
        first_failure.map_or(Ok(()), Err)
    }

    /// The scopes a token of `user`'s session carries: what they hold, or of it what
    /// `requested` names ([`Error::InvalidScope`] for a scope they do not hold). The server's
    /// own sessions are first party and opened by an authentication, so administrative scopes
    /// stay in (see [`granted_scopes`]).
    pub(super) async fn session_scopes(
        &self,
        user: &UserId,
        requested: Option<&ScopeSet>,
    ) -> Result<ScopeSet> {
        let holds = self.inner.stores.roles.scopes_of(user).await?;
        let scope = match requested {
            None => holds,
            Some(requested) => {
                let outside = requested.difference(&holds);
                if !outside.is_empty() {
                    return Err(Error::InvalidScope(format!(
                        "not granted to this session: {outside}"
                    )));
                }
                granted_scopes(requested, ClientScopes::SERVER, &holds, true)
            }
        };
        let claim_len = scope.iter().map(|s| s.as_str().len() + 1).sum::<usize>();
        if claim_len > MAX_SCOPE_CLAIM_LEN {
            tracing::error!(
                user = %user,
                claim_len,
                "the account's scopes do not fit in a token; give it fewer or shorter scopes"
            );
            return Err(Error::Config(format!(
                "the account holds more scopes than a token carries ({MAX_SCOPE_CLAIM_LEN} bytes)"
            )));
        }
        Ok(scope)
    }
}
