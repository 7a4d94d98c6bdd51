//! Authorization: users hold roles, roles grant scopes, and one rule decides the scopes of a
//! token.
//!
//! # The model
//!
//! A [`Role`] is a name and a set of scopes. Users hold roles (the
//! [`RoleStore`](crate::store::RoleStore) is the one record of both), and what a user holds is
//! the union of the scopes of their roles. Access tokens carry scopes in the `scope` claim,
//! space-separated (RFC 9068 section 2.2.3), so a route checks a scope without a lookup
//! (auth-tower's `RequireScopeLayer`).
//!
//! # The rule
//!
//! A token's scopes are the **requested** ones, intersected with what the **client** may ask
//! for and what the **user** holds ([`granted_scopes`]). Administrative scopes (`admin` and
//! `admin:*`, [`Scope::is_administrative`]) are never granted to a third-party client, even
//! with the user's consent: only to a client marked first party, and only when the user
//! authenticated freshly for this grant. Nothing requested is nothing granted; a scope outside
//! the intersection is left out, not an error, as RFC 6749 section 3.3 lets a server do.
//!
//! The [`Authenticator`](crate::flows::Authenticator)'s own sessions apply it with the server as
//! the client (first party, every scope allowed) and the session's login as the fresh
//! authentication its grant is made with: a login's tokens carry every scope the user holds,
//! administrative ones included, for as long as the session lives (a removal ends it, below),
//! and a refresh may ask for a subset for the new access token (RFC 6749 section 6; the
//! refresh token keeps the whole grant). An action that needs a recent authentication asks
//! for one itself ([`SensitiveAction`](crate::flows::SensitiveAction)), whatever the scopes. A
//! server issuing tokens to other clients (OAuth) applies the rule with each client's allowed
//! scopes and first-party flag, and with whether the user authenticated for that grant.
//!
//! # Changes
//!
//! A grant (a role to a user, a scope to a role) takes effect at the user's next login or
//! refresh. A removal that takes a scope from a user (a role revoked, a scope taken from a
//! role, a role deleted), held through no other role, moves that user's credentials epoch on in
//! the same atomic step, and the flow then ends the user's sessions: their refresh tokens stop
//! at once and their access tokens are refused within the revocation bound (at once on the
//! instance that made the change, within `sid_cache_ttl` elsewhere), not at their expiry. Should
//! ending the sessions fail after the change (the store lost midway), the refresh tokens are
//! refused all the same (the epoch moved) and the access tokens live to their expiry unless
//! [`sign_out_everywhere`](crate::flows::Authenticator::sign_out_everywhere) ends them. Every
//! change is an audit event naming its [`Actor`](crate::event::Actor).

use std::collections::BTreeSet;
use std::fmt;

use crate::error::{Error, Result};

/// The longest scope accepted, in bytes.
pub const MAX_SCOPE_LEN: usize = 128;
/// The most scopes a role grants.
pub const MAX_ROLE_SCOPES: usize = 128;
/// The longest role name, in bytes.
pub const MAX_ROLE_NAME_LEN: usize = 64;
/// The longest role description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 256;
/// The longest `scope` claim a token is issued with, in bytes: far enough below the verifier's
/// default token limit (8 KiB) that every token stays readable.
pub const MAX_SCOPE_CLAIM_LEN: usize = 2048;

/// One scope: an RFC 6749 `scope-token` (printable ASCII but space, `"` and `\`), at most
/// [`MAX_SCOPE_LEN`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(String);

impl Scope {
    /// `scope`, checked; [`Error::InvalidScope`] if it is not a scope token.
    pub fn parse(scope: &str) -> Result<Self> {
        if !is_scope_token(scope) || scope.len() > MAX_SCOPE_LEN {
            let shown: String = scope.chars().take(64).collect();
            return Err(Error::InvalidScope(format!(
                "{shown:?} is not a scope: 1 to {MAX_SCOPE_LEN} printable ASCII characters, \
                 without spaces, quotes or backslashes"
            )));
        }
        Ok(Self(scope.to_owned()))
    }

    /// The scope as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the scope is administrative: `admin`, or `admin:` followed by anything. Such a
    /// scope reaches a client only under the stricter half of [`granted_scopes`].
    pub fn is_administrative(&self) -> bool {
        self.0 == "admin" || self.0.starts_with("admin:")
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// RFC 6749 `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub(crate) fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// A set of scopes, ordered, each once: what a role grants, a user holds, a client may ask
/// for or a token carries. Written as the `scope` parameter and claim are: space-separated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    /// No scope.
    pub fn new() -> Self {
        Self::default()
    }

    /// The scopes of a `scope` parameter or claim: space-separated, repeated spaces and
    /// repeated scopes allowed. [`Error::InvalidScope`] for anything that is not a scope.
    pub fn parse(scopes: &str) -> Result<Self> {
        scopes
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(Scope::parse)
            .collect()
    }

    /// Whether `scope` is in the set.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|held| held.as_str() == scope)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The scopes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// Adds `scope`; whether it was new.
    pub fn insert(&mut self, scope: Scope) -> bool {
        self.0.insert(scope)
    }

    /// The scopes in both.
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.intersection(&other.0).cloned().collect())
    }

    /// The scopes of `self` that `other` lacks.
    pub fn difference(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.difference(&other.0).cloned().collect())
    }

    /// Whether every scope of `self` is in `other`.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The scopes as strings, in order.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|scope| scope.0.clone()).collect()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(scopes: I) -> Self {
        Self(scopes.into_iter().collect())
    }
}

impl Extend<Scope> for ScopeSet {
    fn extend<I: IntoIterator<Item = Scope>>(&mut self, scopes: I) {
        self.0.extend(scopes);
    }
}

impl IntoIterator for ScopeSet {
    type Item = Scope;
    type IntoIter = std::collections::btree_set::IntoIter<Scope>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// A role's name: 1 to [`MAX_ROLE_NAME_LEN`] bytes of lower-case ASCII letters, digits and
/// `.`, `_`, `:`, `-`, starting with a letter or a digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleName(String);

impl RoleName {
    /// `name`, checked; [`Error::InvalidRequest`] if it is not a role name.
    pub fn parse(name: &str) -> Result<Self> {
        let mut bytes = name.bytes();
        let valid = name.len() <= MAX_ROLE_NAME_LEN
            && bytes
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && bytes.all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'.' | b'_' | b':' | b'-')
            });
        if !valid {
            let shown: String = name.chars().take(64).collect();
            return Err(Error::InvalidRequest(format!(
                "{shown:?} is not a role name: 1 to {MAX_ROLE_NAME_LEN} lower-case letters, \
                 digits, '.', '_', ':' or '-', starting with a letter or a digit"
            )));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A role: a name, the scopes it grants and what it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Its name, unique.
    pub name: RoleName,
    /// What holding it grants.
    pub scopes: ScopeSet,
    /// What it is for, for people (may be empty).
    pub description: String,
}

impl Role {
    /// A role, checked: at most [`MAX_ROLE_SCOPES`] scopes and a description of at most
    /// [`MAX_DESCRIPTION_CHARS`] characters without control characters
    /// ([`Error::InvalidRequest`] otherwise).
    pub fn new(name: RoleName, scopes: ScopeSet, description: impl Into<String>) -> Result<Self> {
        let description = description.into();
        if scopes.len() > MAX_ROLE_SCOPES {
            return Err(Error::InvalidRequest(format!(
                "a role grants at most {MAX_ROLE_SCOPES} scopes"
            )));
        }
        if description.chars().count() > MAX_DESCRIPTION_CHARS
            || description.chars().any(char::is_control)
        {
            return Err(Error::InvalidRequest(format!(
                "a role's description is at most {MAX_DESCRIPTION_CHARS} characters, without \
                 control characters"
            )));
        }
        Ok(Self {
            name,
            scopes,
            description,
        })
    }
}

/// What a client may be granted: the client side of [`granted_scopes`].
#[derive(Debug, Clone, Copy)]
pub struct ClientScopes<'a> {
    /// The scopes the client may ask for; `None`: any (the server's own sessions).
    pub allowed: Option<&'a ScopeSet>,
    /// Whether the client is first party (run by whoever runs this server): only such a
    /// client is ever granted an administrative scope.
    pub first_party: bool,
}

impl ClientScopes<'_> {
    /// The server itself: every scope allowed, first party.
    pub const SERVER: ClientScopes<'static> = ClientScopes {
        allowed: None,
        first_party: true,
    };
}

/// The rule every token's scopes come from: `requested` ∩ what `client` may ask for ∩ what the
/// user `holds`, without the administrative scopes unless the client is first party and the
/// user authenticated freshly for this grant (`fresh_authentication`).
pub fn granted_scopes(
    requested: &ScopeSet,
    client: ClientScopes<'_>,
    holds: &ScopeSet,
    fresh_authentication: bool,
) -> ScopeSet {
    requested
        .iter()
        .filter(|scope| {
            client
                .allowed
                .is_none_or(|allowed| allowed.0.contains(*scope))
        })
        .filter(|scope| holds.0.contains(*scope))
        .filter(|scope| !scope.is_administrative() || (client.first_party && fresh_authentication))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn set(scopes: &str) -> ScopeSet {
        ScopeSet::parse(scopes).unwrap()
    }

    /// One row of the rule's table.
    type Case<'a> = (&'a str, Option<&'a ScopeSet>, bool, &'a str, bool, &'a str);

    #[test]
    fn the_rule_is_requested_within_client_within_user_and_admin_only_first_party_fresh() {
        let client = set("profile orders:read orders:write admin:users");
        let c = Some(&client);
        // (requested, what the client may ask for (None: any), first party, what the user
        // holds, fresh authentication, granted)
        #[rustfmt::skip]
        let table: &[Case<'_>] = &[
            // Nothing requested, nothing granted.
            ("", c, false, "profile orders:read", true, ""),
            // The intersection of the three.
            ("profile orders:read", c, false, "profile orders:read", true, "profile orders:read"),
            ("profile orders:read", c, false, "profile", true, "profile"),
            ("profile billing", c, false, "profile billing", true, "profile"),
            ("orders:write", c, false, "profile", true, ""),
            // Every scope allowed: what the user holds bounds it.
            ("profile billing", None, true, "billing", false, "billing"),
            // Administrative scopes: never to a third-party client, even fresh.
            ("admin:users profile", c, false, "admin:users profile", true, "profile"),
            // To a first-party client only with a fresh authentication.
            ("admin:users profile", c, true, "admin:users profile", false, "profile"),
            ("admin:users profile", c, true, "admin:users profile", true, "admin:users profile"),
            // Still only what the client may ask for and the user holds.
            ("admin:keys", c, true, "admin:keys", true, ""),
            ("admin:users", c, true, "profile", true, ""),
            ("admin admin:x", None, true, "admin admin:x", true, "admin admin:x"),
            ("admin admin:x", None, true, "admin admin:x", false, ""),
            // Only the exact `admin` and the `admin:` prefix are administrative.
            ("administrator admins:x", None, false, "administrator admins:x", false, "administrator admins:x"),
        ];
        for &(requested, allowed, first_party, holds, fresh, expected) in table {
            let client = ClientScopes {
                allowed,
                first_party,
            };
            let granted = granted_scopes(&set(requested), client, &set(holds), fresh);
            assert_eq!(
                granted,
                set(expected),
                "requested {requested:?}, allowed {allowed:?}, first party {first_party}, \
                 holds {holds:?}, fresh {fresh}"
            );
        }
    }

    #[test]
    fn scope_sets_parse_spaces_and_repeats_and_refuse_what_is_not_a_scope() {
        let scopes = set("  orders:read profile  orders:read ");
        assert_eq!(scopes.to_string(), "orders:read profile");
        assert_eq!(scopes.len(), 2);
        assert!(scopes.contains("profile"));
        assert!(!scopes.contains("orders"));
        assert!(ScopeSet::parse("").unwrap().is_empty());
        for bad in [
            "a\"b",
            "a\\b",
            "é",
            "tab\there",
            &"x".repeat(MAX_SCOPE_LEN + 1),
        ] {
            let error = ScopeSet::parse(bad).unwrap_err();
            assert_eq!(error.code(), "invalid_scope", "{bad:?}");
        }
        assert!(Scope::parse(&"x".repeat(MAX_SCOPE_LEN)).is_ok());
    }

    #[test]
    fn role_names_are_lower_case_words() {
        for good in [
            "admin",
            "support-2",
            "billing.read",
            "ops:oncall",
            "a_b",
            "7",
        ] {
            assert_eq!(RoleName::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "Admin", "-x", ".x", "a b", "a/b", "é", &"a".repeat(65)] {
            assert_eq!(
                RoleName::parse(bad).unwrap_err().code(),
                "invalid_request",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn roles_bound_their_scopes_and_description() {
        let name = RoleName::parse("r").unwrap();
        let many: ScopeSet = (0..=MAX_ROLE_SCOPES)
            .map(|i| Scope::parse(&format!("s{i}")).unwrap())
            .collect();
        assert!(Role::new(name.clone(), many, "").is_err());
        assert!(Role::new(name.clone(), set("a"), "line\nbreak").is_err());
        assert!(
            Role::new(
                name.clone(),
                set("a"),
                "x".repeat(MAX_DESCRIPTION_CHARS + 1)
            )
            .is_err()
        );
        let role = Role::new(name, set("b a"), "Reads orders").unwrap();
        assert_eq!(role.scopes.to_string(), "a b");
    }
}
