//! The authorization request (RFC 6749 section 4.1.1, OpenID Connect Core section 3.1.2.1):
//! its parameters read and checked, and where each refusal may go.
//!
//! A request is checked in two steps. [`RawRequest::parse`] reads the parameters and names the
//! client; the caller looks the client up; [`RawRequest::validate`] checks the rest against it.
//! Until the client and its `redirect_uri` are known to match, nothing can be sent back to the
//! client: such refusals are [`Refusal::Page`], shown to the user. Every later refusal is
//! [`Refusal::Redirect`]: sent to the registered redirect URI with the request's `state` and
//! the issuer (`iss`, RFC 9207).

use std::collections::BTreeMap;

use super::error::{ErrorCode, OAuthError};
use super::{Client, ClientId, CodeChallenge, GrantType, PushedRequest};
use crate::authz::ScopeSet;
use crate::id::SecretHash;

/// The longest `state` accepted, in bytes.
pub const MAX_STATE_LEN: usize = 1024;
/// The longest `nonce` accepted, in bytes.
pub const MAX_NONCE_LEN: usize = 512;
/// The longest `login_hint` accepted, in bytes.
pub const MAX_LOGIN_HINT_LEN: usize = 256;
/// The longest value of any other parameter, in bytes.
pub const MAX_PARAMETER_LEN: usize = 4096;

/// What `prompt` asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// `none`: no page may be shown; refuse instead.
    pub none: bool,
    /// `login`: the user authenticates again, whatever their session.
    pub login: bool,
    /// `consent`: the consent page is shown, whatever was consented before.
    pub consent: bool,
}

/// An authorization request, every parameter checked against its client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// The client.
    pub client_id: ClientId,
    /// Where the answer goes: one of the client's registered URIs, as the request wrote it
    /// (a loopback URI may name any port).
    pub redirect_uri: String,
    /// The scopes asked for.
    pub scope: ScopeSet,
    /// The client's `state`, sent back as it came.
    pub state: Option<String>,
    /// The OpenID Connect `nonce`, put in the ID token.
    pub nonce: Option<String>,
    /// The PKCE challenge; always present for a public client.
    pub code_challenge: Option<CodeChallenge>,
    /// What `prompt` asked for.
    pub prompt: Prompt,
    /// The longest time since the user's last authentication the client accepts, in seconds.
    pub max_age: Option<u64>,
    /// The account the client expects, to fill in the sign-in page.
    pub login_hint: Option<String>,
    /// For a pushed request (RFC 9126), the digest of its reference: the code's issue uses
    /// it up.
    pub pushed: Option<SecretHash>,
}

/// Why a request is refused, and where the refusal may be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The client or its redirect URI is unknown or unproven: the user is shown the error;
    /// nothing is sent anywhere.
    Page(OAuthError),
    /// The client is known and the redirect URI is its own: the error goes there.
    Redirect {
        /// The redirect URI, as the request wrote it.
        redirect_uri: String,
        /// The request's `state`, if it had a usable one.
        state: Option<String>,
        /// The error.
        error: OAuthError,
    },
}

impl Refusal {
    /// The error, wherever it goes.
    pub fn error(&self) -> &OAuthError {
        match self {
            Self::Page(error) | Self::Redirect { error, .. } => error,
        }
    }
}

/// A request's parameters, read but not yet checked against the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    client_id: ClientId,
    params: BTreeMap<String, String>,
    /// The first parameter sent twice, if any (RFC 6749 section 3.1: none may be).
    repeated: Option<String>,
    /// The digest of the pushed request's reference, for one read from a push.
    pushed: Option<SecretHash>,
}

impl RawRequest {
    /// Reads the request's parameters (a query string's or a form's pairs). A missing,
    /// repeated or malformed `client_id`, or a repeated `redirect_uri`, is a [`Refusal::Page`]:
    /// there is no telling where to send the error.
    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, Refusal> {
        let mut params = BTreeMap::new();
        let mut repeated = None;
        for (name, value) in pairs {
            if name.len() > 64 || value.len() > MAX_PARAMETER_LEN {
                return Err(Refusal::Page(OAuthError::invalid_request(format!(
                    "the parameter {:?} is too long",
                    name.chars().take(64).collect::<String>()
                ))));
            }
            if name.contains('\0') || value.contains('\0') {
                // No store keeps a NUL in text, and no parameter needs one.
                return Err(Refusal::Page(OAuthError::invalid_request(
                    "a parameter holds a NUL character",
                )));
            }
            if value.is_empty() {
                // RFC 6749 section 3.1: a parameter sent without a value is as if omitted.
                continue;
            }
            if params.insert(name.to_owned(), value.to_owned()).is_some() && repeated.is_none() {
                repeated = Some(name.to_owned());
            }
        }
        for name in ["client_id", "redirect_uri"] {
            if repeated.as_deref() == Some(name) {
                return Err(Refusal::Page(OAuthError::invalid_request(format!(
                    "{name} is sent more than once"
                ))));
            }
        }
        let Some(id) = params.get("client_id") else {
            return Err(Refusal::Page(OAuthError::invalid_request(
                "client_id is missing",
            )));
        };
        let client_id = ClientId::parse(id).map_err(|_| {
            Refusal::Page(OAuthError::new(
                ErrorCode::InvalidRequest,
                "client_id is not a client id",
            ))
        })?;
        Ok(Self {
            client_id,
            params,
            repeated,
            pushed: None,
        })
    }

    /// A pushed request's parameters (RFC 9126), as the push stored them: read as
    /// [`parse`](Self::parse) reads them, and marked as pushed.
    pub fn pushed(request: &PushedRequest) -> Result<Self, Refusal> {
        Self::to_push(
            request
                .params
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
            request.hash,
        )
    }

    /// A request being pushed: `params` read as [`parse`](Self::parse) reads them and marked
    /// as pushed under `hash` (to be validated before it is stored, or as it was stored).
    pub(crate) fn to_push<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
        hash: SecretHash,
    ) -> Result<Self, Refusal> {
        let mut raw = Self::parse(params)?;
        raw.pushed = Some(hash);
        Ok(raw)
    }

    /// The `request_uri` the request names instead of its parameters, if any (and if it is
    /// not itself a pushed request's).
    pub fn request_uri(&self) -> Option<&str> {
        self.pushed
            .is_none()
            .then(|| self.get("request_uri"))
            .flatten()
    }

    /// The parameters, as read (for storing a pushed request).
    #[cfg(any(feature = "jwt", feature = "paseto"))]
    pub(crate) fn params(&self) -> &BTreeMap<String, String> {
        &self.params
    }

    /// The client the request names.
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    /// A parameter as sent.
    fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// Checks the request against `client` (the one [`client_id`](Self::client_id) names;
    /// `None` if there is none).
    pub fn validate(&self, client: Option<&Client>) -> Result<AuthorizationRequest, Refusal> {
        let Some(client) = client.filter(|client| client.id == self.client_id) else {
            return Err(Refusal::Page(OAuthError::new(
                ErrorCode::InvalidRequest,
                "no client has this client_id",
            )));
        };
        // OpenID Connect requires redirect_uri, and exact matching needs one to match.
        let Some(redirect_uri) = self.get("redirect_uri") else {
            return Err(Refusal::Page(OAuthError::invalid_request(
                "redirect_uri is missing",
            )));
        };
        if !client.accepts_redirect(redirect_uri) {
            return Err(Refusal::Page(OAuthError::invalid_request(
                "redirect_uri is not one the client registered",
            )));
        }
        let state = self
            .get("state")
            .filter(|state| state.len() <= MAX_STATE_LEN)
            .map(str::to_owned);
        let refuse = |code: ErrorCode, description: &str| Refusal::Redirect {
            redirect_uri: redirect_uri.to_owned(),
            state: state.clone(),
            error: OAuthError::new(code, description),
        };
        if let Some(name) = &self.repeated {
            return Err(refuse(
                ErrorCode::InvalidRequest,
                &format!("{name} is sent more than once"),
            ));
        }
        if self.get("state").is_some_and(|s| s.len() > MAX_STATE_LEN) {
            return Err(refuse(ErrorCode::InvalidRequest, "state is too long"));
        }
        if self.get("request").is_some() {
            return Err(refuse(
                ErrorCode::RequestNotSupported,
                "request objects are not supported",
            ));
        }
        if self.get("request_uri").is_some() {
            return Err(refuse(
                ErrorCode::RequestUriNotSupported,
                "request_uri names a pushed request (RFC 9126) only",
            ));
        }
        if client.require_par && self.pushed.is_none() {
            return Err(refuse(
                ErrorCode::InvalidRequest,
                "this client pushes its authorization requests first (RFC 9126)",
            ));
        }
        match self.get("response_type") {
            None => {
                return Err(refuse(
                    ErrorCode::InvalidRequest,
                    "response_type is missing",
                ));
            }
            Some("code") => {}
            Some(_) => {
                return Err(refuse(
                    ErrorCode::UnsupportedResponseType,
                    "the only response_type is code",
                ));
            }
        }
        if !client.allows(GrantType::AuthorizationCode) {
            return Err(refuse(
                ErrorCode::UnauthorizedClient,
                "the client may not use the authorization code grant",
            ));
        }
        if self
            .get("response_mode")
            .is_some_and(|mode| mode != "query")
        {
            return Err(refuse(
                ErrorCode::InvalidRequest,
                "the only response_mode is query",
            ));
        }
        let code_challenge = match (
            self.get("code_challenge"),
            self.get("code_challenge_method"),
        ) {
            (Some(challenge), method) => Some(
                CodeChallenge::parse(challenge, method)
                    .map_err(|error| refuse(ErrorCode::InvalidRequest, &error.to_string()))?,
            ),
            (None, Some(_)) => {
                return Err(refuse(
                    ErrorCode::InvalidRequest,
                    "code_challenge_method without code_challenge",
                ));
            }
            (None, None) if client.is_public() => {
                return Err(refuse(
                    ErrorCode::InvalidRequest,
                    "a public client must send a PKCE code_challenge (S256)",
                ));
            }
            (None, None) => None,
        };
        let scope = match self.get("scope") {
            None => return Err(refuse(ErrorCode::InvalidScope, "scope is missing")),
            Some(scope) => ScopeSet::parse(scope)
                .map_err(|_| refuse(ErrorCode::InvalidScope, "scope is malformed"))?,
        };
        let nonce = match self.get("nonce") {
            Some(nonce) if nonce.len() > MAX_NONCE_LEN => {
                return Err(refuse(ErrorCode::InvalidRequest, "nonce is too long"));
            }
            nonce => nonce.map(str::to_owned),
        };
        let prompt = match self.get("prompt") {
            None => Prompt::default(),
            Some(prompt) => {
                parse_prompt(prompt).map_err(|why| refuse(ErrorCode::InvalidRequest, why))?
            }
        };
        let max_age = match self.get("max_age") {
            None => None,
            Some(age) => Some(
                age.parse::<u32>()
                    .ok()
                    .filter(|_| age.bytes().all(|b| b.is_ascii_digit()))
                    .map(u64::from)
                    .ok_or_else(|| {
                        refuse(
                            ErrorCode::InvalidRequest,
                            "max_age must be a whole number of seconds",
                        )
                    })?,
            ),
        };
        let login_hint = match self.get("login_hint") {
            Some(hint) if hint.len() > MAX_LOGIN_HINT_LEN => {
                return Err(refuse(ErrorCode::InvalidRequest, "login_hint is too long"));
            }
            hint => hint.map(str::to_owned),
        };
        Ok(AuthorizationRequest {
            client_id: client.id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            scope,
            state,
            nonce,
            code_challenge,
            prompt,
            max_age,
            login_hint,
            pushed: self.pushed,
        })
    }
}

fn parse_prompt(prompt: &str) -> Result<Prompt, &'static str> {
    let mut parsed = Prompt::default();
    for value in prompt.split(' ').filter(|value| !value.is_empty()) {
        match value {
            "none" => parsed.none = true,
            "login" => parsed.login = true,
            "consent" => parsed.consent = true,
            _ => return Err("prompt takes none, login and consent only"),
        }
    }
    if parsed.none && (parsed.login || parsed.consent) {
        return Err("prompt=none goes with no other value");
    }
    Ok(parsed)
}

/// The address an answer is sent to: `redirect_uri` with `params` added to its query, and the
/// issuer as `iss` (RFC 9207), whatever query the URI had kept.
pub fn redirect_location(redirect_uri: &str, params: &[(&str, &str)], issuer: &str) -> String {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        // Only ever called with a URI the client registered, which parses.
        return redirect_uri.to_owned();
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        query.append_pair("iss", issuer);
    }
    url.into()
}

/// Where a refusal sent to the client goes: `error`, `error_description`, `state` and `iss`.
pub fn error_location(
    redirect_uri: &str,
    state: Option<&str>,
    error: &OAuthError,
    issuer: &str,
) -> String {
    let mut params = vec![
        ("error", error.code.as_str()),
        ("error_description", error.description.as_str()),
    ];
    if let Some(state) = state {
        params.push(("state", state));
    }
    redirect_location(redirect_uri, &params, issuer)
}

#[cfg(test)]
mod tests;
