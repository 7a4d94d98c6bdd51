//! The one error type of `auth-core`, with stable machine-readable codes.
//!
//! Every variant maps to a code from [`Error::code`] that callers (the HTTP layer, logs,
//! metrics) can rely on across releases. Messages never say whether an account exists and
//! never contain secret material.

use std::fmt;
use std::time::Duration;

/// Why a token was refused. Every reason answers to the same code, `invalid_token`; the
/// reason is for logs and tests, not for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenRejection {
    /// Not a well-formed JWT or PASETO token, or its claims do not parse.
    Malformed,
    /// Longer than the configured maximum token length.
    TooLarge,
    /// The key id is missing or names no key in the key set.
    UnknownKey,
    /// The token's declared algorithm or purpose is not the one its key is fixed to.
    AlgorithmMismatch,
    /// The header carries a key or key reference (`jwk`, `jku`, `x5u`, `x5c`) that we never trust.
    ForbiddenHeader,
    /// The signature or authentication tag does not verify.
    BadSignature,
    /// The token is of another type (for example an MFA challenge offered as an access token).
    WrongType,
    /// The expiry, plus the leeway, has passed.
    Expired,
    /// The not-before or issued-at time, minus the leeway, is still in the future.
    NotYetValid,
    /// The issuer is not the configured one.
    WrongIssuer,
    /// None of the token's audiences is the configured one.
    WrongAudience,
    /// The token's session was revoked (logout, revocation, password change, reuse).
    Revoked,
    /// An opaque token (refresh) that is unknown, expired or of a revoked family.
    NotActive,
}

impl TokenRejection {
    /// A short, stable description of the reason, safe to log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed token",
            Self::TooLarge => "token too large",
            Self::UnknownKey => "unknown key id",
            Self::AlgorithmMismatch => "algorithm does not match the key",
            Self::ForbiddenHeader => "forbidden header parameter",
            Self::BadSignature => "signature does not verify",
            Self::WrongType => "wrong token type",
            Self::Expired => "token expired",
            Self::NotYetValid => "token not yet valid",
            Self::WrongIssuer => "wrong issuer",
            Self::WrongAudience => "wrong audience",
            Self::Revoked => "session revoked",
            Self::NotActive => "token not active",
        }
    }
}

impl fmt::Display for TokenRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a new password was refused by the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PasswordRejection {
    /// Fewer characters than the policy's minimum.
    TooShort {
        /// The minimum number of characters.
        min: usize,
    },
    /// More characters than the policy's maximum.
    TooLong {
        /// The maximum number of characters.
        max: usize,
    },
    /// The password is one of the most common passwords.
    Common,
    /// The password is mostly the account's email name or the service's name.
    ContextSpecific,
    /// The password appears in a list of breached passwords.
    Breached,
    /// The breached-password check could not be made and the policy refuses in that case.
    BreachCheckUnavailable,
}

impl fmt::Display for PasswordRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { min } => write!(f, "password must have at least {min} characters"),
            Self::TooLong { max } => write!(f, "password must have at most {max} characters"),
            Self::Common => f.write_str("password is one of the most common passwords"),
            Self::ContextSpecific => {
                f.write_str("password is built on the email address or the service's name")
            }
            Self::Breached => f.write_str("password appears in a list of breached passwords"),
            Self::BreachCheckUnavailable => {
                f.write_str("password could not be checked against breached passwords")
            }
        }
    }
}

/// The error type of every fallible operation in `auth-core`.
///
/// Deliberately not `#[non_exhaustive]`: auth-tower's one answer per error (HTTP and gRPC)
/// matches it exhaustively, so a new variant does not compile until it has an answer. Adding
/// a variant is therefore a breaking change of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The credentials do not match. Deliberately says nothing about which part was wrong.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// A token was refused.
    #[error("invalid token: {0}")]
    InvalidToken(TokenRejection),
    /// A new password does not meet the policy.
    #[error("{0}")]
    WeakPassword(PasswordRejection),
    /// Too many failed attempts for this account or client; retry after the given time.
    #[error("too many attempts, retry in {} s", retry_after.as_secs().max(1))]
    Throttled {
        /// How long to wait before the next attempt can succeed.
        retry_after: Duration,
    },
    /// An already-rotated refresh token was presented: its whole family is now revoked.
    #[error("refresh token reuse detected; the session is revoked")]
    TokenReused,
    /// The operation needs a second factor (or a fresh one) that was not given.
    #[error("a second factor is required")]
    MfaRequired,
    /// The action needs a fresh authentication: the current password in the request, or an
    /// access token whose `auth_time` is at most `max_age` old (see
    /// [`SensitiveAction`](crate::flows::SensitiveAction)). Reauthenticate, then retry.
    #[error("this action needs a fresh authentication (within {} s)", max_age.as_secs())]
    ReauthRequired {
        /// How recent the authentication must be.
        max_age: Duration,
    },
    /// The password is right but the account's address is not verified yet, and the
    /// configuration requires it (see [`EmailVerification`](crate::flows::EmailVerification)).
    /// Only someone who knows the password is told.
    #[error("the email address is not verified yet")]
    EmailUnverified,
    /// An emailed link or code that cannot be used: unknown, used, expired, voided by a newer
    /// one or by a credential change, or of another purpose. One answer for all of them.
    #[error("this link or code is no longer valid")]
    IntentInvalid,
    /// A passkey ceremony that cannot be finished: unknown, finished once already, expired,
    /// or begun for something else. The client begins a new one.
    #[error("this passkey ceremony is no longer valid: begin again")]
    CeremonyInvalid,
    /// The request conflicts with the current state (an account that exists, MFA already on).
    #[error("conflict: {0}")]
    Conflict(String),
    /// What the request names does not exist (or is not the caller's).
    #[error("not found: {0}")]
    NotFound(String),
    /// The request itself is malformed (an unusable email address, an empty field).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A requested scope is malformed, or more than the grant allows (RFC 6749 section 6:
    /// a refresh asks for at most what was granted).
    #[error("invalid scope: {0}")]
    InvalidScope(String),
    /// The password hashing pool and its queue are full; retry later.
    #[error("password hashing capacity exhausted, retry later")]
    Busy,
    /// A dependency (storage, a remote check) did not answer.
    #[error("a dependency is unavailable: {0}")]
    Unavailable(String),
    /// Key material could not be loaded or used.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// A configuration value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A stored password hash is malformed or of an unknown scheme.
    #[error("stored password hash is not usable: {0}")]
    InvalidHash(String),
    /// A bug or an unexpected failure inside the library.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The stable, documented code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidToken(_) => "invalid_token",
            Self::WeakPassword(_) => "weak_password",
            Self::Throttled { .. } => "throttled",
            Self::TokenReused => "token_reused",
            Self::MfaRequired => "mfa_required",
            Self::ReauthRequired { .. } => "reauth_required",
            Self::EmailUnverified => "email_unverified",
            Self::IntentInvalid => "intent_invalid",
            Self::CeremonyInvalid => "ceremony_invalid",
            Self::Conflict(_) => "conflict",
            Self::NotFound(_) => "not_found",
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidScope(_) => "invalid_scope",
            Self::Busy => "busy",
            Self::Unavailable(_) => "unavailable",
            Self::InvalidKey(_) => "invalid_key",
            Self::Config(_) => "invalid_config",
            Self::InvalidHash(_) => "invalid_hash",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<TokenRejection> for Error {
    fn from(reason: TokenRejection) -> Self {
        Self::InvalidToken(reason)
    }
}

impl From<PasswordRejection> for Error {
    fn from(reason: PasswordRejection) -> Self {
        Self::WeakPassword(reason)
    }
}

/// The result type of `auth-core`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_stable_code() {
        let cases = [
            (Error::InvalidCredentials, "invalid_credentials"),
            (
                Error::InvalidToken(TokenRejection::Expired),
                "invalid_token",
            ),
            (
                Error::WeakPassword(PasswordRejection::TooShort { min: 12 }),
                "weak_password",
            ),
            (
                Error::Throttled {
                    retry_after: Duration::from_secs(3),
                },
                "throttled",
            ),
            (Error::TokenReused, "token_reused"),
            (Error::MfaRequired, "mfa_required"),
            (
                Error::ReauthRequired {
                    max_age: Duration::from_secs(300),
                },
                "reauth_required",
            ),
            (Error::EmailUnverified, "email_unverified"),
            (Error::IntentInvalid, "intent_invalid"),
            (Error::CeremonyInvalid, "ceremony_invalid"),
            (Error::Conflict("x".into()), "conflict"),
            (Error::NotFound("x".into()), "not_found"),
            (Error::InvalidRequest("x".into()), "invalid_request"),
            (Error::InvalidScope("x".into()), "invalid_scope"),
            (Error::Busy, "busy"),
            (Error::Unavailable("db".into()), "unavailable"),
            (Error::InvalidKey("pem".into()), "invalid_key"),
            (Error::Config("m".into()), "invalid_config"),
            (Error::InvalidHash("x".into()), "invalid_hash"),
            (Error::Internal("x".into()), "internal"),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code, "{error}");
        }
    }

    #[test]
    fn invalid_credentials_message_does_not_say_which_part_failed() {
        let message = Error::InvalidCredentials.to_string();
        assert_eq!(message, "invalid credentials");
    }
}
