//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): a client sends the browser
//! to the provider to sign the user out, naming itself by `client_id` or by the ID token it
//! holds (`id_token_hint`). The server's logout page asks the user unless the hint names the
//! user signed in to the browser; these are the library's parts: the hint read, the session
//! it names ended.

use std::net::IpAddr;

use super::Authenticator;
use crate::error::{Error, Result, TokenRejection};
use crate::event::SessionEnd;
use crate::id::{SessionId, UserId};
use crate::oauth::ClientId;

/// An ID token of this server presented back by its client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutHint {
    /// The user it names (`sub`).
    pub user_id: UserId,
    /// The client it was issued to (`aud`).
    pub client_id: ClientId,
    /// The session its grant lives in (`sid`).
    pub session_id: Option<SessionId>,
    /// Whether it expired (it is still a hint, but no longer its holder's proof of anything).
    pub expired: bool,
}

impl LogoutHint {
    /// Whether a logout must ask the user signed in to the browser (`signed_in`) first: when
    /// someone is, and `hint` (if any) names someone else. A link from anywhere must not sign
    /// a user out unawares.
    pub fn asks(hint: Option<&Self>, signed_in: Option<UserId>) -> bool {
        signed_in.is_some_and(|user| hint.map(|hint| hint.user_id) != Some(user))
    }

    /// Whether the logout ends the session this hint names, for the browser's user
    /// `signed_in`: when it is the hint's user, or, with nobody signed in, while the hint has
    /// not expired. An old ID token found in a log, or someone else's clicked by another user,
    /// ends nothing of its user's.
    pub fn ends_session_for(&self, signed_in: Option<UserId>) -> bool {
        match signed_in {
            Some(user) => user == self.user_id,
            None => !self.expired,
        }
    }
}

impl Authenticator {
    /// Reads `id_token` as a logout request's hint: signed by one of this server's keys,
    /// issued by it, an ID token, for one client; an expired one is accepted (a hint, not a
    /// credential). [`Error::InvalidToken`] otherwise.
    pub fn logout_hint(&self, id_token: &str) -> Result<LogoutHint> {
        let claims = self
            .inner
            .verifier
            .verify_id_token_hint::<crate::token::NoCustomClaims>(id_token)?;
        let [audience] = claims.aud.as_slice() else {
            return Err(Error::InvalidToken(TokenRejection::WrongAudience));
        };
        let client_id = ClientId::parse(audience)
            .map_err(|_| Error::InvalidToken(TokenRejection::WrongAudience))?;
        let leeway = i64::try_from(self.inner.config.tokens.leeway.as_secs()).unwrap_or(0);
        Ok(LogoutHint {
            expired: self.inner.clock.unix_seconds().saturating_sub(leeway) >= claims.exp,
            user_id: claims.user_id()?,
            client_id,
            session_id: claims
                .sid
                .as_deref()
                .map(SessionId::parse)
                .transpose()
                .map_err(|_| Error::InvalidToken(TokenRejection::Malformed))?,
        })
    }

    /// Ends the session `hint` names (the client's grant to its user): its refresh tokens and
    /// access tokens stop working at once. Nothing for a hint without a session or one that
    /// ended already.
    pub async fn end_hinted_session(&self, hint: &LogoutHint, from: Option<IpAddr>) -> Result<()> {
        let Some(session) = &hint.session_id else {
            return Ok(());
        };
        self.end_session(hint.user_id, session, SessionEnd::Logout, from)
            .await
    }
}
