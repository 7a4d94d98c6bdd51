//! Registered clients: who may ask for tokens, how they authenticate, and where answers may be
//! sent.
//!
//! # Redirect URIs
//!
//! A redirect URI is matched exactly, as a string, against one the client registered (no
//! wildcards, no prefix match: OAuth 2.1 section 2.3.1), with one exception for native apps
//! (RFC 8252 section 7.3): a registered `http` URI on a loopback IP literal (`127.0.0.1`,
//! `[::1]`) matches a request naming any port there, as the app listens on whatever port it
//! could get. Registration accepts `https` URIs, `http` only on those two loopback literals
//! (never `localhost`, which may resolve elsewhere: RFC 8252 section 8.3), and, for public
//! clients, private-use schemes written as a reversed domain name (`com.example.app:/callback`,
//! RFC 8252 section 7.1); never a fragment, user information, or a scheme such as
//! `javascript:` or `data:`. A first-party public client (no consent page) registers `https`
//! URIs only: a loopback port or a private-use scheme can be claimed by another app on the
//! device, which would then be handed codes without the user being asked.
//!
//! # Secrets
//!
//! A confidential client's secret is 256 random bits in base64url, shown once at registration
//! and stored as its SHA-256 digest: a fast hash is enough for a secret of full entropy (no
//! dictionary to try), and client authentication stays cheap. The check compares digests in
//! constant time.

use std::fmt;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use rand::rngs::OsRng;
use secrecy::SecretString;
use subtle::ConstantTimeEq as _;

use crate::authz::ScopeSet;
use crate::error::{Error, Result};
use crate::id::{OpaqueSecret, SecretHash};

/// The longest client id accepted, in bytes.
pub const MAX_CLIENT_ID_LEN: usize = 64;
/// The longest client name, in characters.
pub const MAX_CLIENT_NAME_CHARS: usize = 128;
/// The longest redirect URI accepted, in bytes.
pub const MAX_REDIRECT_URI_LEN: usize = 2000;
/// The most redirect URIs a client registers (and the most post-logout redirect URIs).
pub const MAX_REDIRECT_URIS: usize = 16;
/// The longest access-token audience a client registers, in bytes.
pub const MAX_AUDIENCE_LEN: usize = 256;
/// The algorithms a client may have its ID tokens signed with (asymmetric ones: a relying
/// party verifies them from the JWKS).
pub const ID_TOKEN_ALGORITHMS: [&str; 3] = ["RS256", "ES256", "EdDSA"];
/// The scopes of OpenID Connect itself: what a user may grant any client that may ask for
/// them, whatever roles they hold (they name the user's own data and the grant's form). A
/// client that only acts for itself (`client_credentials`) holds none of them.
pub const IDENTITY_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];
/// The ID token algorithm of a client that registered none: RS256, which OpenID Connect
/// requires a provider to offer and most relying parties assume.
pub const DEFAULT_ID_TOKEN_ALG: &str = "RS256";

/// Where a client of `private_key_jwt` keeps its public keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKeys {
    /// A JWK Set registered with the client, as checked JSON text (public keys only).
    Inline(String),
    /// The address of its JWK Set, fetched when needed (and cached).
    Uri(String),
}

/// A client's id: 1 to [`MAX_CLIENT_ID_LEN`] bytes of ASCII letters, digits and `-._~`
/// (unreserved URI characters, so it travels in a query or a form untouched). Generated ids
/// are 22 base64url characters (128 random bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(String);

impl ClientId {
    /// A fresh random id.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// `id`, checked; [`Error::InvalidRequest`] if it is not a client id.
    pub fn parse(id: &str) -> Result<Self> {
        let valid = !id.is_empty()
            && id.len() <= MAX_CLIENT_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if !valid {
            return Err(Error::InvalidRequest(format!(
                "not a client id: 1 to {MAX_CLIENT_ID_LEN} letters, digits, '-', '.', '_' or '~'"
            )));
        }
        Ok(Self(id.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a client authenticates at the token endpoint (the `token_endpoint_auth_method` of
/// RFC 7591).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientAuthMethod {
    /// The secret in HTTP Basic authentication (the default for confidential clients).
    ClientSecretBasic,
    /// The secret in the form body.
    ClientSecretPost,
    /// A JWT the client signs with a private key of its own (RFC 7523, OpenID Connect Core
    /// section 9): we hold its public keys, inline or at its `jwks_uri`, and no secret.
    PrivateKeyJwt,
    /// None: a public client (a native or browser app), bound by PKCE alone.
    None,
}

impl ClientAuthMethod {
    /// The name RFC 7591 and discovery use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }

    /// The method named `name`; [`Error::InvalidRequest`] for another.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "client_secret_basic" => Ok(Self::ClientSecretBasic),
            "client_secret_post" => Ok(Self::ClientSecretPost),
            "private_key_jwt" => Ok(Self::PrivateKeyJwt),
            "none" => Ok(Self::None),
            other => Err(Error::InvalidRequest(format!(
                "{:?} is not a client authentication method: client_secret_basic, \
                 client_secret_post, private_key_jwt or none",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }

    /// Whether the client can prove who it is (a secret or a private key): not a public one.
    pub fn is_confidential(self) -> bool {
        self != Self::None
    }

    /// Whether the client proves itself with a secret we gave it.
    pub fn has_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }
}

/// A grant a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantType {
    /// `authorization_code`, with PKCE.
    AuthorizationCode,
    /// `refresh_token`.
    RefreshToken,
    /// `client_credentials`: a confidential client acting for itself (a service), with
    /// scopes of its own and no user.
    ClientCredentials,
}

impl GrantType {
    /// The name RFC 6749 gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }

    /// The grant named `name`; [`Error::InvalidRequest`] for another.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "authorization_code" => Ok(Self::AuthorizationCode),
            "refresh_token" => Ok(Self::RefreshToken),
            "client_credentials" => Ok(Self::ClientCredentials),
            other => Err(Error::InvalidRequest(format!(
                "{:?} is not a grant type: authorization_code, refresh_token or \
                 client_credentials",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }
}

/// A registered redirect URI (see the [module](self) for what is accepted and how it matches).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedirectUri {
    uri: String,
    /// A loopback IP literal over `http`: any port matches.
    any_port: bool,
}

impl RedirectUri {
    /// `uri`, checked for registration; [`Error::InvalidRequest`] saying why it is refused.
    pub fn parse(uri: &str) -> Result<Self> {
        let refuse = |why: &str| {
            Err(Error::InvalidRequest(format!(
                "redirect URI {:?}: {why}",
                uri.chars().take(80).collect::<String>()
            )))
        };
        if uri.len() > MAX_REDIRECT_URI_LEN {
            return refuse("too long");
        }
        let Ok(parsed) = url::Url::parse(uri) else {
            return refuse("not an absolute URI");
        };
        if parsed.as_str() != uri {
            // What a browser would send differs from what was written (case, escapes, a
            // missing path): exact matching would then fail, or match what was not meant.
            return refuse(&format!(
                "not in normal form; write it as {:?}",
                parsed.as_str()
            ));
        }
        if parsed.fragment().is_some() {
            return refuse("a redirect URI has no fragment");
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return refuse("a redirect URI has no user information");
        }
        let any_port = match parsed.scheme() {
            "https" => false,
            "http" if is_loopback_literal(&parsed) => true,
            "http" => return refuse("http only on the loopback literals 127.0.0.1 and [::1]"),
            scheme if is_reversed_domain(scheme) && parsed.host().is_none() => false,
            _ => {
                return refuse(
                    "https, http on 127.0.0.1 or [::1], or a private-use scheme named by a \
                     reversed domain (com.example.app:/callback)",
                );
            }
        };
        Ok(Self {
            uri: uri.to_owned(),
            any_port,
        })
    }

    /// A URI as stored, registered under the rules of its day: not checked again (tighter
    /// rules later must not make stored clients unreadable), only read for how it matches.
    pub fn stored(uri: String) -> Self {
        let any_port = url::Url::parse(&uri)
            .is_ok_and(|parsed| parsed.scheme() == "http" && is_loopback_literal(&parsed));
        Self { uri, any_port }
    }

    /// Whether the URI is `https`.
    pub fn is_https(&self) -> bool {
        self.uri.starts_with("https://")
    }

    /// The URI as registered.
    pub fn as_str(&self) -> &str {
        &self.uri
    }

    /// Whether a request's `redirect_uri` is this one: the same string, or for a loopback IP
    /// literal over `http`, the same but for the port.
    pub fn matches(&self, requested: &str) -> bool {
        if requested == self.uri {
            return true;
        }
        if !self.any_port || requested.len() > MAX_REDIRECT_URI_LEN {
            return false;
        }
        let (Ok(mut registered), Ok(mut asked)) =
            (url::Url::parse(&self.uri), url::Url::parse(requested))
        else {
            return false;
        };
        if asked.as_str() != requested {
            return false;
        }
        registered.set_port(None).is_ok() && asked.set_port(None).is_ok() && registered == asked
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri)
    }
}

/// `127.0.0.1` or `[::1]`.
fn is_loopback_literal(uri: &url::Url) -> bool {
    match uri.host() {
        Some(url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(url::Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        _ => false,
    }
}

/// A scheme named by a reversed domain: two or more dot-separated labels of lower-case letters,
/// digits and `-`, none empty (`com.example.app`).
fn is_reversed_domain(scheme: &str) -> bool {
    let labels: Vec<&str> = scheme.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// A registered client, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Client {
    /// Its id.
    pub id: ClientId,
    /// What users are shown on the consent page.
    pub name: String,
    /// How it authenticates.
    pub auth_method: ClientAuthMethod,
    /// The SHA-256 digest of its secret; `None` for a public client and a client of
    /// `private_key_jwt`.
    pub secret_hash: Option<SecretHash>,
    /// The public keys of a client of `private_key_jwt`; `None` for the others.
    pub keys: Option<ClientKeys>,
    /// Where answers may be sent.
    pub redirect_uris: Vec<RedirectUri>,
    /// The grants it may use.
    pub grant_types: Vec<GrantType>,
    /// The scopes it may ask for.
    pub scopes: ScopeSet,
    /// Run by whoever runs this server: no consent page, and administrative scopes possible
    /// (see [`crate::authz::granted_scopes`]).
    pub first_party: bool,
    /// The `aud` of its access tokens (its resource servers); `None`: the server's audience.
    pub audience: Option<String>,
    /// The algorithm of its ID tokens (`id_token_signed_response_alg`): one of
    /// [`ID_TOKEN_ALGORITHMS`], RS256 unless it registered another.
    pub id_token_alg: String,
    /// Where RP-initiated logout may send the browser afterwards, matched exactly (no port
    /// exception).
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// Whether its authorization requests must be pushed first (RFC 9126's
    /// `require_pushed_authorization_requests`): one sent whole in the browser's address is
    /// refused.
    pub require_par: bool,
    /// When it was registered.
    pub created_at: SystemTime,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("auth_method", &self.auth_method)
            .field("keys", &self.keys)
            .field("redirect_uris", &self.redirect_uris)
            .field("grant_types", &self.grant_types)
            .field("scopes", &self.scopes)
            .field("first_party", &self.first_party)
            .field("audience", &self.audience)
            .field("id_token_alg", &self.id_token_alg)
            .field("post_logout_redirect_uris", &self.post_logout_redirect_uris)
            .field("require_par", &self.require_par)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Whether `presented` is the client's secret: digests compared in constant time. Always
    /// false for a public client.
    pub fn secret_matches(&self, presented: &str) -> bool {
        let presented = SecretHash::of(presented.as_bytes());
        self.secret_hash
            .as_ref()
            .is_some_and(|stored| bool::from(stored.as_bytes().ct_eq(presented.as_bytes())))
    }

    /// Whether `requested` (an authorization request's `redirect_uri`) matches one of the
    /// registered URIs. Answers go to `requested` itself, which for a loopback literal may
    /// name another port than the registered URI.
    pub fn accepts_redirect(&self, requested: &str) -> bool {
        self.redirect_uris.iter().any(|uri| uri.matches(requested))
    }

    /// Whether `requested` (a logout request's `post_logout_redirect_uri`) is one the client
    /// registered: the same string exactly.
    pub fn accepts_post_logout_redirect(&self, requested: &str) -> bool {
        self.post_logout_redirect_uris
            .iter()
            .any(|uri| uri.as_str() == requested)
    }

    /// Whether the client may use `grant`.
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Whether the client is public (no secret; PKCE binds it).
    pub fn is_public(&self) -> bool {
        !self.auth_method.is_confidential()
    }
}

/// What a registration asks for; [`NewClient::register`] checks it and makes the client.
#[derive(Debug, Clone)]
pub struct NewClient {
    /// Shown to users.
    pub name: String,
    /// How it will authenticate.
    pub auth_method: ClientAuthMethod,
    /// Where answers may be sent: at least one for `authorization_code`, none for a client
    /// of `client_credentials` alone.
    pub redirect_uris: Vec<String>,
    /// The grants it may use: `authorization_code` (and `refresh_token` with it), or
    /// `client_credentials`, or both.
    pub grant_types: Vec<GrantType>,
    /// The scopes it may ask for.
    pub scopes: ScopeSet,
    /// Whether it is first party.
    pub first_party: bool,
    /// The `aud` of its access tokens; `None`: the server's audience.
    pub audience: Option<String>,
    /// The algorithm of its ID tokens; `None`: RS256.
    pub id_token_alg: Option<String>,
    /// Where RP-initiated logout may send the browser afterwards (under the rules of redirect
    /// URIs; none for a client of client_credentials alone).
    pub post_logout_redirect_uris: Vec<String>,
    /// Whether its authorization requests must be pushed first (RFC 9126).
    pub require_par: bool,
    /// For `private_key_jwt`: its public keys, a JWK Set as JSON text (`jwks`)...
    pub jwks: Option<String>,
    /// ...or where to fetch them (`jwks_uri`); exactly one of the two.
    pub jwks_uri: Option<String>,
}

/// A client just registered, and its secret, shown this once (`None` for a public client).
pub struct RegisteredClient {
    /// The client, as it is to be stored.
    pub client: Client,
    /// The secret to hand to its operator.
    pub secret: Option<SecretString>,
}

impl fmt::Debug for RegisteredClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredClient")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl NewClient {
    /// Checks the registration and makes the client at `now`, with a fresh id and, for a
    /// confidential client, a fresh secret. [`Error::InvalidRequest`] naming what is wrong.
    pub fn register(self, now: SystemTime) -> Result<RegisteredClient> {
        let name = self.name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_CLIENT_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(Error::InvalidRequest(format!(
                "a client's name is 1 to {MAX_CLIENT_NAME_CHARS} characters, without control \
                 characters"
            )));
        }
        let mut grant_types = self.grant_types;
        grant_types.sort();
        grant_types.dedup();
        let code = grant_types.contains(&GrantType::AuthorizationCode);
        let service = grant_types.contains(&GrantType::ClientCredentials);
        if !code && !service {
            return Err(Error::InvalidRequest(
                "a client uses the authorization_code grant (refresh_token comes with it), \
                 client_credentials, or both"
                    .into(),
            ));
        }
        if !code && grant_types.contains(&GrantType::RefreshToken) {
            return Err(Error::InvalidRequest(
                "refresh_token comes with the authorization_code grant: client_credentials \
                 asks again instead"
                    .into(),
            ));
        }
        if service && code {
            return Err(Error::InvalidRequest(
                "a service is a client of its own: client_credentials is not combined with \
                 authorization_code (a user's grant is bounded by the user's roles; a \
                 service's would not be)"
                    .into(),
            ));
        }
        if service && self.audience.is_none() {
            return Err(Error::InvalidRequest(
                "a client of client_credentials names the audience of its tokens (its resource \
                 servers)"
                    .into(),
            ));
        }
        if service && !self.auth_method.is_confidential() {
            return Err(Error::InvalidRequest(
                "client_credentials is for confidential clients: a public one has nothing to \
                 prove itself with"
                    .into(),
            ));
        }
        if code && (self.redirect_uris.is_empty() || self.redirect_uris.len() > MAX_REDIRECT_URIS) {
            return Err(Error::InvalidRequest(format!(
                "a client of the authorization_code grant registers 1 to {MAX_REDIRECT_URIS} \
                 redirect URIs"
            )));
        }
        if !code && !self.redirect_uris.is_empty() {
            return Err(Error::InvalidRequest(
                "a client of client_credentials alone is sent no answers: no redirect URIs".into(),
            ));
        }
        if !code
            && (self.scopes.is_empty()
                || IDENTITY_SCOPES
                    .iter()
                    .any(|scope| self.scopes.contains(scope)))
        {
            return Err(Error::InvalidRequest(format!(
                "a client of client_credentials alone acts for itself: it names its own scopes \
                 and none of {}",
                IDENTITY_SCOPES.join(", ")
            )));
        }
        if !code && (!self.post_logout_redirect_uris.is_empty() || self.require_par) {
            return Err(Error::InvalidRequest(
                "post-logout redirect URIs and pushed authorization requests are for clients \
                 of the authorization_code grant"
                    .into(),
            ));
        }
        if self.post_logout_redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(Error::InvalidRequest(format!(
                "a client registers at most {MAX_REDIRECT_URIS} post-logout redirect URIs"
            )));
        }
        let redirect_uris = checked_uris(self.auth_method, &self.redirect_uris)?;
        let post_logout_redirect_uris =
            checked_uris(self.auth_method, &self.post_logout_redirect_uris)?;
        if self.first_party
            && !self.auth_method.is_confidential()
            && redirect_uris.iter().any(|uri| !uri.is_https())
        {
            return Err(Error::InvalidRequest(
                "a first-party public client (no consent page) registers https redirect URIs \
                 only: a loopback port or a private-use scheme can be claimed by another app"
                    .into(),
            ));
        }
        let id_token_alg = match self.id_token_alg.as_deref() {
            None => DEFAULT_ID_TOKEN_ALG.to_owned(),
            Some(alg) if ID_TOKEN_ALGORITHMS.contains(&alg) => alg.to_owned(),
            Some(alg) => {
                return Err(Error::InvalidRequest(format!(
                    "id_token_signed_response_alg {:?}: one of {}",
                    alg.chars().take(32).collect::<String>(),
                    ID_TOKEN_ALGORITHMS.join(", ")
                )));
            }
        };
        let audience = match self.audience {
            Some(audience)
                if audience.is_empty()
                    || audience.len() > MAX_AUDIENCE_LEN
                    || audience
                        .chars()
                        .any(|c| c.is_control() || c.is_whitespace()) =>
            {
                return Err(Error::InvalidRequest(format!(
                    "an audience is 1 to {MAX_AUDIENCE_LEN} bytes without spaces or control \
                     characters"
                )));
            }
            audience => audience,
        };
        let keys = match (self.auth_method, self.jwks, self.jwks_uri) {
            (ClientAuthMethod::PrivateKeyJwt, Some(jwks), None) => {
                Some(ClientKeys::Inline(super::keys::checked_jwks(&jwks)?))
            }
            (ClientAuthMethod::PrivateKeyJwt, None, Some(uri)) => {
                Some(ClientKeys::Uri(super::keys::checked_jwks_uri(&uri)?))
            }
            (ClientAuthMethod::PrivateKeyJwt, _, _) => {
                return Err(Error::InvalidRequest(
                    "a client of private_key_jwt gives its public keys: jwks or jwks_uri, \
                     one of the two"
                        .into(),
                ));
            }
            (_, None, None) => None,
            (_, _, _) => {
                return Err(Error::InvalidRequest(
                    "jwks and jwks_uri are for clients of private_key_jwt".into(),
                ));
            }
        };
        let secret = self.auth_method.has_secret().then(OpaqueSecret::generate);
        // Whole microseconds, as PostgreSQL keeps them: the client read back is the same.
        let since_epoch = now
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let created_at = std::time::UNIX_EPOCH
            + std::time::Duration::from_micros(
                u64::try_from(since_epoch.as_micros()).unwrap_or(u64::MAX),
            );
        let client = Client {
            id: ClientId::generate(),
            name: name.to_owned(),
            auth_method: self.auth_method,
            secret_hash: secret.as_ref().map(OpaqueSecret::hash),
            keys,
            redirect_uris,
            grant_types,
            scopes: self.scopes,
            first_party: self.first_party,
            audience,
            id_token_alg,
            post_logout_redirect_uris,
            require_par: self.require_par,
            created_at,
        };
        Ok(RegisteredClient {
            client,
            secret: secret.map(OpaqueSecret::into_secret),
        })
    }
}

/// `uris` parsed as redirect URIs of a client authenticating by `auth_method`, each once.
fn checked_uris(auth_method: ClientAuthMethod, uris: &[String]) -> Result<Vec<RedirectUri>> {
    let mut checked = Vec::new();
    for uri in uris {
        let uri = RedirectUri::parse(uri)?;
        if auth_method.is_confidential() && !uri.is_https() && !uri.any_port {
            return Err(Error::InvalidRequest(format!(
                "redirect URI {:?}: a private-use scheme is for public clients (apps on a \
                     device hold no secret)",
                uri.as_str()
            )));
        }
        if !checked.contains(&uri) {
            checked.push(uri);
        }
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use secrecy::ExposeSecret as _;

    use super::*;

    fn new_client(auth_method: ClientAuthMethod, uris: &[&str]) -> NewClient {
        NewClient {
            name: "Shop".into(),
            auth_method,
            redirect_uris: uris.iter().map(|uri| (*uri).to_owned()).collect(),
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scopes: ScopeSet::parse("openid profile").unwrap(),
            first_party: false,
            audience: None,
            id_token_alg: None,
            post_logout_redirect_uris: Vec::new(),
            require_par: false,
            jwks: None,
            jwks_uri: None,
        }
    }

    #[test]
    fn redirect_uris_are_https_loopback_or_private_use_and_in_normal_form() {
        for good in [
            "https://app.example.com/callback",
            "https://app.example.com/cb?tenant=7",
            "http://127.0.0.1/callback",
            "http://127.0.0.1:8400/callback",
            "http://[::1]/cb",
            "com.example.app:/oauth2redirect",
            "com.example.my-app2:/cb",
        ] {
            assert_eq!(RedirectUri::parse(good).unwrap().as_str(), good);
        }
        for (bad, why) in [
            ("/callback", "not an absolute URI"),
            (
                "http://app.example.com/cb",
                "http only on the loopback literals",
            ),
            (
                "http://localhost:3000/cb",
                "http only on the loopback literals",
            ),
            ("http://127.0.0.2/cb", "http only on the loopback literals"),
            ("myapp:/cb", "private-use scheme"),
            ("a..b:/cb", "private-use scheme"),
            ("com.example.:/cb", "private-use scheme"),
            ("https://app.example.com/cb#frag", "no fragment"),
            ("https://user:pw@app.example.com/cb", "no user information"),
            ("javascript:alert(1)", "private-use scheme"),
            ("data:text/html,hi", "private-use scheme"),
            ("file:///etc/passwd", "private-use scheme"),
            ("HTTPS://App.Example.com/cb", "normal form"),
            ("https://app.example.com", "normal form"),
            ("https://app.example.com/a/../b", "normal form"),
        ] {
            let error = RedirectUri::parse(bad).unwrap_err();
            assert_eq!(error.code(), "invalid_request", "{bad}");
            assert!(error.to_string().contains(why), "{bad}: {error}");
        }
        assert!(RedirectUri::parse(&format!("https://a.example/{}", "x".repeat(2000))).is_err());
    }

    #[test]
    fn redirect_uris_match_exactly_but_loopback_literals_on_any_port() {
        let https = RedirectUri::parse("https://app.example.com/cb").unwrap();
        assert!(https.matches("https://app.example.com/cb"));
        for other in [
            "https://app.example.com/cb/",
            "https://app.example.com/cb?x=1",
            "https://app.example.com:443/cb",
            "https://app.example.com/CB",
            "https://app.example.com/cb#x",
            "https://evil.example.com/cb",
            "http://app.example.com/cb",
        ] {
            assert!(!https.matches(other), "{other}");
        }
        let native = RedirectUri::parse("http://127.0.0.1/callback").unwrap();
        for port in ["", ":1", ":8400", ":65535"] {
            assert!(
                native.matches(&format!("http://127.0.0.1{port}/callback")),
                "{port}"
            );
        }
        for other in [
            "http://127.0.0.1:8400/other",
            "http://127.0.0.2:8400/callback",
            "http://localhost:8400/callback",
            "https://127.0.0.1:8400/callback",
            "http://127.0.0.1:8400/callback?x=1",
            "http://127.0.0.1:08400/callback",
        ] {
            assert!(!native.matches(other), "{other}");
        }
        let v6 = RedirectUri::parse("http://[::1]:9/cb").unwrap();
        assert!(v6.matches("http://[::1]:5000/cb"));
        assert!(
            !v6.matches("http://[0:0:0:0:0:0:0:1]:5000/cb"),
            "not in normal form"
        );
        let stored = RedirectUri::stored("http://127.0.0.1/callback".into());
        assert_eq!(stored, native, "read back as registered");
    }

    #[test]
    fn a_confidential_client_gets_a_secret_shown_once_and_stored_as_its_digest() {
        let now = SystemTime::now();
        let registered = new_client(
            ClientAuthMethod::ClientSecretBasic,
            &["https://shop.example.com/cb", "https://shop.example.com/cb"],
        )
        .register(now)
        .unwrap();
        let client = &registered.client;
        let secret = registered
            .secret
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_owned();
        assert_eq!(secret.len(), 43, "256 bits in base64url");
        assert_eq!(client.id.as_str().len(), 22);
        assert!(ClientId::parse(client.id.as_str()).is_ok());
        assert_eq!(client.redirect_uris.len(), 1, "the same URI once");
        assert!(client.secret_matches(&secret));
        assert!(!client.secret_matches(&secret[1..]));
        assert!(!client.secret_matches(""));
        assert!(!format!("{client:?}").contains(&secret));
        assert!(!format!("{registered:?}").contains(&secret));
        assert_ne!(
            client.secret_hash.unwrap().as_bytes(),
            secret.as_bytes(),
            "only the digest is kept"
        );

        let public = new_client(ClientAuthMethod::None, &["com.example.app:/cb"])
            .register(now)
            .unwrap();
        assert!(public.secret.is_none() && public.client.secret_hash.is_none());
        assert!(public.client.is_public());
        assert!(!public.client.secret_matches(""));
        assert_ne!(public.client.id, client.id);
    }

    #[test]
    fn registrations_that_cannot_work_are_refused_with_the_reason() {
        let now = SystemTime::now();
        let refused = |new: NewClient| new.register(now).unwrap_err().to_string();
        let mut unnamed = new_client(ClientAuthMethod::None, &["https://a.example/cb"]);
        unnamed.name = "  ".into();
        assert!(refused(unnamed).contains("name"));
        assert!(refused(new_client(ClientAuthMethod::None, &[])).contains("redirect URIs"));
        let mut refresh_only = new_client(ClientAuthMethod::None, &["https://a.example/cb"]);
        refresh_only.grant_types = vec![GrantType::RefreshToken];
        assert!(refused(refresh_only).contains("authorization_code"));
        // A service: confidential, no redirect URIs, no refresh tokens, scopes of its own.
        let service = |scopes: &str, uris: &[&str]| {
            let mut new = new_client(ClientAuthMethod::ClientSecretBasic, uris);
            new.grant_types = vec![GrantType::ClientCredentials];
            new.scopes = ScopeSet::parse(scopes).unwrap();
            new.audience = Some("https://api.example".into());
            new
        };
        let client = service("orders:read", &[]).register(now).unwrap().client;
        assert_eq!(client.grant_types, [GrantType::ClientCredentials]);
        assert!(client.redirect_uris.is_empty());
        let mut public = service("orders:read", &[]);
        public.auth_method = ClientAuthMethod::None;
        assert!(refused(public).contains("confidential clients"));
        let mut refreshing = service("orders:read", &[]);
        refreshing.grant_types.push(GrantType::RefreshToken);
        assert!(refused(refreshing).contains("refresh_token comes with"));
        assert!(
            refused(service("orders:read", &["https://a.example/cb"])).contains("no redirect URIs")
        );
        for scopes in ["", "openid", "orders:read offline_access"] {
            assert!(
                refused(service(scopes, &[])).contains("names its own scopes"),
                "{scopes:?}"
            );
        }
        let mut anywhere = service("orders:read", &[]);
        anywhere.audience = None;
        assert!(refused(anywhere).contains("names the audience"));
        // Never both kinds in one client: its own scopes would escape the users' roles.
        let mut both = new_client(
            ClientAuthMethod::ClientSecretBasic,
            &["https://a.example/cb"],
        );
        both.grant_types.push(GrantType::ClientCredentials);
        both.audience = Some("https://api.example".into());
        assert!(refused(both).contains("a service is a client of its own"));
        assert!(
            refused(new_client(ClientAuthMethod::None, &["http://a.example/cb"]))
                .contains("http only on the loopback literals")
        );
        assert!(
            refused(new_client(
                ClientAuthMethod::ClientSecretBasic,
                &["com.example.app:/cb"]
            ))
            .contains("for public clients")
        );
        for uri in ["com.example.app:/cb", "http://127.0.0.1/cb"] {
            let mut first_party = new_client(ClientAuthMethod::None, &[uri]);
            first_party.first_party = true;
            assert!(
                refused(first_party).contains("https redirect URIs only"),
                "{uri}"
            );
        }
        let mut first_party = new_client(ClientAuthMethod::None, &["https://a.example/cb"]);
        first_party.first_party = true;
        assert!(first_party.register(now).is_ok());
        // ID tokens in an asymmetric algorithm only; an audience is one word.
        for alg in ["HS256", "none", "rs256", ""] {
            let mut symmetric = new_client(ClientAuthMethod::None, &["https://a.example/cb"]);
            symmetric.id_token_alg = Some(alg.into());
            assert!(
                refused(symmetric).contains("id_token_signed_response_alg"),
                "{alg}"
            );
        }
        for audience in ["", "two words", &"a".repeat(MAX_AUDIENCE_LEN + 1)] {
            let mut odd = new_client(ClientAuthMethod::None, &["https://a.example/cb"]);
            odd.audience = Some(audience.to_owned());
            assert!(refused(odd).contains("audience"), "{audience:?}");
        }
        let plain = new_client(ClientAuthMethod::None, &["https://a.example/cb"]);
        let client = plain.register(now).unwrap().client;
        assert_eq!(
            (client.id_token_alg.as_str(), client.audience),
            ("RS256", None)
        );
    }

    #[test]
    fn post_logout_redirect_uris_follow_the_redirect_rules_and_match_exactly() {
        let now = SystemTime::now();
        let mut new = new_client(
            ClientAuthMethod::ClientSecretBasic,
            &["https://shop.example.com/cb"],
        );
        new.post_logout_redirect_uris = vec![
            "https://shop.example.com/bye".into(),
            "http://127.0.0.1:9000/bye".into(),
            "https://shop.example.com/bye".into(),
        ];
        new.require_par = true;
        let client = new.clone().register(now).unwrap().client;
        assert_eq!(client.post_logout_redirect_uris.len(), 2, "each once");
        assert!(client.require_par);
        assert!(client.accepts_post_logout_redirect("https://shop.example.com/bye"));
        assert!(client.accepts_post_logout_redirect("http://127.0.0.1:9000/bye"));
        for other in [
            "https://shop.example.com/bye?x=1",
            "https://shop.example.com/bye/",
            "http://127.0.0.1:9001/bye",
            "https://shop.example.com/cb",
        ] {
            assert!(!client.accepts_post_logout_redirect(other), "{other}");
        }
        let refused = |new: NewClient| new.register(now).unwrap_err().to_string();
        let mut private_use = new.clone();
        private_use.post_logout_redirect_uris = vec!["com.example.app:/bye".into()];
        assert!(refused(private_use).contains("for public clients"));
        let mut plain_http = new.clone();
        plain_http.post_logout_redirect_uris = vec!["http://shop.example.com/bye".into()];
        assert!(refused(plain_http).contains("http only on the loopback literals"));
        let mut many = new.clone();
        many.post_logout_redirect_uris = (0..=MAX_REDIRECT_URIS)
            .map(|n| format!("https://shop.example.com/bye{n}"))
            .collect();
        assert!(refused(many).contains("at most 16 post-logout"));
        // A service is sent no browser: neither kind of redirect nor pushed requests.
        let mut service = new;
        service.redirect_uris.clear();
        service.grant_types = vec![GrantType::ClientCredentials];
        service.scopes = ScopeSet::parse("orders:read").unwrap();
        service.audience = Some("https://api.example".into());
        assert!(refused(service.clone()).contains("authorization_code grant"));
        service.post_logout_redirect_uris.clear();
        assert!(refused(service.clone()).contains("authorization_code grant"));
        service.require_par = false;
        assert!(service.register(now).is_ok());
    }

    #[test]
    fn names_of_methods_grants_and_ids_read_back() {
        for method in [
            ClientAuthMethod::ClientSecretBasic,
            ClientAuthMethod::ClientSecretPost,
            ClientAuthMethod::PrivateKeyJwt,
            ClientAuthMethod::None,
        ] {
            assert_eq!(ClientAuthMethod::parse(method.as_str()).unwrap(), method);
        }
        for grant in [
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::ClientCredentials,
        ] {
            assert_eq!(GrantType::parse(grant.as_str()).unwrap(), grant);
        }
        assert!(ClientAuthMethod::parse("client_secret_jwt").is_err());
        assert!(GrantType::parse("password").is_err());
        for bad in ["", "a b", "a/b", "é", &"a".repeat(65)] {
            assert!(ClientId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
