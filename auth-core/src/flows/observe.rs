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

/// Which clients had a busy refusal recorded in the current second, so a storm of refusals
/// becomes one audit event per client and second instead of one per request (each event may
/// be a database write, exactly what a saturated server must not multiply). Clients are told
/// apart as the throttle does (an IPv6 /64 is one client), and at most
/// [`MAX_CLIENTS_PER_SECOND`](Self::MAX_CLIENTS_PER_SECOND) are recorded per second, so
/// rotating addresses cannot turn a storm back into one write per request.
#[derive(Debug, Default)]
pub(super) struct BusyEvents {
    recorded: std::sync::Mutex<BusySecond>,
}

#[derive(Debug, Default)]
struct BusySecond {
    second: u64,
    clients: std::collections::HashSet<String>,
}

impl BusyEvents {
    /// At most this many clients are recorded per second; refusals from more are not.
    const MAX_CLIENTS_PER_SECOND: usize = 32;

    /// Whether a busy refusal of `client` at `now` is the first of its second.
    pub(super) fn admit(
        &self,
        client: Option<std::net::IpAddr>,
        now: std::time::SystemTime,
    ) -> bool {
        let second = now
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let mut recorded = self
            .recorded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if recorded.second != second {
            recorded.second = second;
            recorded.clients.clear();
        }
        let key = client.map_or_else(|| "unknown".to_owned(), crate::throttle::address_key);
        recorded.clients.len() < Self::MAX_CLIENTS_PER_SECOND && recorded.clients.insert(key)
    }
}
