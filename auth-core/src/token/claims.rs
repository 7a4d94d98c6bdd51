//! What a token says: its claims, its audience and its type.

use std::fmt;
use std::time::Duration;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result, TokenRejection};
use crate::id::UserId;

/// The claims of an access or challenge token.
///
/// The registered claims (`iss`, `sub`, `aud`, `exp`, `iat`, `nbf`, `jti`) follow RFC 7519, `sid`
/// and `auth_time` OpenID Connect, `scope` RFC 8693 and `amr` RFC 8176. Times are whole seconds since the Unix epoch
/// here and in JWTs (NumericDate); PASETO tokens carry them as RFC 3339 strings on the wire.
///
/// `custom` holds the application's own claims, flattened beside the registered ones; its field
/// names must not collide with the registered names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims<C = NoCustomClaims> {
    /// Issuer.
    pub iss: String,
    /// Subject: the user (or client) the token speaks for.
    pub sub: String,
    /// Audience: one or more recipients the token is meant for.
    pub aud: Audience,
    /// Expiry, in seconds since the Unix epoch.
    pub exp: i64,
    /// Issue time, in seconds since the Unix epoch.
    pub iat: i64,
    /// Not-before time, in seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Unique token id: 128 random bits, base64url.
    pub jti: String,
    /// Public id of the session the token belongs to (never the session's secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Granted scopes, space-separated (RFC 8693); empty when none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// Authentication methods used at login (RFC 8176), such as `pwd` or `otp`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// When the user last authenticated (OpenID Connect Core 1.0), in seconds since the Unix
    /// epoch: the login or a later step-up, never a refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The OAuth client the token was issued to (RFC 9068 section 2.2); absent in the
    /// server's own tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The application's own claims.
    #[serde(flatten)]
    pub custom: C,
}

impl<C> Claims<C> {
    /// The user the token speaks for: `sub` read as a [`UserId`]. A subject that is not one is
    /// a malformed token.
    pub fn user_id(&self) -> Result<UserId> {
        self.sub
            .parse()
            .map_err(|_| Error::InvalidToken(TokenRejection::Malformed))
    }

    /// The granted scopes, one by one.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|scope| !scope.is_empty())
    }

    /// Whether `scope` is among the granted scopes.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|granted| granted == scope)
    }
}

/// No application claims: the default for [`Claims`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NoCustomClaims {}

/// The `aud` claim: a single string or an array of strings on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Audience(Vec<String>);

impl Audience {
    /// Whether `audience` is one of the recipients.
    pub fn contains(&self, audience: &str) -> bool {
        self.0.iter().any(|candidate| candidate == audience)
    }

    /// The recipients.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

impl From<&str> for Audience {
    fn from(audience: &str) -> Self {
        Self(vec![audience.to_owned()])
    }
}

impl From<String> for Audience {
    fn from(audience: String) -> Self {
        Self(vec![audience])
    }
}

impl From<Vec<String>> for Audience {
    fn from(audiences: Vec<String>) -> Self {
        Self(audiences)
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [single] => serializer.serialize_str(single),
            many => many.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct AudienceVisitor;

        impl<'de> Visitor<'de> for AudienceVisitor {
            type Value = Audience;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> std::result::Result<Audience, E> {
                Ok(Audience::from(value))
            }

            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Audience, A::Error> {
                let mut audiences = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(16));
                while let Some(audience) = seq.next_element::<String>()? {
                    audiences.push(audience);
                }
                Ok(Audience(audiences))
            }
        }

        deserializer.deserialize_any(AudienceVisitor)
    }
}

/// What a token is for. A verifier accepts a token only as the kind it was issued as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenKind {
    /// An OAuth 2.0 access token (`typ: at+jwt`, RFC 9068).
    Access,
    /// The short-lived token between the password and the second factor of a login.
    MfaChallenge,
    /// An OpenID Connect ID token (`typ: JWT`): what a relying party learns about a sign-in,
    /// never a bearer credential. Access-token verification refuses it by its type.
    IdToken,
}

impl TokenKind {
    /// The media type written as the JWT `typ` header or the PASETO footer's `typ`.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Access => "at+jwt",
            Self::MfaChallenge => "mfa-challenge+jwt",
            Self::IdToken => "JWT",
        }
    }

    /// Whether a `typ` value names this kind. Media types compare case-insensitively and may
    /// carry the `application/` prefix (RFC 7515, section 4.1.9).
    pub(crate) fn matches_typ(self, typ: Option<&str>) -> bool {
        let Some(typ) = typ else {
            return false;
        };
        let prefix = "application/";
        let bare = match typ.get(..prefix.len()) {
            Some(head) if head.eq_ignore_ascii_case(prefix) => &typ[prefix.len()..],
            _ => typ,
        };
        bare.eq_ignore_ascii_case(self.media_type())
    }
}

/// What the caller decides about a token to issue; the issuer adds issuer, audience, times and id.
///
/// ```
/// use std::time::Duration;
/// use auth_core::token::NewToken;
///
/// let token = NewToken::new("user-42")
///     .session_id("session-7")
///     .scope(["profile", "orders:read"])
///     .amr(["pwd", "otp"])
///     .ttl(Duration::from_secs(300));
/// # let _ = token;
/// ```
#[derive(Debug, Clone)]
pub struct NewToken<C = NoCustomClaims> {
    pub(crate) subject: String,
    pub(crate) session_id: Option<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) amr: Vec<String>,
    pub(crate) auth_time: Option<i64>,
    pub(crate) ttl: Option<Duration>,
    pub(crate) audience: Option<Audience>,
    pub(crate) client_id: Option<String>,
    pub(crate) custom: C,
}

impl NewToken<NoCustomClaims> {
    /// A token for `subject`, with no scopes and the configured lifetime.
    pub fn new(subject: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            session_id: None,
            scopes: Vec::new(),
            amr: Vec::new(),
            auth_time: None,
            ttl: None,
            audience: None,
            client_id: None,
            custom: NoCustomClaims {},
        }
    }
}

impl<C> NewToken<C> {
    /// Binds the token to a session (`sid`), so revoking the session can refuse it.
    pub fn session_id(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self
    }

    /// Adds scopes. Each must be an RFC 6749 scope token (no spaces, quotes or backslashes).
    pub fn scope<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Adds authentication methods (`amr`), such as `pwd` or `otp`.
    pub fn amr<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.amr.extend(methods.into_iter().map(Into::into));
        self
    }

    /// Says when the user last authenticated (`auth_time`, seconds since the Unix epoch).
    pub fn auth_time(mut self, unix_seconds: i64) -> Self {
        self.auth_time = Some(unix_seconds);
        self
    }

    /// Overrides the lifetime configured for this kind of token.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Addresses the token to `audience` instead of the configured one: an OAuth client's
    /// resource servers, or the client itself for an ID token.
    pub fn audience(mut self, audience: impl Into<Audience>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Names the OAuth client the token is issued to (`client_id`).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// Sets the application's own claims.
    pub fn custom<D>(self, custom: D) -> NewToken<D> {
        NewToken {
            subject: self.subject,
            session_id: self.session_id,
            scopes: self.scopes,
            amr: self.amr,
            auth_time: self.auth_time,
            ttl: self.ttl,
            audience: self.audience,
            client_id: self.client_id,
            custom,
        }
    }

    /// The space-separated `scope` claim, refusing scope tokens that would change its meaning.
    pub(crate) fn scope_claim(&self) -> Result<String> {
        if let Some(bad) = self
            .scopes
            .iter()
            .find(|scope| !crate::authz::is_scope_token(scope))
        {
            let shown: String = bad.chars().take(64).collect();
            return Err(Error::Config(format!(
                "{shown:?} is not a scope token (RFC 6749 section 3.3)"
            )));
        }
        Ok(self.scopes.join(" "))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn claims_json(aud: serde_json::Value) -> serde_json::Value {
        json!({
            "iss": "https://issuer.test", "sub": "user-1", "aud": aud,
            "exp": 1_000, "iat": 900, "jti": "abc",
        })
    }

    #[test]
    fn audience_accepts_a_string_or_an_array() {
        let one: Claims = serde_json::from_value(claims_json(json!("api"))).unwrap();
        assert!(one.aud.contains("api"));
        let many: Claims = serde_json::from_value(claims_json(json!(["web", "api"]))).unwrap();
        assert!(many.aud.contains("api"));
        assert!(many.aud.contains("web"));
        assert!(!many.aud.contains("admin"));
    }

    #[test]
    fn audience_of_another_type_does_not_parse() {
        let parsed = serde_json::from_value::<Claims>(claims_json(json!(42)));
        assert!(parsed.is_err());
        let parsed = serde_json::from_value::<Claims>(claims_json(json!([1, 2])));
        assert!(parsed.is_err());
    }

    #[test]
    fn single_audience_serializes_as_a_string_and_several_as_an_array() {
        assert_eq!(
            serde_json::to_value(Audience::from("api")).unwrap(),
            json!("api")
        );
        let many = Audience::from(vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(serde_json::to_value(many).unwrap(), json!(["a", "b"]));
    }

    #[test]
    fn optional_claims_are_left_out_when_empty() {
        let claims: Claims = serde_json::from_value(claims_json(json!("api"))).unwrap();
        let value = serde_json::to_value(&claims).unwrap();
        let object = value.as_object().unwrap();
        for absent in ["nbf", "sid", "scope", "amr", "client_id"] {
            assert!(!object.contains_key(absent), "{absent} should be absent");
        }
    }

    #[test]
    fn scopes_split_on_spaces_and_match_whole_words() {
        let mut claims: Claims = serde_json::from_value(claims_json(json!("api"))).unwrap();
        claims.scope = "orders:read  profile".to_owned();
        assert_eq!(
            claims.scopes().collect::<Vec<_>>(),
            ["orders:read", "profile"]
        );
        assert!(claims.has_scope("profile"));
        assert!(!claims.has_scope("orders"));
        assert!(!claims.has_scope(""));
    }

    #[test]
    fn custom_claims_are_flattened_beside_the_registered_ones() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Tenant {
            tenant: String,
        }
        let mut value = claims_json(json!("api"));
        value["tenant"] = json!("acme");
        let claims: Claims<Tenant> = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(claims.custom.tenant, "acme");
        assert_eq!(serde_json::to_value(&claims).unwrap(), value);
    }

    #[test]
    fn unknown_claims_are_ignored_without_custom_claims() {
        let mut value = claims_json(json!("api"));
        value["something"] = json!({"nested": true});
        assert!(serde_json::from_value::<Claims>(value).is_ok());
    }

    #[test]
    fn scope_tokens_with_spaces_or_quotes_are_refused() {
        for bad in ["read write", "", "quote\"", "back\\slash", "tab\t", "é"] {
            let token = NewToken::new("user").scope([bad]);
            assert!(
                matches!(token.scope_claim(), Err(Error::Config(_))),
                "{bad:?} should be refused"
            );
        }
        let token = NewToken::new("user").scope(["orders:read", "profile"]);
        assert_eq!(token.scope_claim().unwrap(), "orders:read profile");
    }

    #[test]
    fn token_kinds_match_their_media_type_case_insensitively() {
        assert!(TokenKind::Access.matches_typ(Some("at+jwt")));
        assert!(TokenKind::Access.matches_typ(Some("AT+JWT")));
        assert!(TokenKind::Access.matches_typ(Some("application/at+jwt")));
        assert!(!TokenKind::Access.matches_typ(Some("JWT")));
        assert!(!TokenKind::Access.matches_typ(None));
        assert!(!TokenKind::Access.matches_typ(Some("mfa-challenge+jwt")));
        assert!(TokenKind::MfaChallenge.matches_typ(Some("mfa-challenge+jwt")));
        assert!(!TokenKind::MfaChallenge.matches_typ(Some("at+jwt")));
        assert!(TokenKind::IdToken.matches_typ(Some("JWT")));
        assert!(!TokenKind::IdToken.matches_typ(Some("at+jwt")));
        assert!(!TokenKind::Access.matches_typ(Some(TokenKind::IdToken.media_type())));
    }
}
