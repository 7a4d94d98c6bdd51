//! Hooks for measurements the audit trail does not carry: durations and per-call outcomes.
//! `auth-tower`'s metrics implement them; the default observes nothing.

use std::fmt;
use std::time::Duration;

use crate::refresh::RefreshOutcome;
use crate::token::TokenKind;

/// Called by the [`Authenticator`](super::Authenticator) as it works. Every method has an empty
/// default; implementations must be cheap and must not block.
pub trait AuthObserver: Send + Sync + fmt::Debug {
    /// A token of `kind` was signed, taking `elapsed`.
    fn token_issued(&self, kind: TokenKind, elapsed: Duration) {
        let _ = (kind, elapsed);
    }

    /// A password was hashed or verified, taking `elapsed` including the wait for a hashing
    /// slot.
    fn password_hashed(&self, elapsed: Duration) {
        let _ = elapsed;
    }

    /// A second-factor code was checked against a user's TOTP secret (what an attacker
    /// guessing codes pays for; throttled attempts never get here).
    fn second_factor_checked(&self) {}

    /// A refresh call ended with `outcome`.
    fn refreshed(&self, outcome: RefreshOutcome) {
        let _ = outcome;
    }
}

/// Observes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl AuthObserver for NoObserver {}
