#![allow(clippy::unwrap_used)]

use std::time::UNIX_EPOCH;

use super::*;
use crate::oauth::{ClientAuthMethod, NewClient};

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "https://app.example/callback";

fn client(method: ClientAuthMethod) -> Client {
    NewClient {
        name: "App".into(),
        auth_method: method,
        redirect_uris: vec![REDIRECT.into(), "http://127.0.0.1/cb".into()],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: ScopeSet::parse("openid email").unwrap(),
        first_party: false,
        audience: None,
        id_token_alg: None,
        post_logout_redirect_uris: Vec::new(),
        require_par: false,
        jwks: None,
        jwks_uri: None,
    }
    .register(UNIX_EPOCH)
    .unwrap()
    .client
}

/// A good request from `client` with `changes` applied: `(name, Some(value))` sets or
/// replaces a parameter, `(name, None)` removes it.
fn request(client: &Client, changes: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = [
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid email"),
        ("state", "s-1"),
        ("nonce", "n-1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
    .collect();
    for (name, value) in changes {
        params.retain(|(n, _)| n != name);
        if let Some(value) = value {
            params.push(((*name).to_owned(), (*value).to_owned()));
        }
    }
    params
}

/// Changes to a good request, as [`request`] takes them.
type Changes<'a> = Vec<(&'a str, Option<&'a str>)>;

fn check(client: &Client, params: &[(String, String)]) -> Result<AuthorizationRequest, Refusal> {
    let raw = RawRequest::parse(params.iter().map(|(n, v)| (n.as_str(), v.as_str())))?;
    raw.validate(Some(client))
}

fn redirected(result: Result<AuthorizationRequest, Refusal>) -> (ErrorCode, Option<String>) {
    match result {
        Err(Refusal::Redirect {
            redirect_uri,
            state,
            error,
        }) => {
            assert_eq!(redirect_uri, REDIRECT);
            (error.code, state)
        }
        other => panic!("expected a redirected refusal, got {other:?}"),
    }
}

fn shown(result: Result<AuthorizationRequest, Refusal>) -> ErrorCode {
    match result {
        Err(Refusal::Page(error)) => error.code,
        other => panic!("expected a page, got {other:?}"),
    }
}

#[test]
fn a_good_request_reads_every_parameter() {
    let client = client(ClientAuthMethod::None);
    let params = request(
        &client,
        &[
            ("prompt", Some("login consent")),
            ("max_age", Some("300")),
            ("login_hint", Some("ada@example.com")),
        ],
    );
    let request = check(&client, &params).unwrap();
    assert_eq!(request.client_id, client.id);
    assert_eq!(request.redirect_uri, REDIRECT);
    assert_eq!(request.scope, ScopeSet::parse("email openid").unwrap());
    assert_eq!(request.state.as_deref(), Some("s-1"));
    assert_eq!(request.nonce.as_deref(), Some("n-1"));
    assert_eq!(request.code_challenge.unwrap().as_str(), CHALLENGE);
    assert_eq!(
        request.prompt,
        Prompt {
            none: false,
            login: true,
            consent: true
        }
    );
    assert_eq!(request.max_age, Some(300));
    assert_eq!(request.login_hint.as_deref(), Some("ada@example.com"));
}

#[test]
fn nothing_is_sent_to_a_redirect_uri_not_proven_to_be_the_clients() {
    let client = client(ClientAuthMethod::ClientSecretBasic);
    for changes in [
        vec![("redirect_uri", None)],
        vec![("redirect_uri", Some("https://evil.example/callback"))],
        vec![("redirect_uri", Some("https://app.example/callback/"))],
        vec![("redirect_uri", Some("https://app.example/callback?x=1"))],
    ] {
        assert_eq!(
            shown(check(&client, &request(&client, &changes))),
            ErrorCode::InvalidRequest,
            "{changes:?}"
        );
    }
    // Another client, or none: a page too.
    let other = self::client(ClientAuthMethod::None);
    let params = request(&client, &[]);
    let raw = RawRequest::parse(params.iter().map(|(n, v)| (n.as_str(), v.as_str()))).unwrap();
    assert!(matches!(raw.validate(Some(&other)), Err(Refusal::Page(_))));
    assert!(matches!(raw.validate(None), Err(Refusal::Page(_))));
    // No client_id, a malformed one, or client_id and redirect_uri sent twice.
    for params in [
        request(&client, &[("client_id", None)]),
        request(&client, &[("client_id", Some("not an id!"))]),
        [
            request(&client, &[]),
            vec![("client_id".to_owned(), "again".to_owned())],
        ]
        .concat(),
        [
            request(&client, &[]),
            vec![("redirect_uri".to_owned(), REDIRECT.to_owned())],
        ]
        .concat(),
    ] {
        assert!(
            matches!(
                RawRequest::parse(params.iter().map(|(n, v)| (n.as_str(), v.as_str()))),
                Err(Refusal::Page(_))
            ),
            "{params:?}"
        );
    }
}

#[test]
fn a_loopback_redirect_uri_may_name_any_port() {
    let client = client(ClientAuthMethod::None);
    let params = request(
        &client,
        &[("redirect_uri", Some("http://127.0.0.1:61234/cb"))],
    );
    assert_eq!(
        check(&client, &params).unwrap().redirect_uri,
        "http://127.0.0.1:61234/cb"
    );
}

#[test]
fn refusals_once_the_redirect_uri_is_proven_go_back_with_the_state() {
    let public = client(ClientAuthMethod::None);
    let long_nonce = "n".repeat(MAX_NONCE_LEN + 1);
    let long_hint = "h".repeat(MAX_LOGIN_HINT_LEN + 1);
    let cases: Vec<(Changes, ErrorCode)> = vec![
        (vec![("response_type", None)], ErrorCode::InvalidRequest),
        (
            vec![("response_type", Some("token"))],
            ErrorCode::UnsupportedResponseType,
        ),
        (
            vec![("response_type", Some("code id_token"))],
            ErrorCode::UnsupportedResponseType,
        ),
        (vec![("scope", None)], ErrorCode::InvalidScope),
        (vec![("scope", Some("bad\"scope"))], ErrorCode::InvalidScope),
        // PKCE: a public client must send S256; plain and a bare method are refused.
        (
            vec![("code_challenge", None), ("code_challenge_method", None)],
            ErrorCode::InvalidRequest,
        ),
        (
            vec![("code_challenge_method", Some("plain"))],
            ErrorCode::InvalidRequest,
        ),
        (
            vec![("code_challenge_method", None)],
            ErrorCode::InvalidRequest,
        ),
        (vec![("code_challenge", None)], ErrorCode::InvalidRequest),
        (
            vec![("code_challenge", Some("short"))],
            ErrorCode::InvalidRequest,
        ),
        (
            vec![("prompt", Some("none login"))],
            ErrorCode::InvalidRequest,
        ),
        (
            vec![("prompt", Some("select_account"))],
            ErrorCode::InvalidRequest,
        ),
        (vec![("max_age", Some("-1"))], ErrorCode::InvalidRequest),
        (vec![("max_age", Some("+5"))], ErrorCode::InvalidRequest),
        (
            vec![("max_age", Some("99999999999"))],
            ErrorCode::InvalidRequest,
        ),
        (
            vec![("response_mode", Some("fragment"))],
            ErrorCode::InvalidRequest,
        ),
        (
            vec![("request", Some("eyJ..."))],
            ErrorCode::RequestNotSupported,
        ),
        (
            vec![("request_uri", Some("urn:x"))],
            ErrorCode::RequestUriNotSupported,
        ),
        (
            vec![("nonce", Some(&long_nonce))],
            ErrorCode::InvalidRequest,
        ),
        (
            vec![("login_hint", Some(&long_hint))],
            ErrorCode::InvalidRequest,
        ),
    ];
    for (changes, code) in cases {
        let (got, state) = redirected(check(&public, &request(&public, &changes)));
        assert_eq!(got, code, "{changes:?}");
        assert_eq!(state.as_deref(), Some("s-1"), "{changes:?}");
    }
    // A parameter sent twice, and a state too long to send back (so it is not).
    let twice = [
        request(&public, &[]),
        vec![("scope".to_owned(), "openid".to_owned())],
    ]
    .concat();
    assert_eq!(
        redirected(check(&public, &twice)).0,
        ErrorCode::InvalidRequest
    );
    let long_state = "s".repeat(MAX_STATE_LEN + 1);
    let (code, state) = redirected(check(
        &public,
        &request(&public, &[("state", Some(&long_state))]),
    ));
    assert_eq!((code, state), (ErrorCode::InvalidRequest, None));
}

#[test]
fn a_confidential_client_may_leave_pkce_out_but_never_send_a_method_alone() {
    let confidential = client(ClientAuthMethod::ClientSecretBasic);
    let without = request(
        &confidential,
        &[("code_challenge", None), ("code_challenge_method", None)],
    );
    assert_eq!(check(&confidential, &without).unwrap().code_challenge, None);
    let method_alone = request(&confidential, &[("code_challenge", None)]);
    assert_eq!(
        redirected(check(&confidential, &method_alone)).0,
        ErrorCode::InvalidRequest
    );
}

#[test]
fn empty_parameters_count_as_absent() {
    let client = client(ClientAuthMethod::None);
    let params = request(&client, &[("state", Some("")), ("prompt", Some(""))]);
    let request = check(&client, &params).unwrap();
    assert_eq!(request.state, None);
    assert_eq!(request.prompt, Prompt::default());
}

#[test]
fn answers_keep_the_registered_query_and_carry_the_issuer() {
    let location = redirect_location(
        "https://app.example/cb?tenant=a",
        &[("code", "c-1"), ("state", "a b&c")],
        "https://auth.example",
    );
    assert_eq!(
        location,
        "https://app.example/cb?tenant=a&code=c-1&state=a+b%26c&iss=https%3A%2F%2Fauth.example"
    );
    let error = OAuthError::new(ErrorCode::AccessDenied, "the user said no");
    assert_eq!(
        error_location("com.example.app:/cb", None, &error, "https://auth.example"),
        "com.example.app:/cb?error=access_denied&error_description=the+user+said+no&iss=https%3A%2F%2Fauth.example"
    );
}
