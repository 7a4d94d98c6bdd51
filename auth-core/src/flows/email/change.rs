//! Moving an account to another address, confirmed at the new one and undone from the old.

use super::*;

impl Authenticator {
    /// Asks to move the caller's account to `new_email`: needs a fresh authentication; a
    /// link goes to the new address. A taken address gets a note instead, and the answer is
    /// the same.
    pub async fn request_email_change(
        &self,
        principal: &Principal,
        new_email: &str,
        origin: &Origin,
    ) -> Result<()> {
        self.require_fresh(principal, SensitiveAction::ChangeEmail)?;
        let user = self.user_for(principal).await?;
        let new_email = normalize_email(new_email)?;
        if new_email == user.email {
            return Err(Error::InvalidRequest(
                "that is already the account's address".into(),
            ));
        }
        self.counted_mail(&new_email, origin, async {
            let taken = self.inner.stores.users.user_by_email(&new_email).await?;
            let writes = if taken.is_some() {
                // The same writes as for a free address: an intent (that no one can use: its
                // secret is mailed nowhere) voids the caller's earlier link alike, so no earlier
                // link's page tells a taken address from a free one.
                let (decoy, _) =
                    self.link_intent(&user, Purpose::ChangeEmail, Some(new_email.clone()));
                let note = self.mail(
                    MailKind::AccountExists,
                    &new_email,
                    (origin, taken.as_ref()),
                    self.base_fields(),
                );
                intents_and_mail(vec![decoy.intent], note)
            } else {
                let link = LinkMail {
                    purpose: Purpose::ChangeEmail,
                    target: Some(new_email.clone()),
                    kind: MailKind::ChangeEmail,
                    to: &new_email,
                    fields: self.base_fields(),
                };
                self.link_mail(&user, link, origin)
            };
            self.inner.stores.unit.apply(writes).await
        })
        .await
    }

    /// Uses a change-of-address link. A confirmation from the new address moves the account
    /// there, voids every other link and code the account had (they went to the old
    /// address), and mails the old address a link that undoes the change: the move, the undo
    /// link and its mail are one write. The undo link moves the account back, ends every
    /// session, takes the password away (a reset sets a new one), voids every link and code
    /// and the undo links of later changes, but not those of earlier ones. [`Error::Conflict`] if another account took the address meanwhile.
    pub async fn confirm_email_change(&self, token: &str, origin: &Origin) -> Result<()> {
        let change = self.consume_link(Purpose::ChangeEmail, token, true).await;
        let (intent, user) = match change {
            Ok(found) => found,
            Err(Error::IntentInvalid) => {
                let (intent, user) = self
                    .consume_link(Purpose::UndoEmailChange, token, false)
                    .await?;
                return self.undo_email_change(&intent, &user, origin).await;
            }
            Err(error) => return Err(error),
        };
        let new_email = intent.target.clone().ok_or(Error::IntentInvalid)?;
        self.inner
            .stores
            .intents
            .void_intents(&user.id, None, self.now())
            .await?;
        let undo = LinkMail {
            purpose: Purpose::UndoEmailChange,
            target: Some(user.email.clone()),
            kind: MailKind::EmailChanged,
            to: &user.email,
            fields: self.base_fields().with(Field::NewEmail, new_email.clone()),
        };
        let writes = Writes {
            change_email: Some(AddressChange {
                user: user.id,
                from: user.email.clone(),
                to: new_email,
                at: self.now(),
            }),
            ..self.link_mail(&user, undo, origin)
        };
        match self.inner.stores.unit.apply(writes).await {
            Ok(()) => {}
            Err(Error::NotFound(_)) => return Err(Error::IntentInvalid),
            Err(error) => return Err(error),
        }
        self.emit(
            AuthEventKind::EmailChanged { undone: false },
            Some(user.id),
            None,
            origin.client,
        )
        .await;
        Ok(())
    }

    async fn undo_email_change(&self, intent: &Intent, user: &User, origin: &Origin) -> Result<()> {
        let old_email = intent.target.as_deref().ok_or(Error::IntentInvalid)?;
        // The link is used: what follows must land even if the account changes meanwhile
        // (another change, a password change racing it), so each step is retried on the
        // account as it is now.
        let mut user = user.clone();
        let mut landed = false;
        for _ in 0..3 {
            let moved = user.email == old_email
                || self
                    .inner
                    .stores
                    .users
                    .change_email(&user.id, &user.email, old_email, self.now())
                    .await?;
            // Whoever changed the address may hold the sessions, the password and a second
            // factor of their own: the password and the factor go (the owner sets a password
            // with a reset), every session ends and the epoch moves, so their links and
            // challenges die too.
            landed = moved && self.forget_password(&user).await?.is_some();
            user = self
                .inner
                .stores
                .users
                .user_by_id(&user.id)
                .await?
                .ok_or(Error::IntentInvalid)?;
            if landed {
                break;
            }
        }
        if !landed {
            tracing::error!(user = %user.id, "an undo of a change of address could not land: the account kept changing");
            return Err(Error::Unavailable(
                "the account kept changing while its change of address was undone".into(),
            ));
        }
        self.drop_second_factor(&user).await?;
        let user = &user;
        self.after_credentials_reset(user, SessionEnd::EmailChangeUndone, origin)
            .await?;
        // The undo links of later changes go too (they would move the account away again);
        // those of earlier changes stay, so an undo by whoever took the account over cannot
        // void the way back of the owner before them.
        self.inner
            .stores
            .intents
            .void_intents_since(
                &user.id,
                Purpose::UndoEmailChange,
                intent.created_at,
                self.now(),
            )
            .await?;
        self.emit(
            AuthEventKind::EmailChanged { undone: true },
            Some(user.id),
            None,
            origin.client,
        )
        .await;
        Ok(())
    }
}
