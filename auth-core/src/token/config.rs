//! What issuers and verifiers are configured with.

use std::time::Duration;

use crate::error::{Error, Result};

/// The largest leeway we accept: clock skew beyond this is a broken clock, not skew.
const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// Configuration shared by [`TokenIssuer`](super::TokenIssuer) and
/// [`TokenVerifier`](super::TokenVerifier).
///
/// Build it with [`TokenConfig::new`] and change fields as needed:
///
/// ```
/// use std::time::Duration;
/// use auth_core::token::TokenConfig;
///
/// let config = TokenConfig {
///     leeway: Duration::from_secs(10),
///     ..TokenConfig::new("https://auth.example.com", "api")
/// };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenConfig {
    /// The `iss` claim written and required.
    pub issuer: String,
    /// The `aud` claim written, and the audience a verified token must name.
    pub audience: String,
    /// Lifetime of access tokens (default 900 s).
    pub access_ttl: Duration,
    /// Lifetime of MFA challenge tokens (default 300 s).
    pub mfa_challenge_ttl: Duration,
    /// Tolerated clock skew when checking `exp`, `nbf` and `iat` (default 30 s, at most 300 s).
    pub leeway: Duration,
    /// Tokens longer than this many bytes are refused before parsing (default 8 KiB).
    pub max_token_len: usize,
    /// PASETO implicit assertion: bytes bound into every PASETO token's authentication but never
    /// sent, such as a deployment or tenant id. Ignored by JWTs.
    pub implicit_assertion: Option<Vec<u8>>,
}

impl TokenConfig {
    /// The defaults, for tokens issued by `issuer` to `audience`.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            access_ttl: Duration::from_secs(900),
            mfa_challenge_ttl: Duration::from_secs(300),
            leeway: Duration::from_secs(30),
            max_token_len: 8 * 1024,
            implicit_assertion: None,
        }
    }

    /// Checks that every value is in range, as `Error::Config`.
    pub fn validate(&self) -> Result<()> {
        if self.issuer.is_empty() {
            return Err(Error::Config("token issuer must not be empty".into()));
        }
        if self.audience.is_empty() {
            return Err(Error::Config("token audience must not be empty".into()));
        }
        for (name, ttl) in [
            ("access_ttl", self.access_ttl),
            ("mfa_challenge_ttl", self.mfa_challenge_ttl),
        ] {
            if ttl.as_secs() == 0 {
                return Err(Error::Config(format!("{name} must be at least one second")));
            }
        }
        if self.leeway > MAX_LEEWAY {
            return Err(Error::Config(format!(
                "token leeway must be at most {} s",
                MAX_LEEWAY.as_secs()
            )));
        }
        if self.max_token_len == 0 {
            return Err(Error::Config("max_token_len must be positive".into()));
        }
        Ok(())
    }

    /// The leeway in whole seconds.
    pub(crate) fn leeway_seconds(&self) -> i64 {
        i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let config = TokenConfig::new("iss", "aud");
        assert_eq!(config.access_ttl, Duration::from_secs(900));
        assert_eq!(config.mfa_challenge_ttl, Duration::from_secs(300));
        assert_eq!(config.leeway, Duration::from_secs(30));
        assert_eq!(config.max_token_len, 8192);
        assert_eq!(config.implicit_assertion, None);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn out_of_range_values_are_config_errors() {
        let base = TokenConfig::new("iss", "aud");
        let broken = [
            TokenConfig {
                issuer: String::new(),
                ..base.clone()
            },
            TokenConfig {
                audience: String::new(),
                ..base.clone()
            },
            TokenConfig {
                access_ttl: Duration::ZERO,
                ..base.clone()
            },
            TokenConfig {
                mfa_challenge_ttl: Duration::from_millis(500),
                ..base.clone()
            },
            TokenConfig {
                leeway: Duration::from_secs(301),
                ..base.clone()
            },
            TokenConfig {
                max_token_len: 0,
                ..base
            },
        ];
        for config in broken {
            assert!(
                matches!(config.validate(), Err(Error::Config(_))),
                "{config:?}"
            );
        }
    }
}
