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
        self.end_demoted_sessions(&change.demoted).await?;
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
        self.end_demoted_sessions(&change.demoted).await?;
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
            self.end_demoted_sessions(&[*user]).await?;
        }
        Ok(lost)
    }

    /// Ends every session of each account in `demoted` (their epoch moved already).
    async fn end_demoted_sessions(&self, demoted: &[UserId]) -> Result<()> {
        for user in demoted {
            self.end_sessions_of(*user, None, SessionEnd::AccessRemoved, None)
                .await?;
        }
        Ok(())
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
            return Err(Error::InvalidScope(format!(
                "the account holds more scopes than a token carries ({MAX_SCOPE_CLAIM_LEN} \
                 bytes); ask for a subset"
            )));
        }
        Ok(scope)
    }
}
