//! The OpenID provider end to end on PostgreSQL, checked by relying parties no one here wrote:
//! Python's authlib through discovery, the hosted sign-in and consent pages, the code exchange,
//! ID token verification, userinfo and refresh; and the endpoints' refusals by hand.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::net::TcpListener;

use auth_core::secrecy::ExposeSecret;
use auth_core::token::{Algorithm, Key};
use common::*;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
const REDIRECT: &str = "https://rp.example.com/callback";

/// A port free now, for a server whose issuer must name its own address before it starts.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Access tokens in EdDSA, ID tokens in RS256: the keys a deployment configures.
fn signing_keys() -> String {
    let eddsa = Key::generate(Algorithm::EdDsa).unwrap();
    let rs256 = Key::generate(Algorithm::Rs256).unwrap();
    json!([
        { "alg": "EdDSA", "key": eddsa.export_private().unwrap().expose_secret() },
        { "alg": "RS256", "key": rs256.export_private().unwrap().expose_secret() },
    ])
    .to_string()
}

struct Provider {
    server: Server,
    schema: Schema,
    issuer: String,
}

impl Provider {
    async fn start() -> Option<Self> {
        let schema = Schema::create().await?;
        let port = free_port();
        let issuer = format!("http://127.0.0.1:{port}");
        let keys = signing_keys();
        let server = start_with(&[
            ("PORT", port.to_string().as_str()),
            ("AUTH_ISSUER", issuer.as_str()),
            ("DATABASE_URL", schema.url.as_str()),
            ("AUTH_SIGNING_KEYS", keys.as_str()),
            ("REFRESH_REUSE_GRACE", "0"),
        ])
        .await;
        ready(server.port).await;
        Some(Self {
            server,
            schema,
            issuer,
        })
    }

    /// Registers a client from the command line: its JSON, the secret among it.
    fn client(&self, method: &str, first_party: bool) -> Value {
        let mut args = vec![
            "client",
            "create",
            "--name",
            "Relying party",
            "--redirect-uri",
            REDIRECT,
            "--auth-method",
            method,
            "--scope",
            "openid",
            "--scope",
            "email",
            "--scope",
            "offline_access",
        ];
        if first_party {
            args.push("--first-party");
        }
        let (ok, client) = cli_json(&self.schema, &args, &[]);
        assert!(ok, "{client}");
        client
    }

    async fn account(&self) -> String {
        let email = format!("rp-{}@example.com", uuid_hex());
        let registered = post_json(
            self.server.port,
            "/v1/auth/register",
            &json!({"email": email, "password": PASSWORD}),
            None,
        )
        .await;
        assert_eq!(registered.status, 201, "{:?}", registered.body);
        email
    }

    async fn stop(self) {
        terminate(&self.server.child);
        self.schema.drop_schema().await;
    }
}

/// The authlib relying party's run against `provider` for `client` (with `extra` arguments).
fn authlib(provider: &Provider, client: &Value, method: &str, email: &str) -> Value {
    authlib_with(provider, client, method, email, &[])
}

fn authlib_with(
    provider: &Provider,
    client: &Value,
    method: &str,
    email: &str,
    extra: &[&str],
) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/oidc_rp_authlib.py"
    );
    let output = std::process::Command::new("python3")
        .arg(script)
        .args([
            provider.issuer.as_str(),
            client["client_id"].as_str().unwrap(),
            client["client_secret"].as_str().unwrap_or_default(),
            REDIRECT,
            method,
            email,
            PASSWORD,
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "authlib's relying party failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn authlib_signs_a_user_in_with_every_client_authentication_method() {
    if !require(Need::PythonAuthlib) {
        return;
    }
    let Some(provider) = Provider::start().await else {
        return;
    };
    for method in ["client_secret_basic", "client_secret_post", "none"] {
        let client = provider.client(method, false);
        let email = provider.account().await;
        let seen = authlib(&provider, &client, method, &email);
        assert_eq!(seen["email"], email.as_str(), "{method}: {seen}");
        assert_eq!(seen["userinfo_email"], email.as_str(), "{method}: {seen}");
        assert_eq!(seen["aud"], client["client_id"], "{method}: {seen}");
        assert_eq!(seen["amr"], json!(["pwd"]), "{method}: {seen}");
        assert_eq!(seen["acr"], "1", "{method}: {seen}");
        assert_eq!(
            seen["scope"], "email offline_access openid",
            "{method}: {seen}"
        );
        assert_eq!(seen["refreshed_scope"], seen["scope"], "{method}: {seen}");
        assert_eq!(
            (seen["reuse_status"].as_u64(), seen["reuse_error"].as_str()),
            (Some(400), Some("invalid_grant")),
            "{method}: {seen}"
        );
        assert_eq!(
            seen["tampered_id_token"], "refused: BadSignatureError",
            "{method}: {seen}"
        );
        // The reused refresh token ended the grant: its last access token is refused.
        let access = seen["access_token"].as_str().unwrap();
        let info = get_json(provider.server.port, "/oauth2/userinfo", Some(access)).await;
        assert_eq!(info.status, 401, "{method}: {:?}", info.body);
    }
    provider.stop().await;
}

/// A token request's headers and fields, and the status and error it must get.
type TokenCase<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, u16, &'a str);

/// `path`'s answer to a form post with `headers`.
async fn form(port: u16, path: &str, headers: &[&str], fields: &[(&str, &str)]) -> Answer {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let mut all = vec!["Content-Type: application/x-www-form-urlencoded"];
    all.extend_from_slice(headers);
    send(port, "POST", path, &all, body.as_bytes()).await
}

#[tokio::test]
async fn the_endpoints_refuse_what_rfc_6749_and_9700_refuse() {
    let Some(provider) = Provider::start().await else {
        return;
    };
    let port = provider.server.port;
    let client = provider.client("client_secret_basic", true);
    let id = client["client_id"].as_str().unwrap();
    let secret = client["client_secret"].as_str().unwrap();
    let basic = format!(
        "Authorization: Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{id}:{secret}")
        )
    );

    // Discovery says what the provider does.
    let discovery = get_json(port, "/.well-known/openid-configuration", None).await;
    assert_eq!(discovery.status, 200);
    let metadata = &discovery.body;
    assert_eq!(metadata["issuer"], provider.issuer.as_str());
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );
    // The keys configured: EdDSA (access tokens) and RS256; no ES256 key, so no ES256.
    assert_eq!(
        metadata["id_token_signing_alg_values_supported"],
        json!(["RS256", "EdDSA"])
    );
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );

    // The token endpoint: a form only, one client authentication, known grants.
    let cases: Vec<TokenCase> = vec![
        (
            vec![basic.as_str()],
            vec![("grant_type", "password")],
            400,
            "unsupported_grant_type",
        ),
        (vec![basic.as_str()], vec![], 400, "invalid_request"),
        (
            vec![basic.as_str()],
            vec![
                ("grant_type", "authorization_code"),
                ("client_secret", secret),
            ],
            400,
            "invalid_request",
        ),
        (
            vec!["Authorization: Basic bm90OnJpZ2h0"],
            vec![("grant_type", "authorization_code"), ("code", "x")],
            401,
            "invalid_client",
        ),
        (
            vec![basic.as_str()],
            vec![
                ("grant_type", "authorization_code"),
                ("code", "not-a-code"),
                ("redirect_uri", REDIRECT),
            ],
            400,
            "invalid_grant",
        ),
        (
            vec![basic.as_str()],
            vec![("grant_type", "refresh_token"), ("refresh_token", "nope")],
            400,
            "invalid_grant",
        ),
    ];
    for (headers, fields, status, error) in cases {
        let answer = form(port, "/oauth2/token", &headers, &fields).await;
        assert_eq!(answer.status, status, "{fields:?}: {:?}", answer.body);
        assert_eq!(answer.body["error"], error, "{fields:?}: {:?}", answer.body);
        assert_eq!(
            answer.header("cache-control"),
            Some("no-store"),
            "{fields:?}"
        );
    }
    let wrong = form(
        port,
        "/oauth2/token",
        &["Authorization: Basic bm90OnJpZ2h0"],
        &[("grant_type", "authorization_code")],
    )
    .await;
    assert!(
        wrong
            .header("www-authenticate")
            .unwrap()
            .starts_with("Basic")
    );
    let json_body = send(
        port,
        "POST",
        "/oauth2/token",
        &[basic.as_str(), "Content-Type: application/json"],
        br#"{"grant_type":"authorization_code"}"#,
    )
    .await;
    assert_eq!(json_body.status, 400);

    // The authorization endpoint: a page for what cannot go back, a redirect for the rest.
    let page = send(
        port,
        "GET",
        &format!("/oauth2/authorize?client_id={id}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&response_type=code&scope=openid"),
        &["Accept: text/html"],
        b"",
    )
    .await;
    assert_eq!(page.status, 400);
    assert!(
        page.header("location").is_none(),
        "never a redirect to an unregistered URI"
    );
    let redirected = send(
        port,
        "GET",
        &format!("/oauth2/authorize?client_id={id}&redirect_uri=https%3A%2F%2Frp.example.com%2Fcallback&response_type=token&scope=openid&state=s1"),
        &[],
        b"",
    )
    .await;
    assert_eq!(redirected.status, 303);
    let location = url::Url::parse(redirected.header("location").unwrap()).unwrap();
    let params: HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(params["error"], "unsupported_response_type");
    assert_eq!(params["state"], "s1");
    assert_eq!(params["iss"], provider.issuer);

    // Userinfo: a bearer of a client's token, or a challenge.
    let info = get_json(port, "/oauth2/userinfo", None).await;
    assert_eq!(info.status, 401);
    assert!(
        info.header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    let (_, login) = signed_in(port, "own").await;
    let own = login.body["access_token"].as_str().unwrap();
    let info = get_json(port, "/oauth2/userinfo", Some(own)).await;
    assert_eq!(
        info.status, 401,
        "the server's own token has no openid scope"
    );
    provider.stop().await;
}

#[tokio::test]
async fn token_types_never_cross_and_a_clients_token_never_acts_on_the_account() {
    if !require(Need::PythonAuthlib) {
        return;
    }
    let Some(provider) = Provider::start().await else {
        return;
    };
    let port = provider.server.port;
    let client = provider.client("client_secret_basic", false);
    let email = provider.account().await;
    let tokens = authlib_with(&provider, &client, "client_secret_basic", &email, &["keep"]);
    let access = tokens["access_token"].as_str().unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(
        get_json(port, "/oauth2/userinfo", Some(access))
            .await
            .status,
        200
    );
    // A second-factor challenge of another account.
    let (credentials, login) = signed_in(port, "mfa").await;
    enable_totp(port, login.body["access_token"].as_str().unwrap()).await;
    let challenged = post_json(port, "/v1/auth/login", &credentials, None).await;
    let challenge = challenged.body["mfa_token"].as_str().unwrap().to_owned();
    for (what, bearer) in [
        ("an ID token", id_token),
        ("a second-factor challenge", challenge.as_str()),
    ] {
        for path in ["/v1/auth/me", "/oauth2/userinfo"] {
            let answer = get_json(port, path, Some(bearer)).await;
            assert_eq!(answer.status, 401, "{what} at {path}: {:?}", answer.body);
        }
    }
    let me = get_json(port, "/v1/auth/me", Some(access)).await;
    assert_eq!(
        me.status, 401,
        "a client's token at the account API: {:?}",
        me.body
    );
    let sessions = get_json(port, "/v1/auth/sessions", Some(access)).await;
    assert_eq!(sessions.status, 401);

    // The consent form without its CSRF token is refused.
    let forged = form(
        port,
        "/oauth2/authorize",
        &[],
        &[
            ("request", "client_id=x"),
            ("scope", "openid"),
            ("decision", "allow"),
        ],
    )
    .await;
    assert_eq!(forged.status, 403, "{:?}", forged.body);
    provider.stop().await;
}

#[tokio::test]
async fn openid_client_signs_a_user_in_and_refuses_a_tampered_id_token_and_a_foreign_iss() {
    if !require(Need::NodeOpenidClient) {
        return;
    }
    let Some(provider) = Provider::start().await else {
        return;
    };
    let client = provider.client("client_secret_basic", false);
    let email = provider.account().await;
    let output = std::process::Command::new("node")
        .arg("rp.mjs")
        .args([
            provider.issuer.as_str(),
            client["client_id"].as_str().unwrap(),
            client["client_secret"].as_str().unwrap(),
            REDIRECT,
            email.as_str(),
            PASSWORD,
        ])
        .current_dir(auth_core::testing::needs::OPENID_CLIENT_DIR)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "openid-client's relying party failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(seen["email"], email.as_str(), "{seen}");
    assert_eq!(seen["userinfo_email"], email.as_str(), "{seen}");
    assert_eq!(seen["aud"], client["client_id"], "{seen}");
    assert_eq!(seen["scope"], "email offline_access openid", "{seen}");
    assert_eq!(seen["refreshed_scope"], seen["scope"], "{seen}");
    assert_eq!(seen["refreshed_id_token"], true, "{seen}");
    // Refused for the reason each was forged, not for any other.
    assert_eq!(
        seen["tampered_id_token"], "refused: JWT signature verification failed",
        "{seen}"
    );
    assert_eq!(
        seen["wrong_iss"], "refused: unexpected \"iss\" (issuer) response parameter value",
        "{seen}"
    );
    provider.stop().await;
}
