//! A user store of the application's own: [`UserDirectory`] keeps accounts in a
//! `RwLock<HashMap>` with an email index that ignores case, implements
//! `auth_core::store::UserStore`, and passes the library's conformance check for it
//! (`examples/tests/custom_user_store.rs` runs it).
//!
//! Any backend works the same way: implement the one trait the data lives behind, run the
//! conformance check against it, and hand it to `Stores` beside the library's stores for
//! the rest.
//!
//! Run: `cargo run -p auth-examples --bin custom_user_store`

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::SystemTime;

use async_trait::async_trait;
use auth_core::id::UserId;
use auth_core::store::{User, UserStore};
use auth_core::{Error, Result};

/// Accounts by id, with an index from the lower-cased email to the id.
///
/// The `Authenticator` normalises emails before it calls a store, so the index only matters
/// for what reaches the store another way (an import, an admin tool): `Ada@Example.com` and
/// `ada@example.com` are one account whoever writes them.
#[derive(Debug, Default)]
pub struct UserDirectory {
    tables: RwLock<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    by_id: HashMap<UserId, User>,
    by_email: HashMap<String, UserId>,
    /// Whether the accounts made before verification was required were marked verified.
    verification_adopted: bool,
}

fn email_key(email: &str) -> String {
    email.to_lowercase()
}

impl UserDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many accounts it holds.
    pub fn len(&self) -> usize {
        self.read().by_id.len()
    }

    /// Whether it holds no account.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // A panic elsewhere while holding the lock leaves the maps consistent (every write below
    // is a single insert or field update), so a poisoned lock is still usable.
    fn read(&self) -> RwLockReadGuard<'_, Tables> {
        self.tables.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Tables> {
        self.tables.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn update<T>(&self, id: &UserId, change: impl FnOnce(&mut User) -> T) -> Option<T> {
        self.write().by_id.get_mut(id).map(change)
    }
}

// No lock is held across an `.await`: every method does its work synchronously.
#[async_trait]
impl UserStore for UserDirectory {
    async fn create_user(&self, user: User) -> Result<()> {
        let key = email_key(&user.email);
        let mut tables = self.write();
        if tables.by_email.contains_key(&key) || tables.by_id.contains_key(&user.id) {
            return Err(Error::Conflict("an account with this email exists".into()));
        }
        tables.by_email.insert(key, user.id);
        tables.by_id.insert(user.id, user);
        Ok(())
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let tables = self.read();
        Ok(tables
            .by_email
            .get(&email_key(email))
            .and_then(|id| tables.by_id.get(id))
            .cloned())
    }

    async fn user_by_id(&self, id: &UserId) -> Result<Option<User>> {
        Ok(self.read().by_id.get(id).cloned())
    }

    async fn upgrade_password_hash(
        &self,
        id: &UserId,
        epoch: u64,
        password_hash: &str,
    ) -> Result<bool> {
        // Under the write lock, so a change cannot slip in between the check and the write.
        let upgraded = self.update(id, |user| {
            let current = user.epoch == epoch;
            if current {
                password_hash.clone_into(&mut user.password_hash);
            }
            current
        });
        Ok(upgraded == Some(true))
    }

    async fn change_password_hash(
        &self,
        id: &UserId,
        epoch: u64,
        password_hash: &str,
    ) -> Result<Option<u64>> {
        let changed = self.update(id, |user| {
            (user.epoch == epoch).then(|| {
                password_hash.clone_into(&mut user.password_hash);
                user.epoch += 1;
                user.epoch
            })
        });
        Ok(changed.flatten())
    }

    async fn advance_epoch(&self, id: &UserId, epoch: u64) -> Result<Option<u64>> {
        let advanced = self.update(id, |user| {
            (user.epoch == epoch).then(|| {
                user.epoch += 1;
                user.epoch
            })
        });
        Ok(advanced.flatten())
    }

    async fn set_disabled(&self, id: &UserId, disabled: bool) -> Result<bool> {
        let updated = self.update(id, |user| {
            user.disabled = disabled;
            if disabled {
                user.epoch += 1;
            }
        });
        Ok(updated.is_some())
    }

    async fn mark_email_verified(&self, id: &UserId, email: &str, now: SystemTime) -> Result<bool> {
        let marked = self.update(id, |user| {
            let current = email_key(&user.email) == email_key(email);
            if current {
                user.email_verified_at.get_or_insert(now);
            }
            current
        });
        Ok(marked == Some(true))
    }

    async fn change_email(
        &self,
        id: &UserId,
        from: &str,
        to: &str,
        now: SystemTime,
    ) -> Result<bool> {
        let (from_key, to_key) = (email_key(from), email_key(to));
        // One write lock for the check and both index updates.
        let mut tables = self.write();
        let current = tables
            .by_id
            .get(id)
            .is_some_and(|user| email_key(&user.email) == from_key);
        if !current {
            return Ok(false);
        }
        if tables
            .by_email
            .get(&to_key)
            .is_some_and(|owner| owner != id)
        {
            return Err(Error::Conflict("an account with this email exists".into()));
        }
        tables.by_email.remove(&from_key);
        tables.by_email.insert(to_key, *id);
        if let Some(user) = tables.by_id.get_mut(id) {
            to.clone_into(&mut user.email);
            user.email_verified_at = Some(now);
        }
        Ok(true)
    }

    async fn adopt_email_verification(&self, now: SystemTime) -> Result<Option<u64>> {
        let mut tables = self.write();
        if std::mem::replace(&mut tables.verification_adopted, true) {
            return Ok(None);
        }
        let mut adopted = 0;
        for user in tables.by_id.values_mut() {
            if user.email_verified_at.is_none() {
                user.email_verified_at = Some(now);
                adopted += 1;
            }
        }
        Ok(Some(adopted))
    }
}
