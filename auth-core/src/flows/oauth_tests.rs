//! The provider's flows end to end over the memory stores: authorization, consent, the code
//! exchange with its RFC 9700 checks, ID tokens, refresh bound to its client, userinfo, what
//! ends a grant, and the client's own tokens, introspection and revocation.

// Helpers panic on failure, like the tests that call them.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use sha2::Digest as _;

use super::*;
use crate::authz::ScopeSet;
use crate::clock::ManualClock;
use crate::error::TokenRejection;
use crate::event::{Actor, MemoryEventSink};
use crate::oauth::{
    AuthorizationRequest, Client, ClientAuthMethod, ErrorCode, GrantType, NewClient, OAuthError,
    Prompt, RawRequest,
};
use crate::store::User;
use crate::testing::{self, AUDIENCE, ISSUER};
use crate::token::{Algorithm, Claims, KeySet, TokenConfig, TokenKind, TokenVerifier};

const PASSWORD: &str = "correct horse battery staple";
const REDIRECT: &str = "https://app.example/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

struct World {
    auth: Authenticator,
    events: MemoryEventSink,
    clock: Arc<ManualClock>,
    keys: Arc<KeySet>,
}

fn world() -> World {
    let events = MemoryEventSink::new();
    let clock = testing::clock();
    let keys = KeySet::new(testing::key(Algorithm::EdDsa))
        .unwrap()
        .with_verification_key(testing::rsa_key())
        .unwrap()
        .with_verification_key(testing::key(Algorithm::Es256))
        .unwrap();
    let auth = Authenticator::builder(keys.clone(), testing::authenticator_config())
        .stores(Stores::memory_with_events(Arc::new(events.clone())))
        .clock(clock.clone())
        .build()
        .unwrap();
    World {
        auth,
        events,
        clock,
        keys: Arc::new(keys),
    }
}

/// The query parameters of a redirect.
fn query(location: &str) -> HashMap<String, String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

impl World {
    async fn client(&self, method: ClientAuthMethod, first_party: bool) -> Client {
        self.auth
            .register_client(
                NewClient {
                    name: "Shop".into(),
                    auth_method: method,
                    redirect_uris: vec![REDIRECT.into()],
                    grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
                    scopes: ScopeSet::parse("openid email profile offline_access orders:read")
                        .unwrap(),
                    first_party,
                    audience: None,
                    id_token_alg: None,
                    post_logout_redirect_uris: Vec::new(),
                    require_par: false,
                    jwks: None,
                    jwks_uri: None,
                },
                &Actor::operator("ops"),
            )
            .await
            .unwrap()
            .client
    }

    async fn user(&self, email: &str) -> (User, Principal) {
        let user = self
            .auth
            .register(email, &SecretString::from(PASSWORD))
            .await
            .unwrap();
        let tokens = self.own_tokens(email).await;
        let principal = self
            .auth
            .authenticate_session(tokens.session_secret.unwrap().expose_secret())
            .await
            .unwrap();
        (user, principal)
    }

    async fn decide(
        &self,
        request: &AuthorizationRequest,
        client: &Client,
        principal: Option<&Principal>,
        answer: ConsentAnswer,
    ) -> Authorization {
        self.auth
            .authorize(request, client, principal, None, &answer)
            .await
            .unwrap()
    }

    /// `code` exchanged by `client` as its request asked: the registered redirect URI and
    /// the verifier of the challenge.
    async fn exchange(
        &self,
        client: &Client,
        code: &str,
    ) -> std::result::Result<ClientTokens, OAuthError> {
        self.auth
            .exchange_code(client, code, Some(REDIRECT), Some(VERIFIER), None)
            .await
    }

    /// The decision on `request` for `principal` coming back from a sign-in with `marker`.
    async fn resumed(
        &self,
        request: &AuthorizationRequest,
        client: &Client,
        principal: &Principal,
        marker: &str,
    ) -> Authorization {
        self.auth
            .authorize(
                request,
                client,
                Some(principal),
                Some(marker),
                &ConsentAnswer::NotAsked,
            )
            .await
            .unwrap()
    }

    /// A code for `principal`, consenting if asked.
    async fn code(
        &self,
        request: &AuthorizationRequest,
        client: &Client,
        principal: &Principal,
    ) -> String {
        let mut answer = ConsentAnswer::NotAsked;
        loop {
            match self.decide(request, client, Some(principal), answer).await {
                Authorization::Redirect(location) => {
                    let params = query(&location);
                    assert_eq!(params["iss"], ISSUER);
                    assert_eq!(params.get("state"), request.state.as_ref());
                    return params["code"].clone();
                }
                Authorization::Consent { scope, .. } => answer = ConsentAnswer::Given(scope),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// The grant `tokens` came from is over: its access token refused everywhere, its refresh
    /// token too.
    async fn assert_ended(&self, client: &Client, tokens: ClientTokens) {
        let access = tokens.access_token.expose_secret();
        assert!(self.auth.authenticate(access).await.is_err());
        assert!(self.auth.userinfo(access).await.is_err());
        let refresh = tokens.refresh_token.unwrap();
        let refused = self
            .auth
            .refresh_client(client, refresh.expose_secret(), None, None)
            .await
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidGrant);
    }

    fn id_claims(
        &self,
        token: &SecretString,
        client: &Client,
    ) -> Claims<HashMap<String, serde_json::Value>> {
        TokenVerifier::new(
            self.keys.clone(),
            TokenConfig::new(ISSUER, client.id.as_str()),
            self.clock.clone(),
        )
        .unwrap()
        .verify(token.expose_secret(), TokenKind::IdToken)
        .unwrap()
    }
}

fn request(client: &Client, changes: &[(&str, Option<&str>)]) -> AuthorizationRequest {
    let mut params = form(client);
    for (name, value) in changes {
        params.remove(*name);
        if let Some(value) = value {
            params.insert((*name).to_owned(), (*value).to_owned());
        }
    }
    RawRequest::parse(params.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        .unwrap()
        .validate(Some(client))
        .unwrap()
}

/// The parameters of a request for every scope `client` may have, as a form carries them.
fn form(client: &Client) -> std::collections::BTreeMap<String, String> {
    [
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid email offline_access orders:read"),
        ("state", "state-1"),
        ("nonce", "nonce-1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
    .collect()
}

#[tokio::test]
async fn a_code_becomes_tokens_once_with_an_id_token_that_says_who_and_how() {
    let w = world();
    let client = w.client(ClientAuthMethod::ClientSecretBasic, false).await;
    let (user, principal) = w.user("ada@example.com").await;
    let request = request(&client, &[]);

    // A third party: consent first, then a code.
    let Authorization::Consent { scope, .. } = w
        .decide(&request, &client, Some(&principal), ConsentAnswer::NotAsked)
        .await
    else {
        panic!("consent is asked of a third party");
    };
    // A role the user does not hold is not granted; the identity scopes are.
    assert_eq!(
        scope,
        ScopeSet::parse("email offline_access openid").unwrap()
    );
    let code = w.code(&request, &client, &principal).await;

    let tokens = w.exchange(&client, &code).await.unwrap();
    assert_eq!(tokens.scope, scope);
    assert!(tokens.refresh_token.is_some(), "offline_access was granted");

    // The ID token: for this client, with the nonce, how and when the user signed in, and
    // the access token's hash.
    let id = w.id_claims(tokens.id_token.as_ref().unwrap(), &client);
    assert_eq!(id.sub, user.id.to_string());
    assert_eq!(id.iss, ISSUER);
    assert_eq!(id.amr, ["pwd"]);
    assert_eq!(id.auth_time, principal.claims.auth_time);
    assert_eq!(id.custom["nonce"], "nonce-1");
    assert_eq!(id.custom["azp"], client.id.as_str());
    assert_eq!(id.custom["acr"], "1");
    assert_eq!(id.custom["email"], "ada@example.com");
    assert_eq!(id.custom["email_verified"], false);
    let digest = sha2::Sha256::digest(tokens.access_token.expose_secret().as_bytes());
    assert_eq!(
        id.custom["at_hash"],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
    );
    let header =
        jsonwebtoken::decode_header(tokens.id_token.as_ref().unwrap().expose_secret()).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);

    // The access token: at+jwt for the resource servers, naming the client; a bearer for
    // userinfo. The ID token is neither.
    // Never for the account API: a client acts at resource servers, not on the account.
    assert!(matches!(
        w.auth
            .authenticate(tokens.access_token.expose_secret())
            .await,
        Err(Error::InvalidToken(TokenRejection::WrongAudience))
    ));
    let resource: Claims = TokenVerifier::new(
        w.keys.clone(),
        TokenConfig::new(ISSUER, AUDIENCE),
        w.clock.clone(),
    )
    .unwrap()
    .verify_access(tokens.access_token.expose_secret())
    .unwrap();
    assert_eq!(
        resource.aud.as_slice(),
        [AUDIENCE.to_owned(), ISSUER.to_owned()]
    );
    assert_eq!(resource.client_id.as_deref(), Some(client.id.as_str()));
    let info = w
        .auth
        .userinfo(tokens.access_token.expose_secret())
        .await
        .unwrap();
    assert_eq!(info.sub, user.id.to_string());
    assert_eq!(info.claims.email.as_deref(), Some("ada@example.com"));
    for bearer in [tokens.id_token.as_ref().unwrap().expose_secret()] {
        assert!(matches!(
            w.auth.authenticate(bearer).await,
            Err(Error::InvalidToken(TokenRejection::WrongType))
        ));
        assert!(matches!(
            w.auth.userinfo(bearer).await,
            Err(Error::InvalidToken(TokenRejection::WrongType))
        ));
    }

    // Used once: a second exchange fails and ends what the first one opened.
    let again = w.exchange(&client, &code).await.unwrap_err();
    assert_eq!(again.code, ErrorCode::InvalidGrant);
    assert!(matches!(
        w.auth.userinfo(tokens.access_token.expose_secret()).await,
        Err(Error::InvalidToken(TokenRejection::Revoked))
    ));
    let refused = w
        .auth
        .refresh_client(
            &client,
            tokens.refresh_token.as_ref().unwrap().expose_secret(),
            None,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidGrant);
    let names = w.events.names();
    for name in ["consent_granted", "client_authorized", "code_replayed"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
}

#[tokio::test]
async fn a_code_is_bound_to_its_client_redirect_uri_verifier_and_lifetime() {
    let w = world();
    let client = w.client(ClientAuthMethod::ClientSecretBasic, true).await;
    let other = w.client(ClientAuthMethod::ClientSecretBasic, true).await;
    let (_, principal) = w.user("ada@example.com").await;
    let with_pkce = request(&client, &[]);
    let without_pkce = request(
        &client,
        &[("code_challenge", None), ("code_challenge_method", None)],
    );
    // (the request, the client presenting, redirect_uri, code_verifier, what it says)
    let cases: Vec<(&AuthorizationRequest, &Client, Option<&str>, Option<&str>)> = vec![
        (&with_pkce, &other, Some(REDIRECT), Some(VERIFIER)),
        (&with_pkce, &client, None, Some(VERIFIER)),
        (
            &with_pkce,
            &client,
            Some("https://app.example/other"),
            Some(VERIFIER),
        ),
        // PKCE downgrade, both ways (RFC 9700 section 4.8).
        (&with_pkce, &client, Some(REDIRECT), None),
        (&without_pkce, &client, Some(REDIRECT), Some(VERIFIER)),
        (
            &with_pkce,
            &client,
            Some(REDIRECT),
            Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl"),
        ),
    ];
    for (request, presenter, redirect_uri, verifier) in cases {
        let code = w.code(request, &client, &principal).await;
        let refused = w
            .auth
            .exchange_code(presenter, &code, redirect_uri, verifier, None)
            .await
            .unwrap_err();
        assert_eq!(
            refused.code,
            ErrorCode::InvalidGrant,
            "{redirect_uri:?} {verifier:?}"
        );
    }
    // A confidential client without PKCE, exactly right: tokens.
    let code = w.code(&without_pkce, &client, &principal).await;
    w.auth
        .exchange_code(&client, &code, Some(REDIRECT), None, None)
        .await
        .unwrap();
    // A minute later a code is gone; garbage is no code.
    let code = w.code(&with_pkce, &client, &principal).await;
    w.clock.advance(Duration::from_secs(61));
    for code in [code.as_str(), "not-a-code", ""] {
        let refused = w
            .auth
            .exchange_code(&client, code, Some(REDIRECT), Some(VERIFIER), None)
            .await
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidGrant);
    }
}

#[tokio::test]
async fn refresh_tokens_belong_to_their_client_and_rotate_with_reuse_detection() {
    let w = world();
    let client = w.client(ClientAuthMethod::ClientSecretBasic, true).await;
    let other = w.client(ClientAuthMethod::ClientSecretBasic, true).await;
    let (_, principal) = w.user("ada@example.com").await;
    let code = w.code(&request(&client, &[]), &client, &principal).await;
    let tokens = w.exchange(&client, &code).await.unwrap();
    let refresh = tokens.refresh_token.unwrap();

    // Another client, and the server's own refresh, are refused without spending it.
    let refused = w
        .auth
        .refresh_client(&other, refresh.expose_secret(), None, None)
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidGrant);
    assert!(w.auth.refresh(refresh.expose_secret(), None).await.is_err());
    // Beyond the grant: invalid_scope, unspent. Within it: a narrower token.
    let wider = ScopeSet::parse("openid admin").unwrap();
    let refused = w
        .auth
        .refresh_client(&client, refresh.expose_secret(), Some(&wider), None)
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidScope);
    let narrower = ScopeSet::parse("email").unwrap();
    let next = w
        .auth
        .refresh_client(&client, refresh.expose_secret(), Some(&narrower), None)
        .await
        .unwrap();
    assert_eq!(next.scope, narrower);
    // Without openid, userinfo is not the token's to call: insufficient scope.
    assert!(matches!(
        w.auth.userinfo(next.access_token.expose_secret()).await,
        Err(Error::InvalidScope(_))
    ));
    assert!(next.id_token.is_none(), "no openid in this token's scope");
    let next_refresh = next.refresh_token.unwrap();

    // The server's own refresh token is refused by the client grant too.
    let login = match w
        .auth
        .login("ada@example.com", &SecretString::from(PASSWORD), None)
        .await
        .unwrap()
    {
        LoginOutcome::Authenticated(tokens) => tokens,
        LoginOutcome::MfaRequired { .. } => panic!("no second factor here"),
    };
    let refused = w
        .auth
        .refresh_client(&client, login.refresh_token.expose_secret(), None, None)
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidGrant);

    // Reuse of the spent token (past the grace period) ends the grant.
    w.clock.advance(Duration::from_secs(60));
    let reused = w
        .auth
        .refresh_client(&client, refresh.expose_secret(), None, None)
        .await
        .unwrap_err();
    assert_eq!(reused.code, ErrorCode::InvalidGrant);
    assert!(
        w.auth
            .refresh_client(&client, next_refresh.expose_secret(), None, None)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn prompt_none_never_shows_a_page_and_consent_is_remembered() {
    let w = world();
    let client = w.client(ClientAuthMethod::ClientSecretBasic, false).await;
    let (_, principal) = w.user("ada@example.com").await;
    let silent = request(&client, &[("prompt", Some("none"))]);
    let error_of = |decision: Authorization| match decision {
        Authorization::Redirect(location) => query(&location)["error"].clone(),
        other => panic!("expected a redirect, got {other:?}"),
    };
    assert_eq!(
        error_of(
            w.decide(&silent, &client, None, ConsentAnswer::NotAsked)
                .await
        ),
        "login_required"
    );
    assert_eq!(
        error_of(
            w.decide(&silent, &client, Some(&principal), ConsentAnswer::NotAsked)
                .await
        ),
        "consent_required"
    );
    // Refused consent goes back as access_denied with the state.
    let normal = request(&client, &[]);
    let Authorization::Redirect(location) = w
        .decide(&normal, &client, Some(&principal), ConsentAnswer::Denied)
        .await
    else {
        panic!("a refusal goes back to the client");
    };
    let params = query(&location);
    assert_eq!(
        (params["error"].as_str(), params["state"].as_str()),
        ("access_denied", "state-1")
    );
    // A consent to something other than what would be granted is asked again.
    let shown = ScopeSet::parse("openid").unwrap();
    assert!(matches!(
        w.decide(
            &normal,
            &client,
            Some(&principal),
            ConsentAnswer::Given(shown)
        )
        .await,
        Authorization::Consent { .. }
    ));
    // Once given, the same request, even silent, needs no page; prompt=consent asks again.
    w.code(&normal, &client, &principal).await;
    assert!(matches!(
        w.decide(&silent, &client, Some(&principal), ConsentAnswer::NotAsked).await,
        Authorization::Redirect(location) if query(&location).contains_key("code")
    ));
    let ask = request(&client, &[("prompt", Some("consent"))]);
    assert!(matches!(
        w.decide(&ask, &client, Some(&principal), ConsentAnswer::NotAsked)
            .await,
        Authorization::Consent { .. }
    ));
}

#[tokio::test]
async fn prompt_login_and_max_age_ask_for_a_new_sign_in_once() {
    let w = world();
    let client = w.client(ClientAuthMethod::ClientSecretBasic, true).await;
    let (_, principal) = w.user("ada@example.com").await;
    let mut login = request(&client, &[("login_hint", Some("ada@example.com"))]);
    login.prompt = Prompt {
        login: true,
        ..Prompt::default()
    };
    let Authorization::SignIn { login_hint, resume } = w
        .decide(&login, &client, Some(&principal), ConsentAnswer::NotAsked)
        .await
    else {
        panic!("prompt=login signs in again");
    };
    assert_eq!(login_hint.as_deref(), Some("ada@example.com"));
    // Signed in again after it: the request goes through.
    w.clock.advance(Duration::from_secs(1));
    let (_, again) = {
        let LoginOutcome::Authenticated(tokens) = w
            .auth
            .login("ada@example.com", &SecretString::from(PASSWORD), None)
            .await
            .unwrap()
        else {
            panic!()
        };
        let principal = w
            .auth
            .authenticate_session(tokens.session_secret.unwrap().expose_secret())
            .await
            .unwrap();
        ((), principal)
    };
    let decision = w.resumed(&login, &client, &again, &resume).await;
    assert!(
        matches!(decision, Authorization::Redirect(location) if query(&location).contains_key("code"))
    );
    // A marker forged, of another client, or older than its lifetime counts for nothing.
    let other = w.client(ClientAuthMethod::ClientSecretBasic, true).await;
    let Authorization::SignIn { resume: others, .. } = w
        .decide(
            &request(&other, &[("prompt", Some("login"))]),
            &other,
            None,
            ConsentAnswer::NotAsked,
        )
        .await
    else {
        panic!("no session, no code");
    };
    // The same client, another request (another state): its marker is no good here either.
    let mut elsewhere = login.clone();
    elsewhere.state = Some("another-state".into());
    let Authorization::SignIn {
        resume: another_request,
        ..
    } = w
        .decide(&elsewhere, &client, None, ConsentAnswer::NotAsked)
        .await
    else {
        panic!("no session, no code");
    };
    let (seconds, _) = resume.split_once('.').unwrap();
    let forged = [
        format!("{seconds}.AAAA"),
        format!(
            "{}.{}",
            seconds.parse::<u64>().unwrap() - 600,
            resume.split_once('.').unwrap().1
        ),
        others,
        another_request,
        "0.x".to_owned(),
        format!("{}.x", u64::MAX),
        String::new(),
    ];
    for marker in &forged {
        let decision = w.resumed(&login, &client, &again, marker).await;
        assert!(
            matches!(decision, Authorization::SignIn { .. }),
            "{marker:?}"
        );
    }
    w.clock.advance(RESUME_TTL + Duration::from_secs(1));
    let stale = w.resumed(&login, &client, &again, &resume).await;
    assert!(matches!(stale, Authorization::SignIn { .. }));
    // The old session is too old for max_age=0 after a second; the fresh one is not.
    let recent = request(&client, &[("max_age", Some("0"))]);
    assert!(matches!(
        w.decide(&recent, &client, Some(&principal), ConsentAnswer::NotAsked)
            .await,
        Authorization::SignIn { .. }
    ));
}

#[tokio::test]
async fn a_credentials_change_ends_the_grant_and_its_pending_codes() {
    let w = world();
    let client = w.client(ClientAuthMethod::ClientSecretBasic, true).await;
    let (user, principal) = w.user("ada@example.com").await;
    let code = w.code(&request(&client, &[]), &client, &principal).await;
    let tokens = w.exchange(&client, &code).await.unwrap();
    // A code issued before the change is refused after it too.
    let pending = w.code(&request(&client, &[]), &client, &principal).await;
    w.auth.sign_out_everywhere(&user.id).await.unwrap();
    w.assert_ended(&client, tokens).await;
    let refused = w.exchange(&client, &pending).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidGrant);
}

#[tokio::test]
async fn withdrawing_consent_ends_the_clients_sessions_only() {
    let w = world();
    let client = w.client(ClientAuthMethod::ClientSecretBasic, false).await;
    let other = w.client(ClientAuthMethod::ClientSecretBasic, false).await;
    let (user, principal) = w.user("ada@example.com").await;
    let code = w.code(&request(&client, &[]), &client, &principal).await;
    let mine = w.exchange(&client, &code).await.unwrap();
    let code = w.code(&request(&other, &[]), &other, &principal).await;
    let theirs = w.exchange(&other, &code).await.unwrap();
    // A code issued before the withdrawal, not yet exchanged.
    let pending = w.code(&request(&client, &[]), &client, &principal).await;
    let listed: Vec<_> = w
        .auth
        .consents(&user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|(consent, client)| (consent.client_id, client.unwrap().name))
        .collect();
    assert_eq!(listed.len(), 2);
    assert!(
        w.auth
            .withdraw_consent(&user.id, &client.id, None)
            .await
            .unwrap()
    );
    assert!(
        !w.auth
            .withdraw_consent(&user.id, &client.id, None)
            .await
            .unwrap()
    );
    w.assert_ended(&client, mine).await;
    let voided = w.exchange(&client, &pending).await.unwrap_err();
    assert_eq!(voided.code, ErrorCode::InvalidGrant);
    // The other client, and the browser session, go on.
    assert!(
        w.auth
            .userinfo(theirs.access_token.expose_secret())
            .await
            .is_ok()
    );
    let sessions = w.auth.sessions(&principal).await.unwrap();
    assert!(sessions.iter().any(|session| session.current));
    // The next authorization asks again.
    assert!(matches!(
        w.decide(
            &request(&client, &[]),
            &client,
            Some(&principal),
            ConsentAnswer::NotAsked
        )
        .await,
        Authorization::Consent { .. }
    ));
    assert!(w.events.names().contains(&"consent_withdrawn"));
}

#[tokio::test]
async fn a_client_may_name_its_resource_servers_and_its_id_token_algorithm() {
    let w = world();
    let client = w
        .auth
        .register_client(
            NewClient {
                name: "Orders".into(),
                auth_method: ClientAuthMethod::ClientSecretBasic,
                redirect_uris: vec![REDIRECT.into()],
                grant_types: vec![GrantType::AuthorizationCode],
                scopes: ScopeSet::parse("openid email").unwrap(),
                first_party: true,
                audience: Some("https://orders.example".into()),
                id_token_alg: Some("ES256".into()),
                post_logout_redirect_uris: Vec::new(),
                require_par: false,
                jwks: None,
                jwks_uri: None,
            },
            &Actor::operator("ops"),
        )
        .await
        .unwrap()
        .client;
    let (_, principal) = w.user("ada@example.com").await;
    let code = w.code(&request(&client, &[]), &client, &principal).await;
    let tokens = w.exchange(&client, &code).await.unwrap();
    assert!(tokens.refresh_token.is_none(), "the client may not refresh");
    let id_token = tokens.id_token.as_ref().unwrap();
    let header = jsonwebtoken::decode_header(id_token.expose_secret()).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    w.id_claims(id_token, &client);
    // Its access token is for its resource servers and userinfo, not for this server's API.
    let access = tokens.access_token.expose_secret();
    assert!(matches!(
        w.auth.authenticate(access).await,
        Err(Error::InvalidToken(TokenRejection::WrongAudience))
    ));
    assert!(w.auth.userinfo(access).await.is_ok());
    let claims: Claims = TokenVerifier::new(
        w.keys.clone(),
        TokenConfig::new(ISSUER, "https://orders.example"),
        w.clock.clone(),
    )
    .unwrap()
    .verify_access(access)
    .unwrap();
    assert_eq!(
        claims.aud.as_slice(),
        ["https://orders.example".to_owned(), ISSUER.to_owned()]
    );
}

/// A replay that lands while the first exchange is opening its session: the first exchange
/// finds its session's id refused and ends it, so no token of the code survives.
#[cfg(feature = "test-util")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_replayed_while_its_first_exchange_opens_its_session_leaves_nothing_alive() {
    let events = MemoryEventSink::new();
    let mut stores = Stores::memory_with_events(Arc::new(events.clone()));
    let pausing = Arc::new(super::epoch_tests::PausingSessions::new(
        stores.sessions.clone(),
    ));
    stores.sessions = pausing.clone();
    let keys = KeySet::new(testing::key(Algorithm::EdDsa))
        .unwrap()
        .with_verification_key(testing::rsa_key())
        .unwrap();
    let clock = testing::clock();
    let w = World {
        auth: Authenticator::builder(keys.clone(), testing::authenticator_config())
            .stores(stores)
            .clock(clock.clone())
            .build()
            .unwrap(),
        events,
        clock,
        keys: Arc::new(keys),
    };
    let client = w.client(ClientAuthMethod::ClientSecretBasic, true).await;
    let (_, principal) = w.user("ada@example.com").await;
    let code = w.code(&request(&client, &[]), &client, &principal).await;
    pausing.arm();
    let first = {
        let (auth, client, code) = (w.auth.clone(), client.clone(), code.clone());
        tokio::spawn(async move {
            auth.exchange_code(&client, &code, Some(REDIRECT), Some(VERIFIER), None)
                .await
        })
    };
    pausing.reached.notified().await;
    let replay = w.exchange(&client, &code).await.unwrap_err();
    assert_eq!(replay.code, ErrorCode::InvalidGrant);
    pausing.release.notify_one();
    let first = first.await.unwrap().unwrap_err();
    assert_eq!(first.code, ErrorCode::InvalidGrant);
    let sessions = w.auth.sessions(&principal).await.unwrap();
    assert_eq!(sessions.len(), 1, "only the browser's session is left");
    assert!(pausing.created().len() >= 2);
}

impl World {
    /// A service: `client_credentials` alone, with `scopes` and its own `audience`.
    async fn service(&self, scopes: &str, audience: &str) -> Client {
        self.auth
            .register_client(
                NewClient {
                    name: "Billing".into(),
                    auth_method: ClientAuthMethod::ClientSecretBasic,
                    redirect_uris: Vec::new(),
                    grant_types: vec![GrantType::ClientCredentials],
                    scopes: ScopeSet::parse(scopes).unwrap(),
                    first_party: false,
                    audience: Some(audience.to_owned()),
                    id_token_alg: None,
                    post_logout_redirect_uris: Vec::new(),
                    require_par: false,
                    jwks: None,
                    jwks_uri: None,
                },
                &Actor::operator("ops"),
            )
            .await
            .unwrap()
            .client
    }

    /// A grant of `client` to `principal`: its first tokens.
    async fn grant(&self, client: &Client, principal: &Principal) -> ClientTokens {
        let code = self.code(&request(client, &[]), client, principal).await;
        self.exchange(client, &code).await.unwrap()
    }

    /// The account API's own tokens of `email`, from a password login.
    async fn own_tokens(&self, email: &str) -> Tokens {
        let LoginOutcome::Authenticated(tokens) = self
            .auth
            .login(email, &SecretString::from(PASSWORD), None)
            .await
            .unwrap()
        else {
            panic!("no second factor here");
        };
        tokens
    }

    async fn introspect(&self, caller: &Client, token: &SecretString) -> Introspection {
        self.auth
            .introspect(caller, token.expose_secret())
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_service_gets_tokens_for_itself_within_its_scopes() {
    let w = world();
    let api = "https://api.example";
    let service = w.service("orders:read orders:write", api).await;
    let tokens = w.auth.client_credentials(&service, None).unwrap();
    assert!(tokens.refresh_token.is_none() && tokens.id_token.is_none());
    assert_eq!(
        tokens.scope,
        ScopeSet::parse("orders:read orders:write").unwrap()
    );
    let claims: Claims = TokenVerifier::new(
        w.keys.clone(),
        TokenConfig::new(ISSUER, api),
        w.clock.clone(),
    )
    .unwrap()
    .verify_access(tokens.access_token.expose_secret())
    .unwrap();
    assert_eq!(claims.sub, service.id.as_str());
    assert_eq!(claims.client_id.as_deref(), Some(service.id.as_str()));
    assert_eq!(
        (claims.sid, claims.aud.as_slice()),
        (None, &[api.to_owned()][..])
    );

    let narrow = ScopeSet::parse("orders:read").unwrap();
    let tokens = w.auth.client_credentials(&service, Some(&narrow)).unwrap();
    assert_eq!(tokens.scope, narrow);
    for escalation in ["orders:delete", "orders:read openid", "offline_access"] {
        let asked = ScopeSet::parse(escalation).unwrap();
        let refused = w
            .auth
            .client_credentials(&service, Some(&asked))
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidScope, "{escalation}");
    }
    // Never a user's token: not on the account API, not at userinfo.
    let access = tokens.access_token.expose_secret();
    assert!(w.auth.authenticate(access).await.is_err());
    assert!(w.auth.userinfo(access).await.is_err());
    // A client registered for the code grant only may not.
    let web = w.client(ClientAuthMethod::ClientSecretBasic, false).await;
    let refused = w.auth.client_credentials(&web, None).unwrap_err();
    assert_eq!(refused.code, ErrorCode::UnauthorizedClient);
}

#[tokio::test]
async fn introspection_describes_a_token_to_its_audience_and_a_refresh_token_to_its_client() {
    let w = world();
    let client = w.client(ClientAuthMethod::ClientSecretBasic, false).await;
    let neighbour = w.client(ClientAuthMethod::ClientSecretBasic, false).await;
    let elsewhere = w.service("orders:read", "https://api.example").await;
    let (user, principal) = w.user("ada@example.com").await;
    let tokens = w.grant(&client, &principal).await;
    let refresh = tokens.refresh_token.clone().unwrap();

    let seen = w.introspect(&client, &tokens.access_token).await;
    let token = seen.token.clone().unwrap();
    assert!(seen.active);
    assert_eq!(
        (token.token_use, token.token_type, token.client_id.as_str()),
        ("access_token", Some("Bearer"), client.id.as_str())
    );
    assert_eq!(token.sub, user.id.to_string());
    assert_eq!(token.scope, tokens.scope.to_string());
    let json = serde_json::to_value(&seen).unwrap();
    assert_eq!(json["active"], true);
    assert_eq!(json["iss"], ISSUER);
    // Another client sharing the server's audience learns nothing of it, nor a client of
    // another audience; only the client it was issued to of the refresh token.
    assert!(!w.introspect(&neighbour, &tokens.access_token).await.active);
    let seen = w.introspect(&client, &refresh).await;
    assert!(seen.active);
    assert_eq!(seen.token.unwrap().token_use, "refresh_token");
    assert!(!w.introspect(&neighbour, &refresh).await.active);
    assert!(!w.introspect(&elsewhere, &tokens.access_token).await.active);
    // The account API's own tokens are never described; nor is anything malformed.
    let own = w.own_tokens("ada@example.com").await;
    assert!(!w.introspect(&client, &own.access_token).await.active);
    for junk in ["", "x", "a.b.c", &"A".repeat(43)] {
        let seen = w.introspect(&client, &SecretString::from(junk)).await;
        assert_eq!(seen, Introspection::inactive(), "{junk:?}");
        assert_eq!(
            serde_json::to_value(&seen).unwrap(),
            serde_json::json!({"active": false})
        );
    }
    // A rotated refresh token is spent; its successor is current.
    let rotated = w
        .auth
        .refresh_client(&client, refresh.expose_secret(), None, None)
        .await
        .unwrap();
    assert!(!w.introspect(&client, &refresh).await.active);
    let successor = rotated.refresh_token.clone().unwrap();
    assert!(w.introspect(&client, &successor).await.active);
    // The grant ends: nothing of it is active.
    w.auth
        .withdraw_consent(&user.id, &client.id, None)
        .await
        .unwrap();
    assert!(!w.introspect(&client, &rotated.access_token).await.active);
    assert!(!w.introspect(&client, &successor).await.active);
    // A resource server (a client that registered the audience) learns of the tokens for it.
    let api = "https://api.example";
    let mut shop = NewClient {
        name: "Shop with an API".into(),
        auth_method: ClientAuthMethod::ClientSecretBasic,
        redirect_uris: vec![REDIRECT.into()],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: ScopeSet::parse("openid email offline_access").unwrap(),
        first_party: false,
        audience: Some(api.into()),
        id_token_alg: None,
        post_logout_redirect_uris: Vec::new(),
        require_par: false,
        jwks: None,
        jwks_uri: None,
    };
    let actor = Actor::operator("ops");
    let shop_client = w
        .auth
        .register_client(shop.clone(), &actor)
        .await
        .unwrap()
        .client;
    let for_api = w.grant(&shop_client, &principal).await;
    assert!(w.introspect(&elsewhere, &for_api.access_token).await.active);
    assert!(
        !w.introspect(&elsewhere, &for_api.refresh_token.unwrap())
            .await
            .active
    );
    // No client may take the server's audience or its issuer as its own.
    for taken in [AUDIENCE, ISSUER] {
        shop.audience = Some(taken.into());
        let refused = w.auth.register_client(shop.clone(), &actor).await;
        assert!(matches!(refused, Err(Error::InvalidRequest(_))), "{taken}");
    }
    // A service's token is active until the service is deleted.
    let service = w.service("orders:read", "https://billing.example").await;
    let own = w.auth.client_credentials(&service, None).unwrap();
    assert!(w.introspect(&service, &own.access_token).await.active);
    w.auth
        .delete_client(&service.id, &Actor::operator("ops"))
        .await
        .unwrap();
    assert!(!w.introspect(&client, &own.access_token).await.active);
    // Expired: inactive.
    let fresh = w.auth.client_credentials(&elsewhere, None).unwrap();
    w.clock.advance(Duration::from_secs(3600));
    assert!(!w.introspect(&elsewhere, &fresh.access_token).await.active);
}

#[tokio::test]
async fn revoking_a_token_ends_its_grant_and_only_its_client_may() {
    let w = world();
    let client = w.client(ClientAuthMethod::ClientSecretBasic, false).await;
    let other = w.client(ClientAuthMethod::ClientSecretBasic, false).await;
    let (_, principal) = w.user("ada@example.com").await;
    let tokens = w.grant(&client, &principal).await;
    let refresh = tokens.refresh_token.clone().unwrap();

    // Another client's attempt, with either token, ends nothing (and says nothing either).
    for token in [&refresh, &tokens.access_token] {
        w.auth
            .revoke_token(&other, token.expose_secret(), None)
            .await
            .unwrap();
    }
    assert!(
        w.introspect(&client, &refresh).await.active,
        "nothing ended"
    );
    // Nor does a client's attempt on the user's own session (the account API's tokens).
    let own = w.own_tokens("ada@example.com").await;
    w.auth
        .revoke_token(&client, own.refresh_token.expose_secret(), None)
        .await
        .unwrap();
    w.auth
        .revoke_token(&client, own.access_token.expose_secret(), None)
        .await
        .unwrap();
    assert!(
        w.auth
            .authenticate(own.access_token.expose_secret())
            .await
            .is_ok()
    );
    assert!(
        w.auth
            .refresh(own.refresh_token.expose_secret(), None)
            .await
            .is_ok(),
        "the user's own session goes on"
    );
    for unknown in ["", "junk", &"A".repeat(43), "a.b.c"] {
        w.auth.revoke_token(&client, unknown, None).await.unwrap();
    }
    w.auth
        .revoke_token(&client, refresh.expose_secret(), None)
        .await
        .unwrap();
    w.assert_ended(&client, tokens).await;
    // Again: nothing left to revoke, and no error.
    w.auth
        .revoke_token(&client, refresh.expose_secret(), None)
        .await
        .unwrap();

    // A spent refresh token of the grant ends it too.
    let tokens = w.grant(&client, &principal).await;
    let spent = tokens.refresh_token.clone().unwrap();
    let rotated = w
        .auth
        .refresh_client(&client, spent.expose_secret(), None, None)
        .await
        .unwrap();
    w.auth
        .revoke_token(&client, spent.expose_secret(), None)
        .await
        .unwrap();
    w.assert_ended(&client, rotated).await;

    // The access token ends its grant too.
    let tokens = w.grant(&client, &principal).await;
    w.auth
        .revoke_token(&client, tokens.access_token.expose_secret(), None)
        .await
        .unwrap();
    w.assert_ended(&client, tokens).await;
    let revoked = w
        .events
        .events()
        .into_iter()
        .filter(|event| {
            matches!(
                event.kind,
                crate::event::AuthEventKind::SessionEnded {
                    reason: crate::event::SessionEnd::ClientRevoked
                }
            )
        })
        .count();
    assert_eq!(revoked, 3, "each revocation ended its grant's session");

    // A service's token has no grant to end.
    let service = w.service("orders:read", "https://billing.example").await;
    let own = w.auth.client_credentials(&service, None).unwrap();
    let refused = w
        .auth
        .revoke_token(&service, own.access_token.expose_secret(), None)
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::UnsupportedTokenType);
}

impl World {
    /// The request the authorization endpoint decides for a browser bringing `pairs`.
    async fn arriving(
        &self,
        pairs: &[(&str, &str)],
    ) -> std::result::Result<RawRequest, crate::oauth::Refusal> {
        let raw = RawRequest::parse(pairs.iter().copied())?;
        self.auth.authorization_request(raw).await.unwrap()
    }
}

#[tokio::test]
async fn a_pushed_request_stands_for_its_parameters_until_its_code_is_issued() {
    let w = world();
    let mut new = NewClient {
        name: "Bank".into(),
        auth_method: ClientAuthMethod::ClientSecretBasic,
        redirect_uris: vec![REDIRECT.into()],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: ScopeSet::parse("openid email offline_access").unwrap(),
        first_party: false,
        audience: None,
        id_token_alg: None,
        post_logout_redirect_uris: Vec::new(),
        require_par: true,
        jwks: None,
        jwks_uri: None,
    };
    let actor = Actor::operator("ops");
    let bank = w
        .auth
        .register_client(new.clone(), &actor)
        .await
        .unwrap()
        .client;
    new.require_par = false;
    let other = w.auth.register_client(new, &actor).await.unwrap().client;
    let (_, principal) = w.user("ada@example.com").await;

    // Sent whole in the address, the bank's request is refused (to its redirect URI).
    let whole = form(&bank);
    let pairs: Vec<(&str, &str)> = whole
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let raw = w.arriving(&pairs).await.unwrap();
    match raw.validate(Some(&bank)) {
        Err(crate::oauth::Refusal::Redirect { error, .. }) => {
            assert_eq!(error.code, ErrorCode::InvalidRequest);
            assert!(
                error
                    .description
                    .contains("pushes its authorization requests")
            );
        }
        other => panic!("refused to the client, not {other:?}"),
    }

    // Pushed: checked as the authorization endpoint would, then kept.
    let pushed = w
        .auth
        .push_authorization_request(&bank, &whole)
        .await
        .unwrap();
    assert!(
        pushed
            .request_uri
            .starts_with("urn:ietf:params:oauth:request_uri:")
    );
    assert_eq!(pushed.expires_in, 600);
    for (change, code) in [
        (
            ("redirect_uri", "https://evil.example/cb"),
            ErrorCode::InvalidRequest,
        ),
        (
            ("response_type", "token"),
            ErrorCode::UnsupportedResponseType,
        ),
        (
            ("code_challenge_method", "plain"),
            ErrorCode::InvalidRequest,
        ),
        (
            ("request_uri", pushed.request_uri.as_str()),
            ErrorCode::InvalidRequest,
        ),
        (("request", "eyJ.e30."), ErrorCode::RequestNotSupported),
        (("client_id", other.id.as_str()), ErrorCode::InvalidRequest),
    ] {
        let mut bad = form(&bank);
        bad.insert(change.0.to_owned(), change.1.to_owned());
        let refused = w
            .auth
            .push_authorization_request(&bank, &bad)
            .await
            .unwrap_err();
        assert_eq!(refused.code, code, "{change:?}");
    }

    // The browser brings client_id and request_uri; other parameters are ignored.
    let uri = pushed.request_uri.as_str();
    let arriving = [
        ("client_id", bank.id.as_str()),
        ("request_uri", uri),
        ("scope", "openid"),
        ("state", "forged"),
    ];
    let request = w
        .arriving(&arriving)
        .await
        .unwrap()
        .validate(Some(&bank))
        .unwrap();
    assert_eq!(request.state.as_deref(), Some("state-1"));
    assert_eq!(
        request.scope,
        ScopeSet::parse("openid email offline_access orders:read").unwrap()
    );
    assert!(request.pushed.is_some());
    // Another client may not use it, nor may anyone use one that was never pushed.
    let refused = w
        .arriving(&[("client_id", other.id.as_str()), ("request_uri", uri)])
        .await
        .unwrap_err();
    assert_eq!(refused.error().code, ErrorCode::InvalidRequestUri);
    assert!(refused.error().description.contains("another client"));
    for unknown in [
        "urn:ietf:params:oauth:request_uri:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "https://bank.example/request.jwt",
    ] {
        let refused = w
            .arriving(&[("client_id", bank.id.as_str()), ("request_uri", unknown)])
            .await
            .unwrap_err();
        assert!(
            matches!(refused, crate::oauth::Refusal::Page(_)),
            "{unknown}"
        );
        assert_eq!(refused.error().code, ErrorCode::InvalidRequestUri);
    }

    // Consent and sign-in come back to it; the code uses it up.
    let Authorization::Consent { scope, .. } = w
        .decide(&request, &bank, Some(&principal), ConsentAnswer::NotAsked)
        .await
    else {
        panic!("consent first");
    };
    assert!(
        w.arriving(&arriving).await.is_ok(),
        "still there after the consent page"
    );
    let code = match w
        .decide(
            &request,
            &bank,
            Some(&principal),
            ConsentAnswer::Given(scope),
        )
        .await
    {
        Authorization::Redirect(location) => query(&location)["code"].clone(),
        other => panic!("a code, not {other:?}"),
    };
    assert!(w.exchange(&bank, &code).await.is_ok());
    let refused = w.arriving(&arriving).await.unwrap_err();
    assert_eq!(refused.error().code, ErrorCode::InvalidRequestUri);
    // A request decided again after its push was used (two tabs) gets no second code.
    match w
        .decide(&request, &bank, Some(&principal), ConsentAnswer::NotAsked)
        .await
    {
        Authorization::Redirect(location) => {
            let params = query(&location);
            assert_eq!(params["error"], "invalid_request_uri");
            assert!(!params.contains_key("code"));
        }
        other => panic!("refused, not {other:?}"),
    }

    // A push expires unused.
    let late = w
        .auth
        .push_authorization_request(&bank, &form(&bank))
        .await
        .unwrap();
    w.clock.advance(Duration::from_secs(600));
    let refused = w
        .arriving(&[
            ("client_id", bank.id.as_str()),
            ("request_uri", &late.request_uri),
        ])
        .await
        .unwrap_err();
    assert_eq!(refused.error().code, ErrorCode::InvalidRequestUri);
}

#[tokio::test]
async fn a_logout_hint_is_our_id_token_even_expired_and_ends_the_session_it_names() {
    let w = world();
    let client = w.client(ClientAuthMethod::ClientSecretBasic, false).await;
    let (user, principal) = w.user("ada@example.com").await;
    let tokens = w.grant(&client, &principal).await;
    let id_token = tokens.id_token.clone().unwrap();
    let claims = w.id_claims(&id_token, &client);

    assert!(
        !w.auth
            .logout_hint(id_token.expose_secret())
            .unwrap()
            .expired
    );
    w.clock.advance(Duration::from_secs(24 * 3600));
    let hint = w.auth.logout_hint(id_token.expose_secret()).unwrap();
    assert!(hint.expired, "still a hint, marked expired");
    // Who is asked, and whose session a hint ends.
    let someone = crate::id::UserId::new();
    assert!(
        !LogoutHint::asks(Some(&hint), Some(user.id)),
        "the hint's own user"
    );
    assert!(LogoutHint::asks(Some(&hint), Some(someone)));
    assert!(LogoutHint::asks(None, Some(user.id)));
    assert!(!LogoutHint::asks(None, None), "nobody to ask");
    assert!(hint.ends_session_for(Some(user.id)));
    assert!(
        !hint.ends_session_for(Some(someone)),
        "another user's click"
    );
    assert!(
        !hint.ends_session_for(None),
        "an expired hint, nobody signed in"
    );
    assert_eq!(hint.user_id, user.id);
    assert_eq!(hint.client_id, client.id);
    assert_eq!(
        hint.session_id.as_ref().map(|sid| sid.as_str()),
        claims.sid.as_deref()
    );

    // Not an ID token of ours: an access token, a tampered one, another issuer's, junk.
    // A character of the signature's middle changed (the last one carries padding bits).
    let mut tampered = id_token.expose_secret().to_owned();
    let at = tampered.len() - 20;
    let swapped = if tampered.as_bytes()[at] == b'A' {
        "B"
    } else {
        "A"
    };
    tampered.replace_range(at..=at, swapped);
    let foreign = crate::token::TokenIssuer::new(
        w.keys.clone(),
        TokenConfig::new("https://elsewhere.example", client.id.as_str()),
        w.clock.clone(),
    )
    .unwrap()
    .issue(
        TokenKind::IdToken,
        crate::token::NewToken::new(user.id.to_string()),
    )
    .unwrap();
    for token in [
        tokens.access_token.expose_secret(),
        tampered.as_str(),
        foreign.token.expose_secret(),
        "junk",
        "",
    ] {
        assert!(
            matches!(w.auth.logout_hint(token), Err(Error::InvalidToken(_))),
            "{token}"
        );
    }

    // Ending the hinted session ends the grant, and only it.
    let tokens = w.grant(&client, &principal).await;
    let other = w.grant(&client, &principal).await;
    let hint = w
        .auth
        .logout_hint(tokens.id_token.as_ref().unwrap().expose_secret())
        .unwrap();
    w.auth.end_hinted_session(&hint, None).await.unwrap();
    w.assert_ended(&client, tokens).await;
    assert!(w.introspect(&client, &other.access_token).await.active);
    // Again: nothing left, no error.
    w.auth.end_hinted_session(&hint, None).await.unwrap();
}

/// A key of a client of `private_key_jwt` and the assertions it signs.
struct ClientKey {
    key: crate::token::Key,
}

impl ClientKey {
    fn new() -> Self {
        Self {
            key: testing::key(Algorithm::Es256),
        }
    }

    /// The public key, as a JWK Set.
    fn jwks(&self) -> String {
        serde_json::to_string(&KeySet::new(self.key.clone()).unwrap().jwks()).unwrap()
    }

    /// An assertion of `client` with `claims` changed (`null` drops one).
    fn sign(&self, client: &Client, now: i64, changes: serde_json::Value) -> String {
        let mut claims = serde_json::json!({
            "iss": client.id.as_str(),
            "sub": client.id.as_str(),
            "aud": ISSUER,
            "exp": now + 60,
            "iat": now,
            "jti": crate::id::OpaqueSecret::generate().hash().to_base64url(),
        });
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(self.key.id().as_str().to_owned());
        let pem = self.key.export_private().unwrap();
        let key = jsonwebtoken::EncodingKey::from_ec_pem(pem.expose_secret().as_bytes()).unwrap();
        crate::token::jwt::install_crypto_provider();
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    }
}

/// A fixed key set at an address, counting its fetches.
#[derive(Debug, Default)]
struct KeysAt {
    jwks: std::sync::Mutex<String>,
    fetches: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl ClientKeySource for KeysAt {
    fn admits(&self, uri: &url::Url) -> std::result::Result<(), String> {
        if uri.host_str() == Some("10.0.0.1") {
            return Err("a private address".into());
        }
        Ok(())
    }

    async fn fetch(&self, _: &url::Url) -> Result<String> {
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(self.jwks.lock().unwrap().clone())
    }
}

fn key_client(name: &str, jwks: Option<String>, jwks_uri: Option<&str>) -> NewClient {
    NewClient {
        name: name.into(),
        auth_method: ClientAuthMethod::PrivateKeyJwt,
        redirect_uris: Vec::new(),
        grant_types: vec![GrantType::ClientCredentials],
        scopes: ScopeSet::parse("orders:read").unwrap(),
        first_party: false,
        audience: Some("https://orders.example".into()),
        id_token_alg: None,
        post_logout_redirect_uris: Vec::new(),
        require_par: false,
        jwks,
        jwks_uri: jwks_uri.map(str::to_owned),
    }
}

#[tokio::test]
async fn a_client_of_private_key_jwt_proves_itself_with_an_assertion_used_once() {
    let w = world();
    let key = ClientKey::new();
    let actor = Actor::operator("ops");
    let registered = w
        .auth
        .register_client(key_client("Billing", Some(key.jwks()), None), &actor)
        .await
        .unwrap();
    assert!(registered.secret.is_none(), "no secret: a key");
    let client = registered.client;
    let now = crate::clock::Clock::unix_seconds(w.clock.as_ref());
    // Each from an address of its own: the failures here would throttle one address.
    let addresses = std::sync::atomic::AtomicU8::new(1);
    let check = |assertion: String, client_id: Option<String>| {
        let auth = w.auth.clone();
        let from = std::net::IpAddr::from([
            10,
            0,
            0,
            addresses.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
        ]);
        async move {
            auth.authenticate_client_assertion(client_id.as_deref(), &assertion, Some(from))
                .await
                .unwrap()
        }
    };

    let good = key.sign(&client, now, serde_json::json!({}));
    assert_eq!(check(good.clone(), None).await.unwrap().id, client.id);
    let again = check(good, None).await.unwrap_err();
    assert_eq!(
        (again.code, again.description.as_str()),
        (
            ErrorCode::InvalidClient,
            "the client assertion's jti was used already"
        )
    );
    let with_id = key.sign(&client, now, serde_json::json!({}));
    assert!(check(with_id, Some(client.id.to_string())).await.is_ok());

    for (changes, why) in [
        (
            serde_json::json!({"aud": format!("{ISSUER}/oauth2/token")}),
            "the client assertion's aud is the issuer identifier, alone",
        ),
        (
            serde_json::json!({"aud": [ISSUER, "https://elsewhere.example"]}),
            "the client assertion's aud is the issuer identifier, alone",
        ),
        (
            serde_json::json!({"aud": null}),
            "the client assertion's aud is the issuer identifier, alone",
        ),
        (
            serde_json::json!({"iss": "someone-else"}),
            "the client assertion's iss and sub are the client's id",
        ),
        (
            serde_json::json!({"exp": now - 3600}),
            "the client assertion expired",
        ),
        (
            serde_json::json!({"exp": now + 7200}),
            "the client assertion's exp is more than an hour away",
        ),
        (
            serde_json::json!({"iat": now + 600}),
            "the client assertion is not valid yet",
        ),
        (
            serde_json::json!({"jti": null}),
            "the client assertion has a jti of 1 to 256 characters",
        ),
    ] {
        let refused = check(key.sign(&client, now, changes.clone()), None)
            .await
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidClient, "{changes}");
        assert_eq!(refused.description, why, "{changes}");
    }
    // An array of the issuer alone is the issuer.
    let listed = key.sign(&client, now, serde_json::json!({"aud": [ISSUER]}));
    assert!(check(listed, None).await.is_ok());
    // Another key, another client's name, a client of secrets, junk: nothing said.
    // Before one of the client's keys vouches for an assertion, nothing is said of why.
    let stranger = ClientKey::new().sign(&client, now, serde_json::json!({}));
    assert_eq!(
        check(stranger, None).await.unwrap_err().description,
        "client authentication failed"
    );
    let secretive = w.service("orders:read", "https://api.example").await;
    for assertion in [
        key.sign(&secretive, now, serde_json::json!({})),
        "junk".to_owned(),
        String::new(),
    ] {
        assert_eq!(
            check(assertion, None).await.unwrap_err().description,
            "client authentication failed"
        );
    }
    let mismatched = key.sign(&client, now, serde_json::json!({}));
    assert_eq!(
        check(mismatched, Some(secretive.id.to_string()))
            .await
            .unwrap_err()
            .description,
        "client_id differs from the assertion's sub"
    );
    // Unsigned: refused before any key is tried.
    let claims = mismatched_claims(&client, now);
    let unsigned = format!("eyJhbGciOiJub25lIn0.{claims}.");
    assert_eq!(
        check(unsigned, None).await.unwrap_err().description,
        "client authentication failed"
    );
    // The client acts as any confidential one: a service token.
    assert!(w.auth.client_credentials(&client, None).is_ok());
}

/// The claims of a well-formed assertion, base64url, for hand-made tokens.
fn mismatched_claims(client: &Client, now: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        serde_json::json!({
            "iss": client.id.as_str(), "sub": client.id.as_str(), "aud": ISSUER,
            "exp": now + 60, "jti": "x",
        })
        .to_string(),
    )
}

#[tokio::test]
async fn keys_at_a_jwks_uri_are_fetched_cached_and_fetched_again_for_a_new_key() {
    let actor = Actor::operator("ops");
    // Without a key source, no client may name a jwks_uri.
    let w = world();
    let refused = w
        .auth
        .register_client(
            key_client("Billing", None, Some("https://billing.example/jwks")),
            &actor,
        )
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("fetches no client keys"),
        "{refused}"
    );

    let first = ClientKey::new();
    let source = Arc::new(KeysAt::default());
    *source.jwks.lock().unwrap() = first.jwks();
    let w = world();
    let auth = Authenticator::builder(
        KeySet::new(testing::key(Algorithm::EdDsa)).unwrap(),
        testing::authenticator_config(),
    )
    .clock(w.clock.clone())
    .client_key_source(source.clone())
    .build()
    .unwrap();
    let refused = auth
        .register_client(
            key_client("Billing", None, Some("https://10.0.0.1/jwks")),
            &actor,
        )
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("a private address"),
        "{refused}"
    );
    for both in [
        key_client(
            "Billing",
            Some(first.jwks()),
            Some("https://billing.example/jwks"),
        ),
        key_client("Billing", None, None),
    ] {
        let refused = auth.register_client(both, &actor).await.unwrap_err();
        assert!(
            refused.to_string().contains("jwks or jwks_uri"),
            "{refused}"
        );
    }
    let client = auth
        .register_client(
            key_client("Billing", None, Some("https://billing.example/jwks")),
            &actor,
        )
        .await
        .unwrap()
        .client;
    let now = crate::clock::Clock::unix_seconds(w.clock.as_ref());
    let fetches = || source.fetches.load(std::sync::atomic::Ordering::SeqCst);
    for _ in 0..3 {
        let assertion = first.sign(&client, now, serde_json::json!({}));
        let verdict = auth
            .authenticate_client_assertion(None, &assertion, None)
            .await
            .unwrap();
        assert!(verdict.is_ok(), "{verdict:?}");
    }
    assert_eq!(fetches(), 1, "fetched once, then cached");
    // The client rotates to a new key: one more fetch (once 30 s have passed) finds it.
    w.clock.advance(Duration::from_secs(31));
    let now = now + 31;
    let second = ClientKey::new();
    *source.jwks.lock().unwrap() = second.jwks();
    let accepted = |key: &ClientKey, now: i64| {
        let assertion = key.sign(&client, now, serde_json::json!({}));
        let auth = auth.clone();
        async move {
            auth.authenticate_client_assertion(None, &assertion, None)
                .await
                .unwrap()
                .is_ok()
        }
    };
    assert!(accepted(&second, now).await);
    assert_eq!(fetches(), 2);
    // A key it never had is not fetched for again at once.
    let stranger = ClientKey::new().sign(&client, now, serde_json::json!({}));
    let refused = auth
        .authenticate_client_assertion(None, &stranger, None)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.description, "client authentication failed");
    assert_eq!(fetches(), 2, "a refetch waits 30 s");
    // The address fails: the keys fetched last go on being used, and it is not asked again
    // for 30 s.
    w.clock.advance(Duration::from_secs(301));
    let now = now + 301;
    *source.jwks.lock().unwrap() = "not a key set".into();
    for _ in 0..2 {
        assert!(accepted(&second, now).await);
    }
    assert_eq!(fetches(), 3, "one failed fetch, then memory");
    // What the address answers must be a JWK Set of public keys.
    *source.jwks.lock().unwrap() = "{\"keys\": \"no\"}".into();
    let other = auth
        .register_client(
            key_client("Other", None, Some("https://other.example/jwks")),
            &actor,
        )
        .await
        .unwrap()
        .client;
    let refused = auth
        .authenticate_client_assertion(None, &first.sign(&other, now, serde_json::json!({})), None)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        refused.description,
        "the client's keys could not be fetched"
    );
}
