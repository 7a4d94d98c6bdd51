//! The errors of the OAuth protocol (RFC 6749 sections 4.1.2.1 and 5.2, OpenID Connect Core
//! section 3.1.2.6), as the provider answers them.

use std::fmt;

/// An OAuth error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// A parameter is missing, repeated, malformed or not supported.
    InvalidRequest,
    /// The client authentication failed (token endpoint, `401`).
    InvalidClient,
    /// The code or refresh token is invalid, expired, spent, or another client's; or the
    /// `redirect_uri` or `code_verifier` does not match.
    InvalidGrant,
    /// The client may not use this grant or response type.
    UnauthorizedClient,
    /// The grant type is not one this server supports.
    UnsupportedGrantType,
    /// The response type is not `code`.
    UnsupportedResponseType,
    /// The scope is malformed, or none could be granted.
    InvalidScope,
    /// The user said no.
    AccessDenied,
    /// `prompt=none` and the user must sign in.
    LoginRequired,
    /// `prompt=none` and the user must consent.
    ConsentRequired,
    /// `prompt=none` and the user must do something else on a page.
    InteractionRequired,
    /// A `request` object was sent; none is supported.
    RequestNotSupported,
    /// A `request_uri` that is not a pushed request's was sent (a client's own URL is not
    /// fetched).
    RequestUriNotSupported,
    /// A pushed request's `request_uri` that is unknown, expired, used, or another client's.
    InvalidRequestUri,
    /// The server failed; try again.
    ServerError,
    /// The server cannot answer now; try again later.
    TemporarilyUnavailable,
    /// A token revocation of a kind of token this server cannot revoke (RFC 7009 section
    /// 2.2.1).
    UnsupportedTokenType,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [Self; 17] = [
        Self::InvalidRequest,
        Self::InvalidClient,
        Self::InvalidGrant,
        Self::UnauthorizedClient,
        Self::UnsupportedGrantType,
        Self::UnsupportedResponseType,
        Self::InvalidScope,
        Self::AccessDenied,
        Self::LoginRequired,
        Self::ConsentRequired,
        Self::InteractionRequired,
        Self::RequestNotSupported,
        Self::RequestUriNotSupported,
        Self::InvalidRequestUri,
        Self::ServerError,
        Self::TemporarilyUnavailable,
        Self::UnsupportedTokenType,
    ];

    /// The code as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::UnsupportedTokenType => "unsupported_token_type",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error: its code and a description for the developer reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The code.
    pub code: ErrorCode,
    /// What went wrong, in the characters RFC 6749 allows an `error_description` (printable
    /// ASCII but `"` and `\`): anything else is replaced by `?`.
    pub description: String,
}

impl OAuthError {
    /// `code`, described by `description`.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        let description = description
            .into()
            .chars()
            .take(512)
            .map(|c| match c {
                ' '..='~' if c != '"' && c != '\\' => c,
                _ => '?',
            })
            .collect();
        Self { code, description }
    }

    /// `invalid_request`, described by `description`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl std::error::Error for OAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_once() {
        // Exhaustive: a new code fails to compile here until it has a place in ALL.
        fn place(code: ErrorCode) -> usize {
            match code {
                ErrorCode::InvalidRequest => 0,
                ErrorCode::InvalidClient => 1,
                ErrorCode::InvalidGrant => 2,
                ErrorCode::UnauthorizedClient => 3,
                ErrorCode::UnsupportedGrantType => 4,
                ErrorCode::UnsupportedResponseType => 5,
                ErrorCode::InvalidScope => 6,
                ErrorCode::AccessDenied => 7,
                ErrorCode::LoginRequired => 8,
                ErrorCode::ConsentRequired => 9,
                ErrorCode::InteractionRequired => 10,
                ErrorCode::RequestNotSupported => 11,
                ErrorCode::RequestUriNotSupported => 12,
                ErrorCode::InvalidRequestUri => 13,
                ErrorCode::ServerError => 14,
                ErrorCode::TemporarilyUnavailable => 15,
                ErrorCode::UnsupportedTokenType => 16,
            }
        }
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::ALL[place(code)], code);
        }
        let names: std::collections::HashSet<&str> =
            ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn descriptions_keep_to_the_characters_the_rfc_allows() {
        let error = OAuthError::invalid_request("a \"quoted\" back\\slash é\n");
        assert_eq!(error.description, "a ?quoted? back?slash ??");
        assert_eq!(error.code.as_str(), "invalid_request");
        let long = OAuthError::invalid_request("x".repeat(2000));
        assert_eq!(long.description.len(), 512);
    }
}
