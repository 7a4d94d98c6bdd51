//! Password changes, and the current-password check that guards sensitive changes.

use secrecy::SecretString;

use super::{Authenticator, Principal};
use crate::error::{Error, Result};
use crate::event::{AuthEventKind, SessionEnd};
use crate::password::Verification;
use crate::store::User;

impl Authenticator {
    /// Changes the password: the current one is required, the new one must meet the policy,
    /// and every other session of the user ends.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<()> {
        let user = self.user_for(principal).await?;
        self.check_current_password(&user, current).await?;
        let hash = self
            .timed_hash(self.inner.passwords.hash_new_password(new))
            .await?;
        self.inner
            .stores
            .users
            .set_password_hash(&user.id, &hash)
            .await?;
        self.emit(
            AuthEventKind::PasswordChanged,
            Some(user.id),
            principal.session_id.clone(),
            None,
        )
        .await;
        self.end_other_sessions(principal, SessionEnd::PasswordChanged)
            .await?;
        Ok(())
    }

    /// A sensitive change needs the current password; wrong guesses count against the throttle.
    pub(super) async fn check_current_password(
        &self,
        user: &User,
        password: &SecretString,
    ) -> Result<()> {
        self.inner.throttle.check(&user.email, None).await?;
        match self
            .timed_hash(self.inner.passwords.verify(password, &user.password_hash))
            .await?
        {
            Verification::Valid { .. } => Ok(()),
            Verification::Invalid => {
                self.inner
                    .throttle
                    .record_failure(&user.email, None)
                    .await?;
                Err(Error::InvalidCredentials)
            }
        }
    }
}
