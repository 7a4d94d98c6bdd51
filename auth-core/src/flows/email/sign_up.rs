//! Sign-up as the verification setting says, and verifying an address.

use super::*;

impl Authenticator {
    /// The verification intent and mail of `user`.
    fn verification_writes(&self, user: &User, origin: &Origin) -> Writes {
        let link = LinkMail {
            purpose: Purpose::VerifyEmail,
            target: Some(user.email.clone()),
            kind: MailKind::VerifyEmail,
            to: &user.email,
            fields: self.base_fields(),
        };
        self.link_mail(user, link, origin)
    }

    /// Signs up as the configuration says ([`EmailVerification`]): with verification off, as
    /// [`register_from`](Self::register_from); otherwise the account, its verification link
    /// and the mail are written together. With verification required, a taken address gets a
    /// mail instead and the answer is the same, after the same work (the password is hashed
    /// either way). Counted like a registration, and as a mail to the address.
    pub async fn sign_up(
        &self,
        email: &str,
        password: &SecretString,
        origin: &Origin,
    ) -> Result<SignUp> {
        if self.email_config().verification == EmailVerification::Off {
            return self
                .register_from(email, password, origin.client)
                .await
                .map(SignUp::Created);
        }
        self.counted_registration(
            origin.client,
            self.sign_up_with_mail(email, password, origin),
        )
        .await
    }

    async fn sign_up_with_mail(
        &self,
        email: &str,
        password: &SecretString,
        origin: &Origin,
    ) -> Result<SignUp> {
        let email = normalize_email(email)?;
        self.counted_mail(&email, origin, async {
            let password_hash = self
                .timed_hash(
                    self.inner
                        .passwords
                        .hash_new_password(password, &self.context_of(&email)),
                )
                .await?;
            let required = self.email_config().verification == EmailVerification::Required;
            let taken = self.inner.stores.users.user_by_email(&email).await?;
            if taken.is_some() {
                if !required {
                    return Err(Error::Conflict("an account with this email exists".into()));
                }
                self.tell_account_exists(&email, taken.as_ref(), origin)
                    .await?;
                return Ok(SignUp::VerificationSent);
            }
            let user = User {
                // The language the sign-up asked in, as far as there are templates for it.
                locale: origin
                    .locale
                    .as_ref()
                    .map(|wanted| self.inner.templates.choose(Some(wanted)).to_owned()),
                ..User::new(email.clone(), password_hash, self.now())
            };
            let writes = Writes {
                create_user: Some(user.clone()),
                ..self.verification_writes(&user, origin)
            };
            match self.inner.stores.unit.apply(writes).await {
                Ok(()) => {}
                // Taken between the lookup and the write.
                Err(Error::Conflict(_)) if required => {
                    self.tell_account_exists(&user.email, None, origin).await?;
                    return Ok(SignUp::VerificationSent);
                }
                Err(error) => return Err(error),
            }
            self.emit(
                AuthEventKind::Registered,
                Some(user.id),
                None,
                origin.client,
            )
            .await;
            Ok(if required {
                SignUp::VerificationSent
            } else {
                SignUp::Created(user)
            })
        })
        .await
    }

    /// Mails `email` that an account (`owner`, when known) has it already, and records the
    /// attempt: one audit event, as a new account's sign-up records one.
    async fn tell_account_exists(
        &self,
        email: &str,
        owner: Option<&User>,
        origin: &Origin,
    ) -> Result<()> {
        let mail = self.mail(
            MailKind::AccountExists,
            email,
            (origin, owner),
            self.base_fields(),
        );
        self.inner.stores.unit.apply(mail_only(mail)).await?;
        self.emit(
            AuthEventKind::SignUpForTakenAddress,
            owner.map(|user| user.id),
            None,
            origin.client,
        )
        .await;
        Ok(())
    }

    /// Sends a new verification link to `email` if an enabled, unverified account has it
    /// (voiding the earlier link); otherwise nothing. The same answer either way.
    pub async fn resend_verification(&self, email: &str, origin: &Origin) -> Result<()> {
        let email = normalize_email(email)?;
        self.counted_mail(&email, origin, async {
            let Some(user) = self.active_user(&email).await? else {
                return Ok(());
            };
            if user.email_verified_at.is_some() {
                return Ok(());
            }
            let writes = self.verification_writes(&user, origin);
            self.inner.stores.unit.apply(writes).await
        })
        .await
    }

    /// Uses a verification link's token: the address it was sent to is verified, if it is
    /// still the account's. [`Error::IntentInvalid`] for a used, expired or voided token.
    pub async fn verify_email(&self, token: &str, origin: &Origin) -> Result<()> {
        let (intent, user) = self.consume_link(Purpose::VerifyEmail, token, true).await?;
        let address = intent.target.as_deref().unwrap_or(&user.email);
        if !self
            .inner
            .stores
            .users
            .mark_email_verified(&user.id, address, self.now())
            .await?
        {
            return Err(Error::IntentInvalid);
        }
        self.emit(
            AuthEventKind::EmailVerified,
            Some(user.id),
            None,
            origin.client,
        )
        .await;
        Ok(())
    }
}
