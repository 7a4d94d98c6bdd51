//! A forgotten password: the reset link, and the reset (with the second factor when there is one).

use super::*;

impl Authenticator {
    /// Sends a reset link to `email` if an enabled account has it, and a note that no
    /// account does otherwise: the same answer, after the same store calls.
    pub async fn forgot_password(&self, email: &str, origin: &Origin) -> Result<()> {
        let email = normalize_email(email)?;
        self.counted_mail(&email, origin, async {
            let writes = match self.active_user(&email).await? {
                Some(user) => {
                    let link = LinkMail {
                        purpose: Purpose::ResetPassword,
                        target: Some(user.email.clone()),
                        kind: MailKind::ResetPassword,
                        to: &email,
                        fields: self.base_fields(),
                    };
                    self.link_mail(&user, link, origin)
                }
                None => mail_only(self.mail(
                    MailKind::NoAccount,
                    &email,
                    (origin, None),
                    self.base_fields(),
                )),
            };
            self.inner.stores.unit.apply(writes).await
        })
        .await
    }

    /// Sets a new password with a reset link's token. The password must meet the policy (and
    /// the breached-password check); when the account has a second factor, `second_factor`
    /// must be a current TOTP code or a recovery code, checked against the account's
    /// second-factor budget (reserved first), or the answer is [`Error::MfaRequired`] and the
    /// token stays usable. The credentials epoch moves on, every session ends, every other
    /// link and code of the account is void, the address counts as verified and a notice is
    /// mailed.
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: &SecretString,
        second_factor: Option<&str>,
        origin: &Origin,
    ) -> Result<()> {
        self.reset_password_with(
            token,
            new_password,
            second_factor.map(FactorProof::Code),
            origin,
        )
        .await
    }

    /// [`reset_password`](Self::reset_password) with any second factor the account has: a
    /// code, or (feature `passkeys`) a passkey answering a ceremony begun with
    /// `begin_passkey_reset`.
    pub async fn reset_password_with(
        &self,
        token: &str,
        new_password: &SecretString,
        second_factor: Option<FactorProof<'_>>,
        origin: &Origin,
    ) -> Result<()> {
        let key = link_key(token)?;
        // A password out of the policy's length is refused before anything is looked up.
        self.inner
            .passwords
            .config()
            .policy
            .check(new_password.expose_secret())?;
        let intents = &self.inner.stores.intents;
        // Looked at, not used, until everything is checked: a weak password or a missing
        // second factor leaves the link working.
        let intent = intents
            .find_intent(Purpose::ResetPassword, &key, self.now())
            .await?
            .ok_or(Error::IntentInvalid)?;
        let user = self.intent_user(&intent).await?;
        // Every try of a link counts, before any hashing: five, then the link is spent.
        let attempt = match self.inner.throttle.reserve_link_try(&intent.id).await {
            Ok(attempt) => attempt,
            Err(Error::InvalidToken(TokenRejection::NotActive)) => {
                intents
                    .void_intents(&user.id, Some(Purpose::ResetPassword), self.now())
                    .await?;
                return Err(Error::IntentInvalid);
            }
            Err(error) => return Err(error),
        };
        let checked = self
            .check_reset(&user, &intent, new_password, second_factor, origin)
            .await;
        let hash = match checked {
            Ok(hash) => {
                attempt.succeeded().await?;
                hash
            }
            Err(error @ (Error::Busy | Error::Unavailable(_))) => {
                let _ = attempt.release().await;
                return Err(error);
            }
            Err(error) => {
                attempt.failed().await?;
                return Err(error);
            }
        };
        intents
            .consume_intent(Purpose::ResetPassword, &key, self.now())
            .await?
            .ok_or(Error::IntentInvalid)?;
        self.inner
            .stores
            .users
            .change_password_hash(&user.id, user.epoch, &hash)
            .await?
            .ok_or(Error::IntentInvalid)?;
        let address = intent.target.as_deref().unwrap_or(&user.email);
        self.inner
            .stores
            .users
            .mark_email_verified(&user.id, address, self.now())
            .await?;
        self.after_credentials_reset(&user, SessionEnd::PasswordReset, origin)
            .await?;
        self.emit(
            AuthEventKind::PasswordReset,
            Some(user.id),
            None,
            origin.client,
        )
        .await;
        self.notify(&user, MailKind::PasswordChanged, origin).await;
        Ok(())
    }

    /// What a reset checks before it uses its link: the second factor is there when the
    /// account has one (asked for before any hashing), the new password meets the policy, and
    /// the factor is right (the account's second-factor budget, reserved first). The new
    /// password's hash.
    async fn check_reset(
        &self,
        user: &User,
        intent: &Intent,
        new_password: &SecretString,
        second_factor: Option<FactorProof<'_>>,
        origin: &Origin,
    ) -> Result<String> {
        let factor = !self.second_factors(&user.id).await?.is_empty();
        if factor && second_factor.is_none() {
            return Err(Error::MfaRequired);
        }
        let hash = self
            .timed_hash(
                self.inner
                    .passwords
                    .hash_new_password(new_password, &self.context_of(&user.email)),
            )
            .await?;
        match (factor, second_factor) {
            (true, Some(FactorProof::Code(code))) => {
                self.check_second_factor(&user.id, code, origin.client, None)
                    .await?;
            }
            #[cfg(feature = "passkeys")]
            (true, Some(FactorProof::Passkey(response))) => {
                self.check_passkey_reset(user, intent, response, origin.client)
                    .await?;
            }
            _ => {}
        }
        #[cfg(not(feature = "passkeys"))]
        let _ = intent;
        Ok(hash)
    }

    /// The live reset intent a link's token names, its account enabled:
    /// [`Error::IntentInvalid`] otherwise.
    #[cfg(feature = "passkeys")]
    pub(in crate::flows) async fn reset_intent(&self, token: &str) -> Result<Intent> {
        let key = link_key(token)?;
        let intent = self
            .inner
            .stores
            .intents
            .find_intent(Purpose::ResetPassword, &key, self.now())
            .await?
            .ok_or(Error::IntentInvalid)?;
        self.intent_user(&intent).await?;
        Ok(intent)
    }
}

/// The second factor a password reset is completed with.
#[derive(Debug, Clone, Copy)]
pub enum FactorProof<'a> {
    /// A current TOTP code or a recovery code.
    Code(&'a str),
    /// One of the account's passkeys (feature `passkeys`).
    #[cfg(feature = "passkeys")]
    Passkey(crate::flows::PasskeyResponse<'a>),
}
