//! Sign-in by email: a link and a code in one mail, either of them signs in once.

use super::*;

impl Authenticator {
    /// Sends a sign-in link and code to `email` if an enabled account has it, a note that no
    /// account does otherwise; either way the answer is a request id, which
    /// [`login_with_code`](Self::login_with_code) takes with the code.
    pub async fn request_login_email(&self, email: &str, origin: &Origin) -> Result<IntentId> {
        let email = normalize_email(email)?;
        self.counted_mail(&email, origin, async {
            let Some(user) = self.active_user(&email).await? else {
                let mail = self.mail(
                    MailKind::NoAccount,
                    &email,
                    (origin, None),
                    self.base_fields(),
                );
                self.inner.stores.unit.apply(mail_only(mail)).await?;
                return Ok(IntentId::new());
            };
            let (link, _) = self.link_intent(&user, Purpose::LoginLink, Some(email.clone()));
            let now = self.now();
            let code = IntentCode::generate(self.email_config().code_digits);
            let id = IntentId::new();
            let lifetime = self.email_config().lifetimes.login_code;
            let code_intent = Intent {
                secret_hash: code.hash_for(&id),
                id: id.clone(),
                user_id: user.id,
                purpose: Purpose::LoginCode,
                code: true,
                epoch: user.epoch,
                target: Some(email.clone()),
                created_at: now,
                expires_at: now + lifetime,
            };
            let mail = self.mail(
                MailKind::Login,
                &email,
                (origin, Some(&user)),
                self.base_fields()
                    .with(Field::Link, link.link)
                    .with(Field::Code, code.expose())
                    .with(
                        Field::Expires,
                        minutes_text(lifetime.min(self.email_config().lifetimes.login_link)),
                    ),
            );
            self.inner
                .stores
                .unit
                .apply(intents_and_mail(vec![link.intent, code_intent], mail))
                .await?;
            Ok(id)
        })
        .await
    }

    /// Signs in with a sign-in link's token. A second factor, when enrolled, is still asked
    /// for ([`LoginOutcome::MfaRequired`]).
    pub async fn login_with_link(&self, token: &str, origin: &Origin) -> Result<LoginOutcome> {
        let (_, user) = self.consume_link(Purpose::LoginLink, token, true).await?;
        self.complete_email_login(user, origin).await
    }

    /// Signs in with the code mailed for request `request_id`. Every try is reserved before
    /// the check: per client address, per request (five tries, then the request is spent:
    /// [`Error::IntentInvalid`]) and in the account's second-factor budget (spent, the code is
    /// not checked and the answer is that of a wrong code). A wrong code, and any code for a
    /// request that names no live code (unknown, used, expired), answer
    /// [`Error::InvalidCredentials`] through the same counters, so a request id never tells
    /// whether its address has an account.
    pub async fn login_with_code(
        &self,
        request_id: &str,
        code: &str,
        origin: &Origin,
    ) -> Result<LoginOutcome> {
        let id = IntentId::parse(request_id)?;
        let code = IntentCode::parse(code)?;
        let intents = &self.inner.stores.intents;
        let live = intents
            .code_intent(Purpose::LoginCode, &id, self.now())
            .await?;
        let user = live.as_ref().map(|intent| intent.user_id);
        let throttle = &self.inner.throttle;
        let attempt = match throttle.reserve_emailed_code(origin.client, &id).await {
            Ok(attempt) => attempt,
            Err(Error::InvalidToken(TokenRejection::NotActive)) => {
                if let Some(user) = &user {
                    intents
                        .void_intents(user, Some(Purpose::LoginCode), self.now())
                        .await?;
                }
                return Err(Error::IntentInvalid);
            }
            Err(error) => return Err(error),
        };
        // The account's budget: spent, it answers as a wrong code does (a refusal of its own
        // would tell a request with an account from one without).
        let account = match throttle.reserve_code_for_account(user.as_ref(), &id).await {
            Ok(account) => Some(account),
            Err(Error::Throttled { .. }) => None,
            Err(error) => {
                let _ = attempt.release().await;
                return Err(error);
            }
        };
        let key = IntentKey::Code {
            hash: code.hash_for(&id),
            id,
        };
        let used = match &account {
            Some(_) => {
                intents
                    .consume_intent(Purpose::LoginCode, &key, self.now())
                    .await
            }
            None => Ok(None),
        };
        let used = match used {
            Ok(Some(used)) => {
                attempt.succeeded().await?;
                if let Some(account) = account {
                    account.succeeded().await?;
                }
                used
            }
            Ok(None) => {
                attempt.failed().await?;
                if let Some(account) = account {
                    account.failed().await?;
                }
                self.emit(AuthEventKind::MfaFailed, user, None, origin.client)
                    .await;
                return Err(Error::InvalidCredentials);
            }
            Err(error) => {
                let _ = attempt.release().await;
                if let Some(account) = account {
                    let _ = account.release().await;
                }
                return Err(error);
            }
        };
        let user = self.intent_user(&used).await?;
        self.complete_email_login(user, origin).await
    }

    /// The rest of a sign-in by email: the other half of the mail (link or code) is void,
    /// the address counts as verified, then the second factor or the session.
    ///
    /// The first proof of an address by a sign-in also takes the account's password away:
    /// whoever registered the account set it without proving the address, and may not be
    /// its owner (an account hijacked before its owner signed up). The owner sets one with a
    /// reset; every session of the account ends.
    async fn complete_email_login(&self, user: User, origin: &Origin) -> Result<LoginOutcome> {
        let intents = &self.inner.stores.intents;
        for purpose in [Purpose::LoginLink, Purpose::LoginCode] {
            intents
                .void_intents(&user.id, Some(purpose), self.now())
                .await?;
        }
        let user = if user.email_verified_at.is_none() {
            self.claim_unverified_account(user, origin).await?
        } else {
            user
        };
        self.after_first_factor(&user, Amr::Email, origin.client)
            .await
    }

    /// Verifies the address of an account never verified before, replaces its password with
    /// one no one knows and ends its sessions; the account as it is now.
    async fn claim_unverified_account(&self, user: User, origin: &Origin) -> Result<User> {
        let users = &self.inner.stores.users;
        self.forget_password(&user)
            .await?
            .ok_or(Error::IntentInvalid)?;
        users
            .mark_email_verified(&user.id, &user.email, self.now())
            .await?;
        self.drop_second_factor(&user).await?;
        self.end_sessions_of(user.id, None, SessionEnd::CredentialsChanged, origin.client)
            .await?;
        self.emit(
            AuthEventKind::EmailVerified,
            Some(user.id),
            None,
            origin.client,
        )
        .await;
        users
            .user_by_id(&user.id)
            .await?
            .filter(|user| !user.disabled)
            .ok_or(Error::IntentInvalid)
    }
}
