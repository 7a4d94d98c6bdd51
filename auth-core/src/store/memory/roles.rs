//! [`RoleStore`] in memory.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use async_trait::async_trait;

use super::{MemoryStore, State};
use crate::authz::{Role, RoleName, ScopeSet};
use crate::error::{Error, Result};
use crate::id::UserId;
use crate::store::{RoleChange, RoleStore};

#[derive(Default)]
pub(super) struct RoleState {
    roles: BTreeMap<RoleName, Role>,
    /// Each account's roles, with when each was granted.
    holdings: HashMap<UserId, BTreeMap<RoleName, SystemTime>>,
}

impl RoleState {
    fn holders_of(&self, role: &RoleName) -> Vec<UserId> {
        let mut holders: Vec<UserId> = self
            .holdings
            .iter()
            .filter(|(_, roles)| roles.contains_key(role))
            .map(|(user, _)| *user)
            .collect();
        holders.sort();
        holders
    }

    /// The scopes `user` holds through their roles other than `except`.
    fn scopes_besides(&self, user: &UserId, except: Option<&RoleName>) -> ScopeSet {
        let mut scopes = ScopeSet::new();
        for name in self.holdings.get(user).into_iter().flat_map(BTreeMap::keys) {
            if Some(name) != except
                && let Some(role) = self.roles.get(name)
            {
                scopes.extend(role.scopes.iter().cloned());
            }
        }
        scopes
    }
}

impl State {
    /// The holders of `role` that lose a scope when it stops granting `removed`, their epoch
    /// moved on.
    fn demote(&mut self, role: &RoleName, removed: &ScopeSet) -> Vec<UserId> {
        if removed.is_empty() {
            return Vec::new();
        }
        let demoted: Vec<UserId> = self
            .roles
            .holders_of(role)
            .into_iter()
            .filter(|user| !removed.is_subset(&self.roles.scopes_besides(user, Some(role))))
            .collect();
        for user in &demoted {
            if let Some(account) = self.users.get_mut(user) {
                account.epoch = account.epoch.saturating_add(1);
            }
        }
        demoted
    }
}

#[async_trait]
impl RoleStore for MemoryStore {
    async fn put_role(&self, role: &Role) -> Result<RoleChange> {
        let mut state = self.state();
        let before = state.roles.roles.get(&role.name).cloned();
        let (created, description_changed, old) = match before {
            Some(old) => (false, old.description != role.description, old.scopes),
            None => (true, false, ScopeSet::new()),
        };
        let removed = old.difference(&role.scopes);
        let demoted = state.demote(&role.name, &removed);
        state.roles.roles.insert(role.name.clone(), role.clone());
        Ok(RoleChange {
            created,
            description_changed,
            added: role.scopes.difference(&old),
            removed,
            holders: state.roles.holders_of(&role.name).len() as u64,
            demoted,
        })
    }

    async fn delete_role(&self, name: &RoleName) -> Result<Option<RoleChange>> {
        let mut state = self.state();
        let Some(role) = state.roles.roles.get(name).cloned() else {
            return Ok(None);
        };
        let holders = state.roles.holders_of(name).len() as u64;
        let demoted = state.demote(name, &role.scopes);
        state.roles.roles.remove(name);
        for roles in state.roles.holdings.values_mut() {
            roles.remove(name);
        }
        Ok(Some(RoleChange {
            created: false,
            description_changed: false,
            added: ScopeSet::new(),
            removed: role.scopes,
            holders,
            demoted,
        }))
    }

    async fn role(&self, name: &RoleName) -> Result<Option<Role>> {
        Ok(self.state().roles.roles.get(name).cloned())
    }

    async fn roles(&self) -> Result<Vec<Role>> {
        Ok(self.state().roles.roles.values().cloned().collect())
    }

    async fn grant_role(&self, user: &UserId, role: &RoleName, now: SystemTime) -> Result<bool> {
        let mut state = self.state();
        if !state.users.contains_key(user) || !state.roles.roles.contains_key(role) {
            return Err(Error::NotFound("no such account or role".into()));
        }
        let roles = state.roles.holdings.entry(*user).or_default();
        if roles.contains_key(role) {
            return Ok(false);
        }
        roles.insert(role.clone(), now);
        Ok(true)
    }

    async fn revoke_role(&self, user: &UserId, role: &RoleName) -> Result<Option<ScopeSet>> {
        let mut state = self.state();
        if !state
            .roles
            .holdings
            .get(user)
            .is_some_and(|roles| roles.contains_key(role))
        {
            return Ok(None);
        }
        let granted = state
            .roles
            .roles
            .get(role)
            .map(|role| role.scopes.clone())
            .unwrap_or_default();
        let lost = granted.difference(&state.roles.scopes_besides(user, Some(role)));
        if let Some(roles) = state.roles.holdings.get_mut(user) {
            roles.remove(role);
        }
        if !lost.is_empty()
            && let Some(account) = state.users.get_mut(user)
        {
            account.epoch = account.epoch.saturating_add(1);
        }
        Ok(Some(lost))
    }

    async fn roles_of(&self, user: &UserId) -> Result<Vec<Role>> {
        let state = self.state();
        Ok(state
            .roles
            .holdings
            .get(user)
            .into_iter()
            .flat_map(BTreeMap::keys)
            .filter_map(|name| state.roles.roles.get(name).cloned())
            .collect())
    }

    async fn scopes_of(&self, user: &UserId) -> Result<ScopeSet> {
        Ok(self.state().roles.scopes_besides(user, None))
    }
}
