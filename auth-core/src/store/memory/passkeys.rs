//! [`PasskeyStore`] in memory.

use std::collections::HashMap;
use std::time::SystemTime;

use async_trait::async_trait;
use uuid::Uuid;

use super::MemoryStore;
use crate::error::{Error, Result};
use crate::id::UserId;
use crate::passkey::{Ceremony, CeremonyId, CounterCheck, PasskeyId, PasskeyRecord, PasskeyUse};
use crate::store::PasskeyStore;

#[derive(Default)]
pub(super) struct PasskeyState {
    handles: HashMap<UserId, Uuid>,
    users_by_handle: HashMap<Uuid, UserId>,
    /// Oldest first (registered at, then credential id).
    records: Vec<PasskeyRecord>,
    ceremonies: HashMap<CeremonyId, Ceremony>,
}

impl PasskeyState {
    fn record_mut(&mut self, user: &UserId, id: &PasskeyId) -> Option<&mut PasskeyRecord> {
        self.records
            .iter_mut()
            .find(|record| record.id == *id && record.user_id == *user)
    }
}

#[async_trait]
impl PasskeyStore for MemoryStore {
    async fn passkey_handle(&self, user: &UserId, fresh: Uuid) -> Result<Uuid> {
        let mut state = self.state();
        let passkeys = &mut state.passkeys;
        if let Some(handle) = passkeys.handles.get(user) {
            return Ok(*handle);
        }
        if passkeys.users_by_handle.contains_key(&fresh) {
            return Err(Error::Conflict("the user handle is taken".into()));
        }
        passkeys.handles.insert(*user, fresh);
        passkeys.users_by_handle.insert(fresh, *user);
        Ok(fresh)
    }

    async fn user_of_passkey_handle(&self, handle: &Uuid) -> Result<Option<UserId>> {
        Ok(self.state().passkeys.users_by_handle.get(handle).copied())
    }

    async fn add_passkey(&self, record: PasskeyRecord) -> Result<()> {
        let mut state = self.state();
        if !state.users.contains_key(&record.user_id) {
            return Err(Error::NotFound("no such account".into()));
        }
        let passkeys = &mut state.passkeys;
        if passkeys.records.iter().any(|kept| kept.id == record.id) {
            return Err(Error::Conflict("the passkey is registered already".into()));
        }
        passkeys.records.push(record);
        passkeys
            .records
            .sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(())
    }

    async fn passkey(&self, id: &PasskeyId) -> Result<Option<PasskeyRecord>> {
        let state = self.state();
        Ok(state
            .passkeys
            .records
            .iter()
            .find(|record| record.id == *id)
            .cloned())
    }

    async fn passkeys_of(&self, user: &UserId) -> Result<Vec<PasskeyRecord>> {
        let state = self.state();
        Ok(state
            .passkeys
            .records
            .iter()
            .filter(|record| record.user_id == *user)
            .cloned()
            .collect())
    }

    async fn rename_passkey(&self, user: &UserId, id: &PasskeyId, name: &str) -> Result<bool> {
        let mut state = self.state();
        Ok(match state.passkeys.record_mut(user, id) {
            Some(record) => {
                name.clone_into(&mut record.name);
                true
            }
            None => false,
        })
    }

    async fn delete_passkey(&self, user: &UserId, id: &PasskeyId) -> Result<bool> {
        let mut state = self.state();
        let records = &mut state.passkeys.records;
        let before = records.len();
        records.retain(|record| !(record.id == *id && record.user_id == *user));
        Ok(records.len() < before)
    }

    async fn delete_passkeys_of(&self, user: &UserId) -> Result<u64> {
        let mut state = self.state();
        let passkeys = &mut state.passkeys;
        let before = passkeys.records.len();
        passkeys.records.retain(|record| record.user_id != *user);
        if let Some(handle) = passkeys.handles.remove(user) {
            passkeys.users_by_handle.remove(&handle);
        }
        passkeys
            .ceremonies
            .retain(|_, ceremony| ceremony.user_id.as_ref() != Some(user));
        Ok(u64::try_from(before - passkeys.records.len()).unwrap_or(u64::MAX))
    }

    async fn record_passkey_use(
        &self,
        id: &PasskeyId,
        used: PasskeyUse,
        accept_regression: bool,
    ) -> Result<Option<CounterCheck>> {
        let mut state = self.state();
        let Some(record) = state
            .passkeys
            .records
            .iter_mut()
            .find(|record| record.id == *id)
        else {
            return Ok(None);
        };
        let check = counter_check(record.sign_count, used.sign_count);
        if matches!(check, CounterCheck::Regressed { .. }) && !accept_regression {
            return Ok(Some(check));
        }
        if check == CounterCheck::Advanced {
            record.sign_count = used.sign_count;
        }
        record.backup_eligible = used.backup_eligible;
        record.backup_state = used.backup_state;
        record.last_used_at = Some(used.at);
        Ok(Some(check))
    }

    async fn save_ceremony(&self, ceremony: Ceremony) -> Result<()> {
        let mut state = self.state();
        let ceremonies = &mut state.passkeys.ceremonies;
        if ceremonies.contains_key(&ceremony.id) {
            return Err(Error::Conflict("the ceremony exists".into()));
        }
        // What has expired can never be finished: forgotten, so the map stays as long as what
        // is live.
        let now = ceremony.created_at;
        ceremonies.retain(|_, kept| now < kept.expires_at);
        ceremonies.insert(ceremony.id.clone(), ceremony);
        Ok(())
    }

    async fn take_ceremony(&self, id: &CeremonyId, now: SystemTime) -> Result<Option<Ceremony>> {
        let mut state = self.state();
        Ok(state
            .passkeys
            .ceremonies
            .remove(id)
            .filter(|ceremony| now < ceremony.expires_at))
    }
}

/// What the counter an assertion reports says against the stored one (WebAuthn Level 3,
/// verifying an assertion, step 22).
pub(crate) fn counter_check(stored: u32, presented: u32) -> CounterCheck {
    if stored == 0 && presented == 0 {
        CounterCheck::NoCounter
    } else if presented > stored {
        CounterCheck::Advanced
    } else {
        CounterCheck::Regressed { stored }
    }
}
