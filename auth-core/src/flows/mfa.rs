//! Second-factor flows: TOTP enrolment, confirmation, verification at login, and disabling.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use secrecy::SecretString;

use super::{Authenticator, Principal, Tokens};
use crate::clock::unix_seconds;
use crate::error::{Error, Result};
use crate::event::AuthEventKind;
use crate::id::{Amr, UserId};
use crate::mfa::{self, RecoveryCodes, TotpSecret, recovery_code_hash};
use crate::store::TotpRecord;
use crate::throttle::mfa_key;
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
enum Factor {
    Totp,
    RecoveryCode,
}

impl Authenticator {
    /// Starts TOTP enrolment: a new secret, stored encrypted and unconfirmed until
    /// [`Authenticator::confirm_totp`]. [`Error::Conflict`] if TOTP is already on.
    pub async fn enroll_totp(&self, principal: &Principal) -> Result<TotpEnrollment> {
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
    pub async fn confirm_totp(
        &self,
        principal: &Principal,
        code: &str,
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
        let key = mfa_key(&user.id);
        self.inner.throttle.check_key(&key).await?;
        let Some(step) = self.totp_step(&user.id, &record, code)? else {
            return self.refuse_factor(&user.id, &key).await;
        };
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
        self.inner.throttle.record_success_key(&key).await?;
        self.emit(
            AuthEventKind::MfaEnrolled,
            Some(user.id),
            principal.session_id.clone(),
            None,
        )
        .await;
        Ok(shown)
    }

    /// Turns TOTP off, given a current code, a recovery code or the password.
    pub async fn disable_totp(&self, principal: &Principal, proof: DisableTotp<'_>) -> Result<()> {
        let user = self.user_for(principal).await?;
        if !self.totp_enabled(&user.id).await? {
            return Err(Error::Conflict("TOTP is not enabled".into()));
        }
        match proof {
            DisableTotp::Password(password) => self.check_current_password(&user, password).await?,
            DisableTotp::Code(code) => {
                self.check_second_factor(&user.id, code).await?;
            }
        }
        self.inner.stores.mfa.delete_totp(&user.id).await?;
        self.emit(
            AuthEventKind::MfaDisabled,
            Some(user.id),
            principal.session_id.clone(),
            None,
        )
        .await;
        Ok(())
    }

    /// Completes a login that answered [`LoginOutcome::MfaRequired`](super::LoginOutcome): the
    /// challenge and a TOTP or recovery code give tokens. Wrong codes count against a strict
    /// per-user limit.
    pub async fn verify_mfa(
        &self,
        mfa_token: &str,
        code: &str,
        client: Option<IpAddr>,
    ) -> Result<Tokens> {
        let challenge: Claims = self
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
        let amr = match self.check_second_factor(&user.id, code).await? {
            Factor::Totp => Amr::PasswordAndTotp,
            Factor::RecoveryCode => Amr::PasswordAndRecoveryCode,
        };
        self.start_session(&user, amr, client).await
    }

    /// Checks a TOTP code (replay-protected) or a recovery code (consumed) for a user with
    /// TOTP enabled, under the per-user throttle.
    async fn check_second_factor(&self, user: &UserId, code: &str) -> Result<Factor> {
        let key = mfa_key(user);
        self.inner.throttle.check_key(&key).await?;
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
        let Some(factor) = factor else {
            return self.refuse_factor(user, &key).await;
        };
        self.inner.throttle.record_success_key(&key).await?;
        if matches!(factor, Factor::RecoveryCode) {
            let remaining = mfa_store.recovery_codes_left(user).await?;
            self.emit(
                AuthEventKind::RecoveryCodeUsed { remaining },
                Some(*user),
                None,
                None,
            )
            .await;
        }
        Ok(factor)
    }

    /// The step a TOTP code matches (within the window), if any.
    fn totp_step(&self, user: &UserId, record: &TotpRecord, code: &str) -> Result<Option<u64>> {
        let secret = self.inner.mfa_keys.decrypt(user, &record.secret)?;
        Ok(mfa::verify(
            &secret,
            &record.params,
            code,
            unix_seconds(self.now()),
        ))
    }

    async fn refuse_factor<T>(&self, user: &UserId, key: &str) -> Result<T> {
        self.inner.throttle.record_failure_key(key).await?;
        self.emit(AuthEventKind::MfaFailed, Some(*user), None, None)
            .await;
        Err(Error::InvalidCredentials)
    }
}
