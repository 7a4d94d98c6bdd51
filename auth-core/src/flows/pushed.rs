//! Pushed authorization requests (RFC 9126, see [`crate::oauth::par`]): a client's request
//! checked and kept, and read back when the browser arrives with its `request_uri`.

use std::collections::BTreeMap;

use super::Authenticator;
use super::oauth::server_error;
use crate::error::Result;
use crate::oauth::par::{
    MAX_PUSHED_LEN, NOT_PUSHED, PUSHED_REQUEST_TTL, new_request_uri, reference_of,
};
use crate::oauth::{Client, ErrorCode, OAuthError, PushedRequest, RawRequest, Refusal};

/// What a push answers (RFC 9126 section 2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedAuthorization {
    /// What the browser is sent to the authorization endpoint with, beside `client_id`.
    pub request_uri: String,
    /// How many seconds it may be used for.
    pub expires_in: u64,
}

impl Authenticator {
    /// Keeps `client`'s authorization request (authenticated already), its parameters
    /// `params` (the form, without the client's credentials), once it passes every check
    /// the authorization endpoint makes of the client and its redirect URI; the error for the
    /// client otherwise (RFC 9126 section 2.3).
    pub async fn push_authorization_request(
        &self,
        client: &Client,
        params: &BTreeMap<String, String>,
    ) -> std::result::Result<PushedAuthorization, OAuthError> {
        if let Some(name) = NOT_PUSHED
            .iter()
            .find(|name| !name.starts_with("client_") && params.contains_key(**name))
        {
            let code = if *name == "request" {
                ErrorCode::RequestNotSupported
            } else {
                ErrorCode::InvalidRequest
            };
            return Err(OAuthError::new(
                code,
                format!("a pushed request carries its parameters, not {name}"),
            ));
        }
        if params
            .get("client_id")
            .is_some_and(|id| id != client.id.as_str())
        {
            return Err(OAuthError::invalid_request(
                "client_id differs from the authenticated client",
            ));
        }
        let size: usize = params
            .iter()
            .filter(|(name, _)| !NOT_PUSHED.contains(&name.as_str()))
            .map(|(name, value)| name.len() + value.len())
            .sum();
        if size > MAX_PUSHED_LEN {
            return Err(OAuthError::invalid_request(format!(
                "a pushed request holds at most {MAX_PUSHED_LEN} bytes of parameters"
            )));
        }
        let (hash, request_uri) = new_request_uri();
        let pairs = params
            .iter()
            .filter(|(name, _)| !NOT_PUSHED.contains(&name.as_str()) && *name != "client_id")
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .chain([("client_id", client.id.as_str())]);
        let raw = RawRequest::to_push(pairs, hash).map_err(|refusal| refusal.error().clone())?;
        raw.validate(Some(client))
            .map_err(|refusal| refusal.error().clone())?;
        let now = self.now();
        self.inner
            .stores
            .grants
            .push_request(PushedRequest {
                hash,
                client_id: client.id.clone(),
                params: raw.params().clone(),
                expires_at: now + PUSHED_REQUEST_TTL,
            })
            .await
            .map_err(|error| server_error(&error))?;
        Ok(PushedAuthorization {
            request_uri,
            expires_in: PUSHED_REQUEST_TTL.as_secs(),
        })
    }

    /// The request the authorization endpoint is to decide: `raw` itself, or, when it names a
    /// pushed request by `request_uri`, that request (its other parameters, bar `client_id`,
    /// are ignored: RFC 9126 section 4). A `request_uri` that is unknown, expired, used or
    /// pushed by another client than `client_id` names is refused on a page.
    pub async fn authorization_request(
        &self,
        raw: RawRequest,
    ) -> Result<std::result::Result<RawRequest, Refusal>> {
        let Some(request_uri) = raw.request_uri() else {
            return Ok(Ok(raw));
        };
        let unusable = || {
            Ok(Err(Refusal::Page(OAuthError::new(
                ErrorCode::InvalidRequestUri,
                "request_uri is unknown, expired or used; push the request again",
            ))))
        };
        let Some(hash) = reference_of(request_uri) else {
            return unusable();
        };
        let Some(pushed) = self
            .inner
            .stores
            .grants
            .pushed_request(&hash, self.now())
            .await?
        else {
            return unusable();
        };
        if pushed.client_id != *raw.client_id() {
            return Ok(Err(Refusal::Page(OAuthError::new(
                ErrorCode::InvalidRequestUri,
                "request_uri was pushed by another client",
            ))));
        }
        Ok(RawRequest::pushed(&pushed))
    }
}
