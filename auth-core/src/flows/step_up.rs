//! Step-up: the one list of actions that need a fresh authentication, the check, and
//! reauthenticating within a session to become fresh again.
//!
//! Fresh means the current password in the request (a password change, turning TOTP off with
//! the password), a second factor in it (turning TOTP off with a code), or an access token
//! whose `auth_time` is at most [`AuthenticatorConfig::reauthentication_max_age`] old (five
//! minutes by default). `auth_time` is set only by an authentication (a login, a second
//! factor, [`Authenticator::reauthenticate`]); a refresh copies it, so a stolen refresh token
//! never mints fresh tokens. A stale token is refused with [`Error::ReauthRequired`].
//!
//! [`AuthenticatorConfig::reauthentication_max_age`]: super::AuthenticatorConfig::reauthentication_max_age

use std::net::IpAddr;
use std::time::Duration;

use secrecy::SecretString;

use super::{Authenticator, Principal, Tokens};
use crate::clock::unix_seconds;
use crate::error::{Error, Result, TokenRejection};
use crate::event::AuthEventKind;

/// The actions that need a fresh authentication. Later capabilities (changing the email,
/// creating API keys, linking identities, consenting to admin scopes, admin mutations) join
/// this list as they arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SensitiveAction {
    /// Changing the password (its proof is always the current password).
    ChangePassword,
    /// Adding a second factor (enrolling TOTP).
    AddFactor,
    /// Removing a second factor (its proof is the password or a code).
    RemoveFactor,
    /// Ending sessions other than the caller's.
    EndOtherSessions,
    /// Moving the account to another address.
    ChangeEmail,
}

impl SensitiveAction {
    /// Every action on the list.
    pub const ALL: [Self; 5] = [
        Self::ChangePassword,
        Self::AddFactor,
        Self::RemoveFactor,
        Self::EndOtherSessions,
        Self::ChangeEmail,
    ];

    /// A stable name, for logs and documentation.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChangePassword => "change_password",
            Self::AddFactor => "add_factor",
            Self::RemoveFactor => "remove_factor",
            Self::EndOtherSessions => "end_other_sessions",
            Self::ChangeEmail => "change_email",
        }
    }
}

/// What proves the user again in [`Authenticator::reauthenticate`].
pub enum Reauthentication<'a> {
    /// The account password.
    Password(&'a SecretString),
    /// A current TOTP code or a recovery code.
    Code(&'a str),
    /// One of the account's passkeys, answering a ceremony begun with
    /// [`Authenticator::begin_passkey_reauthentication`].
    #[cfg(feature = "passkeys")]
    Passkey(super::PasskeyResponse<'a>),
}

impl Authenticator {
    /// Refuses `action` with [`Error::ReauthRequired`] unless the principal's access token
    /// says the user authenticated within the configured maximum age.
    pub fn require_fresh(&self, principal: &Principal, action: SensitiveAction) -> Result<()> {
        let max_age = self.inner.config.reauthentication_max_age;
        let now = unix_seconds(self.now());
        let age = principal
            .claims
            .auth_time
            .map(|auth_time| now.saturating_sub(auth_time));
        // A future auth_time (clock skew between instances) counts as now.
        let fresh =
            age.is_some_and(|age| age <= i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX));
        if fresh {
            Ok(())
        } else {
            tracing::debug!(
                action = action.as_str(),
                "a fresh authentication is required"
            );
            Err(Error::ReauthRequired { max_age })
        }
    }

    /// Authenticates the user again within the caller's session: the password or a second
    /// factor, each attempt reserved first like any check. The session stays; its `auth_time`
    /// becomes now and it gets new tokens (a new refresh family: the previous refresh token
    /// stops working).
    ///
    /// [`Error::Conflict`] for a code when no second factor is enrolled;
    /// [`Error::InvalidCredentials`] for a wrong proof; [`Error::Throttled`] when too many
    /// were wrong.
    pub async fn reauthenticate(
        &self,
        principal: &Principal,
        proof: Reauthentication<'_>,
        client: Option<IpAddr>,
    ) -> Result<Tokens> {
        let session_id = principal
            .session_id
            .as_ref()
            .ok_or_else(|| Error::InvalidRequest("the token has no session".into()))?;
        let user = self.user_for(principal).await?;
        if user.disabled {
            return Err(Error::InvalidCredentials);
        }
        match proof {
            Reauthentication::Password(password) => {
                self.check_current_password(&user, password, client).await?;
            }
            Reauthentication::Code(code) => {
                if !self.totp_enabled(&user.id).await? {
                    // The request is well formed; the account's state does not allow it.
                    return Err(Error::Conflict(
                        "no second factor is enrolled: reauthenticate with the password".into(),
                    ));
                }
                self.check_second_factor(&user.id, code, client, None)
                    .await?;
            }
            #[cfg(feature = "passkeys")]
            Reauthentication::Passkey(response) => {
                self.check_passkey_reauthentication(principal, &user, response, client)
                    .await?;
            }
        }
        // Read before the family is replaced, so a failed read leaves the old one working; a
        // removal landing after it moves the epoch, and the check below ends the session.
        let scope = self.session_scopes(&user.id, None).await?;
        let now = self.now();
        let idle = self.inner.config.sessions.idle;
        let session = self
            .inner
            .stores
            .sessions
            .reauthenticate_session(session_id, now, now + idle)
            .await?
            .ok_or(Error::InvalidToken(TokenRejection::Revoked))?;
        // A new family on the epoch read with the credentials just verified.
        let refresh = &self.inner.stores.refresh;
        refresh.revoke_session_family(session_id).await?;
        let refresh_token = self
            .start_family(
                user.id,
                session_id,
                session.idle_expires_at,
                session.expires_at,
                user.epoch,
            )
            .await?;
        // As at login: a credential change that landed meanwhile ends this session.
        self.end_if_credentials_moved(user.id, session_id, user.epoch, client)
            .await?;
        self.emit(
            AuthEventKind::Reauthenticated,
            Some(user.id),
            Some(session_id.clone()),
            client,
        )
        .await;
        self.tokens_for(user.id, session_id, session.amr, now, refresh_token, scope)
    }
}

/// The default maximum age of a fresh authentication.
pub(super) const DEFAULT_REAUTHENTICATION_MAX_AGE: Duration = Duration::from_secs(5 * 60);
