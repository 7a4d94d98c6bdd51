//! Claim validation as a pure function of the claims, the current time and the configuration.
//!
//! Both formats come here once their signature or tag has verified, so JWT and PASETO follow
//! exactly the same rules, with the same leeway.

use crate::error::TokenRejection;

use super::claims::Claims;
use super::config::TokenConfig;

/// Checks expiry, not-before, issue time, issuer and audience of authenticated claims at `now`
/// (seconds since the Unix epoch).
///
/// A token is expired once `now - leeway >= exp`; it is not yet valid while `nbf` or `iat` is
/// later than `now + leeway`.
pub(crate) fn validate_claims<C>(
    claims: &Claims<C>,
    now: i64,
    config: &TokenConfig,
) -> Result<(), TokenRejection> {
    validate_claims_for(claims, now, config, &config.audience)
}

/// [`validate_claims`] with `audience` in place of the configured one.
pub(crate) fn validate_claims_for<C>(
    claims: &Claims<C>,
    now: i64,
    config: &TokenConfig,
    audience: &str,
) -> Result<(), TokenRejection> {
    let leeway = config.leeway_seconds();
    if now.saturating_sub(leeway) >= claims.exp {
        return Err(TokenRejection::Expired);
    }
    let latest_start = now.saturating_add(leeway);
    if claims.nbf.is_some_and(|nbf| nbf > latest_start) || claims.iat > latest_start {
        return Err(TokenRejection::NotYetValid);
    }
    if claims.iss != config.issuer {
        return Err(TokenRejection::WrongIssuer);
    }
    if !claims.aud.contains(audience) {
        return Err(TokenRejection::WrongAudience);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::claims::{Audience, NoCustomClaims};

    const NOW: i64 = 1_700_000_000;

    fn config() -> TokenConfig {
        TokenConfig::new("https://issuer.test", "api")
    }

    fn claims() -> Claims {
        Claims {
            auth_time: None,
            iss: "https://issuer.test".into(),
            sub: "user-1".into(),
            aud: Audience::from("api"),
            exp: NOW + 900,
            iat: NOW,
            nbf: Some(NOW),
            jti: "id".into(),
            sid: None,
            scope: String::new(),
            amr: Vec::new(),
            client_id: None,
            custom: NoCustomClaims {},
        }
    }

    #[test]
    fn fresh_claims_are_valid() {
        assert_eq!(validate_claims(&claims(), NOW, &config()), Ok(()));
    }

    #[test]
    fn expiry_is_tolerated_for_the_leeway_and_no_longer() {
        let claims = claims();
        let last_valid = claims.exp + 29;
        assert_eq!(validate_claims(&claims, last_valid, &config()), Ok(()));
        assert_eq!(
            validate_claims(&claims, last_valid + 1, &config()),
            Err(TokenRejection::Expired)
        );
    }

    #[test]
    fn zero_leeway_expires_at_exp_exactly() {
        let config = TokenConfig {
            leeway: std::time::Duration::ZERO,
            ..config()
        };
        let claims = claims();
        assert_eq!(validate_claims(&claims, claims.exp - 1, &config), Ok(()));
        assert_eq!(
            validate_claims(&claims, claims.exp, &config),
            Err(TokenRejection::Expired)
        );
    }

    #[test]
    fn not_before_in_the_future_beyond_the_leeway_is_not_yet_valid() {
        let mut claims = claims();
        claims.nbf = Some(NOW + 30);
        assert_eq!(validate_claims(&claims, NOW, &config()), Ok(()));
        claims.nbf = Some(NOW + 31);
        assert_eq!(
            validate_claims(&claims, NOW, &config()),
            Err(TokenRejection::NotYetValid)
        );
    }

    #[test]
    fn issue_time_in_the_future_beyond_the_leeway_is_not_yet_valid() {
        let mut claims = claims();
        claims.nbf = None;
        claims.iat = NOW + 31;
        assert_eq!(
            validate_claims(&claims, NOW, &config()),
            Err(TokenRejection::NotYetValid)
        );
    }

    #[test]
    fn another_issuer_is_refused() {
        let mut claims = claims();
        claims.iss = "https://issuer.test/".into();
        assert_eq!(
            validate_claims(&claims, NOW, &config()),
            Err(TokenRejection::WrongIssuer)
        );
    }

    #[test]
    fn audience_must_contain_ours() {
        let mut claims = claims();
        claims.aud = Audience::from(vec!["web".to_owned(), "api".to_owned()]);
        assert_eq!(validate_claims(&claims, NOW, &config()), Ok(()));
        claims.aud = Audience::from(vec!["web".to_owned()]);
        assert_eq!(
            validate_claims(&claims, NOW, &config()),
            Err(TokenRejection::WrongAudience)
        );
        claims.aud = Audience::from(Vec::new());
        assert_eq!(
            validate_claims(&claims, NOW, &config()),
            Err(TokenRejection::WrongAudience)
        );
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let mut claims = claims();
        claims.exp = i64::MIN;
        assert_eq!(
            validate_claims(&claims, i64::MIN, &config()),
            Err(TokenRejection::Expired)
        );
        let mut claims = self::claims();
        claims.exp = i64::MAX;
        claims.iat = i64::MAX;
        assert_eq!(
            validate_claims(&claims, i64::MAX, &config()),
            Ok(()),
            "iat == now at the end of time"
        );
    }
}
