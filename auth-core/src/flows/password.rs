//! Password changes, and the current-password check that guards sensitive changes.

use std::net::IpAddr;

use secrecy::SecretString;

use super::{Authenticator, Origin, Principal};
use crate::error::{Error, Result};
use crate::event::{AuthEventKind, SessionEnd};
use crate::mail::MailKind;
use crate::password::Verification;
use crate::store::User;

impl Authenticator {
    /// Changes the password: the current one is required, the new one must meet the policy,
    /// the credentials epoch moves on and every other session of the user ends, including
    /// logins finishing concurrently and second-factor challenges already issued.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &SecretString,
        new: &SecretString,
        client: Option<IpAddr>,
    ) -> Result<()> {
        let user = self.user_for(principal).await?;
        self.check_current_password(&user, current, client).await?;
        let hash = self
            .timed_hash(
                self.inner
                    .passwords
                    .hash_new_password(new, &self.context_of(&user.email)),
            )
            .await?;
        let epoch = self
            .inner
            .stores
            .users
            .change_password_hash(&user.id, user.epoch, &hash)
            .await?
            // The credentials changed since they were read and checked: the password verified
            // may no longer be the password.
            .ok_or(Error::InvalidCredentials)?;
        self.emit(
            AuthEventKind::PasswordChanged,
            Some(user.id),
            principal.session_id.clone(),
            client,
        )
        .await;
        self.credentials_changed(principal, epoch, SessionEnd::PasswordChanged, client)
            .await?;
        self.notify(
            &user,
            MailKind::PasswordChanged,
            &Origin::from_client(client),
        )
        .await;
        Ok(())
    }

    /// A sensitive change needs the current password: checked like a login's, its attempt
    /// reserved first in the same counters.
    pub(super) async fn check_current_password(
        &self,
        user: &User,
        password: &SecretString,
        client: Option<IpAddr>,
    ) -> Result<()> {
        let attempt = self
            .inner
            .throttle
            .reserve_password(&user.email, client)
            .await?;
        let verification = match self.verify_stored(user, password).await {
            Ok(verification) => verification,
            Err(error) => {
                let _ = attempt.release().await;
                return Err(error);
            }
        };
        match verification {
            Verification::Valid { .. } => attempt.succeeded().await,
            Verification::Invalid => {
                attempt.failed().await?;
                Err(Error::InvalidCredentials)
            }
        }
    }
}
