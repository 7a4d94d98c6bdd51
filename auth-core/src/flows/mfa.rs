//! Second-factor flows: TOTP enrolment, confirmation, verification at login, and disabling.

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, UNIX_EPOCH};

use secrecy::SecretString;

use super::login::ChallengeClaims;
use super::{Authenticator, Principal, SensitiveAction, Tokens};
use crate::clock::unix_seconds;
use crate::error::{Error, Result, TokenRejection};
use crate::event::AuthEventKind;
use crate::id::{Amr, SecondFactor, UserId};
use crate::mail::MailKind;
use crate::mfa::{self, RecoveryCodes, TotpSecret, recovery_code_hash};
use crate::store::TotpRecord;
use crate::throttle::{Attempt, challenge_key};
use crate::token::{Claims, TokenKind};

/// What a user needs to add the account to an authenticator app. Shown once.
pub struct TotpEnrollment {
    /// The secret in base32, for typing in by hand.
    pub secret: SecretString,
    /// The `otpauth://` URI, usually shown as a QR code.
    pub otpauth_uri: SecretString,
}

impl fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpEnrollment(REDACTED)")
    }
}

/// What proves the user may turn TOTP off.
pub enum DisableTotp<'a> {
    /// A current TOTP code (or a recovery code).
    Code(&'a str),
    /// The account password.
    Password(&'a SecretString),
}

/// Which second factor matched.
pub(super) enum Factor {
    Totp,
    RecoveryCode,
}

impl Authenticator {
    /// Starts TOTP enrolment: a new secret, stored encrypted and unconfirmed until
    /// [`Authenticator::confirm_totp`]. Adding a factor needs a fresh authentication
    /// ([`Error::ReauthRequired`] otherwise); [`Error::Conflict`] if TOTP is already on.
    pub async fn enroll_totp(&self, principal: &Principal) -> Result<TotpEnrollment> {
        self.require_fresh(principal, SensitiveAction::AddFactor)?;
        let user = self.user_for(principal).await?;
        if self.totp_enabled(&user.id).await? {
            return Err(Error::Conflict("TOTP is already enabled".into()));
        }
        let params = self.inner.config.totp;
        let secret = TotpSecret::generate(params.algorithm);
        let encrypted = self.inner.mfa_keys.encrypt(&user.id, &secret)?;
        self.inner
            .stores
            .mfa
            .save_pending_totp(TotpRecord {
                user_id: user.id,
                secret: encrypted,
                params,
                confirmed: false,
                last_used_step: None,
                created_at: self.now(),
            })
            .await?;
        Ok(TotpEnrollment {
            secret: secret.to_base32(),
            otpauth_uri: mfa::otpauth_uri(
                &self.inner.config.totp_issuer,
                &user.email,
                &secret,
                &params,
            ),
        })
    }

    /// Confirms enrolment with a valid code and returns the ten recovery codes, shown once.
    /// The code is checked like a login's second factor, its attempt reserved first. A factor
    /// added is a credential change: every other session ends.
    pub async fn confirm_totp(
        &self,
        principal: &Principal,
        code: &str,
        client: Option<IpAddr>,
    ) -> Result<Vec<SecretString>> {
        let user = self.user_for(principal).await?;
        let record = self
            .inner
            .stores
            .mfa
            .totp(&user.id)
            .await?
            .filter(|record| !record.confirmed)
            .ok_or_else(|| Error::Conflict("no TOTP enrolment is pending".into()))?;
        let attempt = self
            .inner
            .throttle
            .reserve_second_factor(&user.id, client, None)
            .await?;
        let checked = self.totp_step(&user.id, &record, code);
        let step = self
            .settle_factor(&user.id, attempt, checked, client)
            .await?;
        // The epoch first: a credential change that landed since the user was read wins.
        let epoch = self.advance_epoch(&user).await?;
        let (shown, hashes) = RecoveryCodes::generate();
        if !self
            .inner
            .stores
            .mfa
            .confirm_totp(&user.id, step, hashes)
            .await?
        {
            return Err(Error::Conflict("no TOTP enrolment is pending".into()));
        }
        self.factor_changed(
            principal,
            &user,
            Ok(epoch),
            AuthEventKind::MfaEnrolled,
            MailKind::FactorAdded,
            client,
        )
        .await?;
        Ok(shown)
    }

    /// Turns TOTP off, given a current code, a recovery code or the password. A credential
    /// change: every other session ends.
    pub async fn disable_totp(
        &self,
        principal: &Principal,
        proof: DisableTotp<'_>,
        client: Option<IpAddr>,
    ) -> Result<()> {
        let user = self.user_for(principal).await?;
        if !self.totp_enabled(&user.id).await? {
            return Err(Error::Conflict("TOTP is not enabled".into()));
        }
        match proof {
            DisableTotp::Password(password) => {
                self.check_current_password(&user, password, client).await?;
            }
            DisableTotp::Code(code) => {
                self.check_second_factor(&user.id, code, client, None)
                    .await?;
            }
        }
        // The epoch first: a credential change that landed since the proof was checked wins.
        let epoch = self.advance_epoch(&user).await?;
        self.inner.stores.mfa.delete_totp(&user.id).await?;
        self.factor_changed(
            principal,
            &user,
            Ok(epoch),
            AuthEventKind::MfaDisabled,
            MailKind::FactorRemoved,
            client,
        )
        .await
    }

    /// Completes a login that answered [`LoginOutcome::MfaRequired`](super::LoginOutcome): the
    /// challenge and a TOTP or recovery code give tokens. Each attempt is reserved first,
    /// against the user, the client address and the challenge's own budget; a challenge that
    /// succeeded once is spent.
    pub async fn verify_mfa(
        &self,
        mfa_token: &str,
        code: &str,
        client: Option<IpAddr>,
    ) -> Result<Tokens> {
        let (challenge, user) = self.mfa_challenge(mfa_token).await?;
        let epoch = challenge.custom.epoch;
        let first = if challenge.custom.email {
            Amr::Email
        } else {
            Amr::Password
        };
        let factor = self
            .check_second_factor(&user.id, code, client, Some(&challenge.jti))
            .await?;
        let amr = first.with_second_factor(match factor {
            Factor::Totp => SecondFactor::Totp,
            Factor::RecoveryCode => SecondFactor::RecoveryCode,
        });
        // Spent at its first success, remembered until it expires.
        let expires_at =
            UNIX_EPOCH + Duration::from_secs(u64::try_from(challenge.exp).unwrap_or(0));
        let first_use = self
            .inner
            .stores
            .revocations
            .use_once(&challenge_key(&challenge.jti), self.now(), expires_at)
            .await?;
        if !first_use {
            return Err(TokenRejection::NotActive.into());
        }
        self.start_session(&user, amr, epoch, client).await
    }

    /// A verified second-factor challenge and its account: enabled, and on the epoch the
    /// challenge was issued under (a credential change since the first factor voids it).
    pub(super) async fn mfa_challenge(
        &self,
        mfa_token: &str,
    ) -> Result<(Claims<ChallengeClaims>, crate::store::User)> {
        let challenge: Claims<ChallengeClaims> = self
            .inner
            .verifier
            .verify(mfa_token, TokenKind::MfaChallenge)?;
        let user_id = challenge.user_id()?;
        let user = self
            .inner
            .stores
            .users
            .user_by_id(&user_id)
            .await?
            .filter(|user| !user.disabled)
            .ok_or(Error::InvalidCredentials)?;
        if user.epoch != challenge.custom.epoch {
            return Err(TokenRejection::NotActive.into());
        }
        Ok((challenge, user))
    }

    /// Checks a TOTP code (replay-protected) or a recovery code (consumed) for a user with
    /// TOTP enabled, the attempt reserved first (against `challenge`'s budget too, when the
    /// code answers one).
    pub(super) async fn check_second_factor(
        &self,
        user: &UserId,
        code: &str,
        client: Option<IpAddr>,
        challenge: Option<&str>,
    ) -> Result<Factor> {
        let attempt = self
            .inner
            .throttle
            .reserve_second_factor(user, client, challenge)
            .await?;
        let checked = self.match_second_factor(user, code).await;
        let factor = self.settle_factor(user, attempt, checked, client).await?;
        if matches!(factor, Factor::RecoveryCode) {
            let remaining = self.inner.stores.mfa.recovery_codes_left(user).await?;
            self.emit(
                AuthEventKind::RecoveryCodeUsed { remaining },
                Some(*user),
                None,
                client,
            )
            .await;
        }
        Ok(factor)
    }

    /// Which second factor `code` is for the user, if any: a fresh TOTP step, or an unused
    /// recovery code (consumed).
    async fn match_second_factor(&self, user: &UserId, code: &str) -> Result<Option<Factor>> {
        let record = self
            .inner
            .stores
            .mfa
            .totp(user)
            .await?
            .filter(|record| record.confirmed)
            .ok_or(Error::MfaRequired)?;
        let mfa_store = &self.inner.stores.mfa;
        let factor = if let Some(step) = self.totp_step(user, &record, code)? {
            // A step can verify for at most three periods (one either side of its own).
            let remember = Duration::from_secs(record.params.period.saturating_mul(3));
            let fresh = self
                .inner
                .stores
                .totp_replay
                .accept_step(user, step, self.now(), remember)
                .await?;
            (fresh && mfa_store.accept_totp_step(user, step).await?).then_some(Factor::Totp)
        } else if let Some(hash) = recovery_code_hash(code) {
            mfa_store
                .consume_recovery_code(user, &hash)
                .await?
                .then_some(Factor::RecoveryCode)
        } else {
            None
        };
        Ok(factor)
    }

    /// Settles a reserved second-factor attempt with what the check found: a failure is
    /// counted and recorded, an error gives the attempt back.
    pub(super) async fn settle_factor<T>(
        &self,
        user: &UserId,
        attempt: Attempt,
        checked: Result<Option<T>>,
        client: Option<IpAddr>,
    ) -> Result<T> {
        match checked {
            Ok(Some(found)) => {
                attempt.succeeded().await?;
                Ok(found)
            }
            Ok(None) => {
                attempt.failed().await?;
                self.emit(AuthEventKind::MfaFailed, Some(*user), None, client)
                    .await;
                Err(Error::InvalidCredentials)
            }
            Err(error) => {
                let _ = attempt.release().await;
                Err(error)
            }
        }
    }

    /// The step a TOTP code matches (within the window), if any.
    fn totp_step(&self, user: &UserId, record: &TotpRecord, code: &str) -> Result<Option<u64>> {
        let secret = self.inner.mfa_keys.decrypt(user, &record.secret)?;
        self.inner.observer.second_factor_checked();
        Ok(mfa::verify(
            &secret,
            &record.params,
            code,
            unix_seconds(self.now()),
        ))
    }
}
