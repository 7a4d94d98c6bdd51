//! The OpenID provider end to end on PostgreSQL, checked by relying parties no one here wrote:
//! Python's authlib through discovery, the hosted sign-in and consent pages, the code exchange,
//! ID token verification, userinfo and refresh; npm's openid-client; the example relying party
//! in `examples/` (the `openidconnect` crate); and the endpoints' refusals by hand.
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
        Self::start_with_env(&[]).await
    }

    /// [`Self::start`] with `extra` settings.
    async fn start_with_env(extra: &[(&str, &str)]) -> Option<Self> {
        let schema = Schema::create().await?;
        let port = free_port();
        let issuer = format!("http://127.0.0.1:{port}");
        let keys = signing_keys();
        let port_text = port.to_string();
        let mut env = vec![
            ("PORT", port_text.as_str()),
            ("AUTH_ISSUER", issuer.as_str()),
            ("DATABASE_URL", schema.url.as_str()),
            ("AUTH_SIGNING_KEYS", keys.as_str()),
            ("REFRESH_REUSE_GRACE", "0"),
        ];
        env.extend_from_slice(extra);
        let server = start_with(&env).await;
        ready(server.port).await;
        Some(Self {
            server,
            schema,
            issuer,
        })
    }

    /// Registers a client from the command line with `args` (after `client create`): its JSON,
    /// the secret among it.
    fn register(&self, args: &[&str]) -> Value {
        let mut all = vec!["client", "create"];
        all.extend_from_slice(args);
        let (ok, client) = cli_json(&self.schema, &all, &[]);
        assert!(ok, "{client}");
        client
    }

    /// Registers a client of the code flow from the command line.
    fn client(&self, method: &str, first_party: bool) -> Value {
        self.client_to(REDIRECT, method, first_party)
    }

    /// [`Self::client`] with its own redirect URI.
    fn client_to(&self, redirect: &str, method: &str, first_party: bool) -> Value {
        let mut args = vec![
            "--name",
            "Relying party",
            "--redirect-uri",
            redirect,
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
        self.register(&args)
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
    let seen = openid_client(
        "rp.mjs",
        &[
            provider.issuer.as_str(),
            client["client_id"].as_str().unwrap(),
            client["client_secret"].as_str().unwrap(),
            REDIRECT,
            email.as_str(),
            PASSWORD,
        ],
    );
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

/// What an openid-client script printed, run with `args` (it must succeed).
fn openid_client(script: &str, args: &[&str]) -> Value {
    let output = std::process::Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(auth_core::testing::needs::OPENID_CLIENT_DIR)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "openid-client's {script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A browser of our own over plain HTTP to loopback origins: cookies kept per port (`Secure`
/// ones too, as a browser does for loopback), redirects followed by the caller.
#[derive(Default)]
struct Jar(HashMap<u16, HashMap<String, String>>);

impl Jar {
    async fn get(&mut self, url: &str) -> Answer {
        self.send(url, "GET", &[]).await
    }

    async fn post(&mut self, url: &str, fields: &[(&str, &str)]) -> Answer {
        self.send(url, "POST", fields).await
    }

    async fn send(&mut self, url: &str, method: &str, fields: &[(&str, &str)]) -> Answer {
        let parsed = url::Url::parse(url).unwrap();
        let port = parsed.port().unwrap();
        let target = &parsed[url::Position::BeforePath..];
        let cookies = self.0.entry(port).or_default();
        let cookie = cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut headers = vec!["Accept: text/html".to_owned()];
        if !cookie.is_empty() {
            headers.push(format!("Cookie: {cookie}"));
        }
        if method == "POST" {
            headers.push("Content-Type: application/x-www-form-urlencoded".to_owned());
        }
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let answer = send(port, method, target, &headers, body.as_bytes()).await;
        for line in answer.raw_head.lines().skip(1) {
            let Some((field, value)) = line.split_once(':') else {
                continue;
            };
            if !field.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let expired = value.to_ascii_lowercase().contains("max-age=0");
            let pair = value.trim().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if expired {
                cookies.remove(name);
            } else {
                cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        answer
    }

    fn cookie(&self, port: u16, name: &str) -> Option<String> {
        self.0.get(&port)?.get(name).cloned()
    }

    /// Follows `url` through the provider (sign-in, consent with `decision`) until a redirect
    /// to `redirect`, which it returns without following.
    async fn authorize(
        &mut self,
        url: &str,
        redirect: &str,
        email: &str,
        decision: &str,
    ) -> String {
        let mut url = url.to_owned();
        for _ in 0..8 {
            if url.starts_with(redirect) {
                return url;
            }
            let page = self.get(&url).await;
            let answer = match page.status {
                303 => page,
                200 if page.raw_body.contains("action=\"/ui/sign-in\"") => {
                    let mut fields = hidden_fields(&page.raw_body);
                    fields.push(("email".to_owned(), email.to_owned()));
                    fields.push(("password".to_owned(), PASSWORD.to_owned()));
                    let fields: Vec<(&str, &str)> = fields
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    self.post(&resolve(&url, "/ui/sign-in"), &fields).await
                }
                200 if page.raw_body.contains("id=\"consent-allow\"") => {
                    let mut fields = hidden_fields(&page.raw_body);
                    fields.push(("decision".to_owned(), decision.to_owned()));
                    let fields: Vec<(&str, &str)> = fields
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    self.post(&resolve(&url, "/oauth2/authorize"), &fields)
                        .await
                }
                _ => panic!("{url}: {} {}", page.status, page.raw_body),
            };
            assert_eq!(answer.status, 303, "{url}: {}", answer.raw_body);
            url = resolve(&url, answer.header("location").unwrap());
        }
        panic!("no redirect to {redirect} after 8 steps");
    }
}

/// `location` read against the page at `base`.
fn resolve(base: &str, location: &str) -> String {
    url::Url::parse(base)
        .unwrap()
        .join(location)
        .unwrap()
        .into()
}

/// The hidden inputs of a page's forms, unescaped.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let attribute = |tag: &str, name: &str| {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(unescape(tag[start..].split('"').next()?))
    };
    html.split("<input")
        .skip(1)
        .filter_map(|rest| rest.split('>').next())
        .filter(|tag| tag.contains("type=\"hidden\""))
        .filter_map(|tag| Some((attribute(tag, "name")?, attribute(tag, "value")?)))
        .collect()
}

fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let (entity, after) = rest[at + 1..].split_once(';').unwrap();
        out.push(match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            hex if hex.starts_with("#x") || hex.starts_with("#X") => {
                char::from_u32(u32::from_str_radix(&hex[2..], 16).unwrap()).unwrap()
            }
            decimal => char::from_u32(decimal[1..].parse().unwrap()).unwrap(),
        });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// `url` with the query parameter `name` set to `value`, or left out for `None`.
fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != name || value.is_some())
        .map(|(k, v)| {
            let v = if k == name { value.unwrap().into() } else { v };
            (k.into_owned(), v.into_owned())
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_relying_party_signs_a_user_in_and_refuses_forged_answers() {
    use auth_examples::oidc_relying_party::{self, Config, RelyingParty};

    let Some(provider) = Provider::start().await else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = format!("http://127.0.0.1:{port}");
    let redirect = format!("{app}/callback");
    let client = provider.client_to(&redirect, "client_secret_basic", false);
    let rp = RelyingParty::discover(Config {
        issuer: provider.issuer.clone(),
        client_id: client["client_id"].as_str().unwrap().to_owned(),
        client_secret: client["client_secret"].as_str().map(str::to_owned),
        redirect_uri: redirect.clone(),
    })
    .await
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(auth_examples::axum_app::serve(
        listener,
        oidc_relying_party::router(rp),
        async move {
            let _ = stopped.await;
        },
    ));
    let email = provider.account().await;
    let mut browser = Jar::default();

    let home = browser.get(&format!("{app}/")).await;
    assert!(home.raw_body.contains("Not signed in"), "{}", home.raw_body);
    let login = browser.get(&format!("{app}/login")).await;
    assert_eq!(login.status, 303, "{}", login.raw_body);
    let authorize = login.header("location").unwrap().to_owned();
    assert!(
        authorize.starts_with(&format!("{}/oauth2/authorize?", provider.issuer)),
        "{authorize}"
    );
    assert!(
        authorize.contains("code_challenge_method=S256"),
        "{authorize}"
    );
    let started = browser.cookie(port, "rp_login").unwrap();
    let callback = browser
        .authorize(&authorize, &redirect, &email, "allow")
        .await;
    let signed_in = browser.get(&callback).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.raw_body);
    assert_eq!(signed_in.header("location"), Some("/"));
    assert_eq!(
        browser.cookie(port, "rp_login"),
        None,
        "the attempt is spent"
    );
    let home = browser.get(&format!("{app}/")).await;
    assert!(
        home.raw_body
            .contains(&format!("Signed in as <strong>{email}</strong>")),
        "{}",
        home.raw_body
    );

    // The same answer again: the browser's attempt is over. Replayed with the attempt's
    // cookie, the provider refuses the spent code, and no session is set.
    let again = browser.get(&callback).await;
    assert_eq!(again.status, 400, "{}", again.raw_body);
    assert!(
        again.raw_body.contains("No sign-in is under way"),
        "{}",
        again.raw_body
    );
    let replay = send(
        port,
        "GET",
        &callback[app.len()..],
        &[&format!("Cookie: rp_login={started}")],
        b"",
    )
    .await;
    assert_eq!(replay.status, 502, "{}", replay.raw_body);
    assert!(
        replay.raw_body.contains("could not be verified"),
        "{}",
        replay.raw_body
    );
    assert!(
        !replay.raw_head.contains("rp_session="),
        "{}",
        replay.raw_head
    );

    // A forged `state`, a foreign `iss` or none (the provider promises one): refused, and no
    // session set. The browser is still signed in at the provider and consent is remembered,
    // so each attempt comes straight back.
    for (name, value, refusal) in [
        (
            "state",
            Some("forged"),
            "does not belong to the sign-in this browser started",
        ),
        (
            "iss",
            Some("https://other.example.com"),
            "does not come from this application&#39;s provider",
        ),
        (
            "iss",
            None,
            "does not come from this application&#39;s provider",
        ),
    ] {
        let login = browser.get(&format!("{app}/login")).await;
        let authorize = login.header("location").unwrap().to_owned();
        let callback = browser
            .authorize(&authorize, &redirect, &email, "allow")
            .await;
        let answer = browser.get(&with_param(&callback, name, value)).await;
        assert_eq!(answer.status, 400, "{name} {value:?}: {}", answer.raw_body);
        assert!(
            answer.raw_body.contains(refusal),
            "{name}: {}",
            answer.raw_body
        );
        assert!(
            !answer.raw_head.contains("rp_session="),
            "{}",
            answer.raw_head
        );
    }

    let out = browser.post(&format!("{app}/logout"), &[]).await;
    assert_eq!(out.status, 303, "{}", out.raw_body);
    let home = browser.get(&format!("{app}/")).await;
    assert!(home.raw_body.contains("Not signed in"), "{}", home.raw_body);

    // Someone else declines on the consent page: the application says so and signs no one in.
    let other = provider.account().await;
    let mut browser = Jar::default();
    let login = browser.get(&format!("{app}/login")).await;
    let authorize = login.header("location").unwrap().to_owned();
    let callback = browser
        .authorize(&authorize, &redirect, &other, "deny")
        .await;
    assert!(callback.contains("error=access_denied"), "{callback}");
    let declined = browser.get(&callback).await;
    assert_eq!(declined.status, 403, "{}", declined.raw_body);
    assert!(
        declined.raw_body.contains("access_denied"),
        "{}",
        declined.raw_body
    );
    assert!(
        !declined.raw_head.contains("rp_session="),
        "{}",
        declined.raw_head
    );

    let _ = stop.send(());
    served.await.unwrap().unwrap();
    provider.stop().await;
}

impl Provider {
    /// A service client from the command line: client_credentials alone, its own audience.
    fn service(&self) -> Value {
        self.register(&[
            "--name",
            "Billing",
            "--grant",
            "client_credentials",
            "--scope",
            "orders:read",
            "--scope",
            "orders:write",
            "--audience",
            "https://orders.example.com",
        ])
    }

    /// A user's tokens for `client`, by authlib's sign-in: access and refresh.
    async fn user_tokens(&self, client: &Value) -> (String, String) {
        let email = self.account().await;
        let tokens = authlib_with(self, client, "client_secret_basic", &email, &["keep"]);
        (
            tokens["access_token"].as_str().unwrap().to_owned(),
            tokens["refresh_token"].as_str().unwrap().to_owned(),
        )
    }
}

/// The arguments of the client-token scripts: the issuer, the service and the relying party
/// with a user's tokens.
fn client_token_args<'a>(
    provider: &'a Provider,
    service: &'a Value,
    client: &'a Value,
    tokens: &'a (String, String),
) -> [&'a str; 7] {
    [
        provider.issuer.as_str(),
        service["client_id"].as_str().unwrap(),
        service["client_secret"].as_str().unwrap(),
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap(),
        tokens.0.as_str(),
        tokens.1.as_str(),
    ]
}

#[tokio::test]
async fn authlib_and_openid_client_get_service_tokens_introspect_and_revoke() {
    if !require_all(&[Need::PythonAuthlib, Need::NodeOpenidClient]) {
        return;
    }
    let Some(provider) = Provider::start().await else {
        return;
    };
    let refused = std::process::Command::new(BIN)
        .args(["client", "create", "--name", "Unscoped"])
        .args(["--grant", "client_credentials"])
        .env_clear()
        .env("DATABASE_URL", &provider.schema.url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("names the audience"),
        "{stderr}"
    );
    let service = provider.service();
    assert_eq!(service["grant_types"], json!(["client_credentials"]));
    assert_eq!(service["redirect_uris"], json!([]));
    let client = provider.client("client_secret_basic", false);
    let service_id = service["client_id"].as_str().unwrap();
    let client_id = client["client_id"].as_str().unwrap();

    let tokens = provider.user_tokens(&client).await;
    let output = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/oidc_client_tokens_authlib.py"
        ))
        .args(client_token_args(&provider, &service, &client, &tokens))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "authlib failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap();
    // client_credentials: the scopes asked for (all of its own by default), no refresh or ID
    // token; no scope beyond its own.
    assert_eq!(seen["own_scope"], "orders:read", "{seen}");
    assert_eq!(seen["default_scope"], "orders:read orders:write", "{seen}");
    assert_eq!(
        (&seen["own_refresh_token"], &seen["own_id_token"]),
        (&Value::Null, &Value::Null)
    );
    assert_eq!(seen["escalation"]["status"], 400, "{seen}");
    assert_eq!(
        seen["escalation"]["body"]["error"], "invalid_scope",
        "{seen}"
    );
    let own = &seen["own_introspected"];
    assert_eq!(own["status"], 200, "{seen}");
    assert_eq!(own["body"]["active"], true, "{seen}");
    assert_eq!(own["body"]["client_id"], service_id, "{seen}");
    assert_eq!(own["body"]["sub"], service_id, "{seen}");
    assert_eq!(own["body"]["scope"], "orders:read", "{seen}");
    assert_eq!(own["body"]["aud"], "https://orders.example.com", "{seen}");
    assert_eq!(seen["wrong_secret"]["status"], 401, "{seen}");
    assert_eq!(seen["wrong_secret"]["body"]["error"], "invalid_client");
    assert_eq!(seen["own_revoked"]["status"], 400, "{seen}");
    assert_eq!(
        seen["own_revoked"]["body"]["error"], "unsupported_token_type",
        "{seen}"
    );
    // The user's tokens: described to their client; the refresh token to no one else, and
    // only their client may revoke it; revoking it ends the grant.
    let access = &seen["access_introspected"]["body"];
    assert_eq!(
        (
            &access["active"],
            &access["client_id"],
            &access["token_type"]
        ),
        (&json!(true), &json!(client_id), &json!("Bearer")),
        "{seen}"
    );
    let refresh = &seen["refresh_introspected"]["body"];
    assert_eq!(
        (&refresh["active"], &refresh["token_use"]),
        (&json!(true), &json!("refresh_token")),
        "{seen}"
    );
    assert_eq!(seen["refresh_by_service"]["body"], json!({"active": false}));
    // Another client's revocation is answered as any other and ends nothing.
    assert_eq!(seen["revoked_by_service"]["status"], 200, "{seen}");
    assert_eq!(seen["revoked"]["status"], 200, "{seen}");
    assert_eq!(seen["revoked"]["body"], Value::Null, "{seen}");
    assert_eq!(seen["access_after"]["body"], json!({"active": false}));
    assert_eq!(seen["refresh_after"]["body"], json!({"active": false}));
    assert_eq!(seen["revoked_again"]["status"], 200, "{seen}");
    let port = provider.server.port;
    let userinfo = get_json(port, "/oauth2/userinfo", Some(&tokens.0)).await;
    assert_eq!(
        userinfo.status, 401,
        "the grant is over: {:?}",
        userinfo.body
    );
    // Introspection is for confidential clients; both endpoints need a client and a token.
    let public = provider.client("none", false);
    let public_id = public["client_id"].as_str().unwrap();
    let basic = format!(
        "Authorization: Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!(
                "{service_id}:{}",
                service["client_secret"].as_str().unwrap()
            )
        )
    );
    for (path, headers, fields, status, error) in [
        (
            "/oauth2/introspect",
            vec![],
            vec![("token", "x")],
            401,
            "invalid_client",
        ),
        (
            "/oauth2/introspect",
            vec![],
            vec![("token", "x"), ("client_id", public_id)],
            401,
            "invalid_client",
        ),
        (
            "/oauth2/introspect",
            vec![basic.as_str()],
            vec![],
            400,
            "invalid_request",
        ),
        (
            "/oauth2/revoke",
            vec![basic.as_str()],
            vec![],
            400,
            "invalid_request",
        ),
        (
            "/oauth2/revoke",
            vec![],
            vec![("token", "x")],
            401,
            "invalid_client",
        ),
    ] {
        let answer = form(port, path, &headers, &fields).await;
        assert_eq!(
            (answer.status, answer.body["error"].as_str()),
            (status, Some(error)),
            "{path} {fields:?}: {:?}",
            answer.body
        );
        assert!(
            answer.head.contains("cache-control: no-store"),
            "{}",
            answer.head
        );
    }
    // A public client revokes its own tokens with its client_id alone; junk is no error.
    let revoked = form(
        port,
        "/oauth2/revoke",
        &[],
        &[("token", "junk"), ("client_id", public_id)],
    )
    .await;
    assert_eq!(revoked.status, 200, "{:?}", revoked.body);

    // openid-client, with another user's tokens.
    let tokens = provider.user_tokens(&client).await;
    let seen = openid_client(
        "client_tokens.mjs",
        &client_token_args(&provider, &service, &client, &tokens),
    );
    assert_eq!(seen["own_scope"], "orders:read", "{seen}");
    assert_eq!(seen["own_refresh_token"], Value::Null, "{seen}");
    assert_eq!(seen["own_introspected"]["active"], true, "{seen}");
    assert_eq!(seen["own_introspected"]["client_id"], service_id, "{seen}");
    assert_eq!(seen["own_revoked"], "unsupported_token_type", "{seen}");
    assert_eq!(seen["refresh_before"]["active"], true, "{seen}");
    assert_eq!(seen["revoked"], "ok", "{seen}");
    assert_eq!(seen["access_after"]["active"], false, "{seen}");

    // Counted by grant and outcome: three service tokens, one escalation refused, two codes
    // exchanged after two sign-ins and two consent pages.
    let metrics = send(port, "GET", "/metrics", &[], b"").await.raw_body;
    for line in [
        "auth_oauth_token_total{grant=\"client_credentials\",outcome=\"success\"} 3",
        "auth_oauth_token_total{grant=\"client_credentials\",outcome=\"invalid_scope\"} 1",
        "auth_oauth_token_total{grant=\"authorization_code\",outcome=\"success\"} 2",
        "auth_oauth_authorize_total{outcome=\"sign_in\"} 2",
        "auth_oauth_authorize_total{outcome=\"consent\"} 2",
        "auth_oauth_authorize_total{outcome=\"code\"} 2",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }
    provider.stop().await;
}

#[tokio::test]
async fn browser_apps_call_the_provider_from_their_own_origin_only() {
    let Some(provider) = Provider::start().await else {
        return;
    };
    let port = provider.server.port;
    // A public client: an app in the browser at this origin.
    provider.register(&[
        "--name",
        "Single-page app",
        "--auth-method",
        "none",
        "--redirect-uri",
        "https://spa.example.com/callback",
    ]);
    // A confidential client's origin is not a browser app's.
    provider.register(&[
        "--name",
        "Server-side app",
        "--redirect-uri",
        "https://web.example.com/callback",
    ]);
    // A native app's loopback redirect URI names no browser origin.
    provider.register(&[
        "--name",
        "Native app",
        "--auth-method",
        "none",
        "--redirect-uri",
        "http://127.0.0.1/callback",
    ]);
    let allowed = |answer: &Answer| {
        answer
            .header("access-control-allow-origin")
            .map(str::to_owned)
    };
    for path in ["/oauth2/token", "/oauth2/userinfo", "/oauth2/revoke"] {
        for (origin, expected) in [
            ("https://spa.example.com", Some("https://spa.example.com")),
            ("https://web.example.com", None),
            ("https://evil.example", None),
            ("http://127.0.0.1", None),
        ] {
            let preflight = send(
                port,
                "OPTIONS",
                path,
                &[
                    &format!("Origin: {origin}"),
                    "Access-Control-Request-Method: POST",
                    "Access-Control-Request-Headers: authorization",
                ],
                b"",
            )
            .await;
            assert_eq!(
                allowed(&preflight).as_deref(),
                expected,
                "{path} from {origin}: {}",
                preflight.raw_head
            );
            assert!(
                !preflight.head.contains("access-control-allow-credentials"),
                "no cookies cross: {}",
                preflight.raw_head
            );
        }
    }
    let discovery = send(
        port,
        "GET",
        "/.well-known/openid-configuration",
        &["Origin: https://spa.example.com"],
        b"",
    )
    .await;
    assert_eq!(discovery.status, 200);
    assert_eq!(
        allowed(&discovery).as_deref(),
        Some("https://spa.example.com")
    );
    // What a script must read of an answer is exposed to it.
    let exposed = discovery
        .header("access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("www-authenticate") && exposed.contains("retry-after"),
        "{exposed}"
    );
    let keys = send(
        port,
        "GET",
        "/.well-known/jwks.json",
        &["Origin: https://spa.example.com"],
        b"",
    )
    .await;
    assert_eq!(keys.status, 200);
    assert_eq!(allowed(&keys).as_deref(), Some("https://spa.example.com"));
    // The account API keeps its own policy (no origins configured here: none).
    let api = send(
        port,
        "OPTIONS",
        "/v1/auth/login",
        &[
            "Origin: https://spa.example.com",
            "Access-Control-Request-Method: POST",
        ],
        b"",
    )
    .await;
    assert_eq!(allowed(&api), None, "{}", api.raw_head);
    provider.stop().await;
}

/// Where the pushing client's users land after logging out.
const SIGNED_OUT: &str = "https://rp.example.com/signed-out";

impl Provider {
    /// A confidential client of the code flow that must push its requests, with a
    /// post-logout redirect URI.
    fn pushing_client(&self) -> Value {
        let client = self.register(&[
            "--name",
            "Bank",
            "--redirect-uri",
            REDIRECT,
            "--post-logout-redirect-uri",
            SIGNED_OUT,
            "--require-par",
            "--scope",
            "openid",
            "--scope",
            "email",
            "--scope",
            "offline_access",
        ]);
        assert_eq!(client["require_pushed_authorization_requests"], true);
        assert_eq!(client["post_logout_redirect_uris"], json!([SIGNED_OUT]));
        client
    }
}

/// `email` signed in to `jar` through a request `client` pushed, and the tokens of the code.
async fn pushed_sign_in(provider: &Provider, jar: &mut Jar, client: &Value, email: &str) -> Value {
    let port = provider.server.port;
    let header = basic(client);
    let id = client["client_id"].as_str().unwrap();
    let pushed = form(
        port,
        "/oauth2/par",
        &[header.as_str()],
        &[
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid email"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(pushed.status, 201, "{:?}", pushed.body);
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", id)
        .append_pair("request_uri", pushed.body["request_uri"].as_str().unwrap())
        .finish();
    let back = jar
        .authorize(
            &format!("{}/oauth2/authorize?{query}", provider.issuer),
            REDIRECT,
            email,
            "allow",
        )
        .await;
    let code = url::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens = form(
        port,
        "/oauth2/token",
        &[header.as_str()],
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            (
                "code_verifier",
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            ),
        ],
    )
    .await;
    assert_eq!(tokens.status, 200, "{:?}", tokens.body);
    tokens.body
}

/// HTTP Basic credentials of a client from the command line.
fn basic(client: &Value) -> String {
    use base64::Engine as _;
    let pair = format!(
        "{}:{}",
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap()
    );
    format!(
        "Authorization: Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

#[tokio::test]
async fn openid_client_pushes_its_request_and_signs_the_user_out() {
    if !require(Need::NodeOpenidClient) {
        return;
    }
    let Some(provider) = Provider::start().await else {
        return;
    };
    let client = provider.pushing_client();
    let email = provider.account().await;
    let seen = openid_client(
        "par_logout.mjs",
        &[
            provider.issuer.as_str(),
            client["client_id"].as_str().unwrap(),
            client["client_secret"].as_str().unwrap(),
            REDIRECT,
            SIGNED_OUT,
            email.as_str(),
            PASSWORD,
        ],
    );
    let issuer = &provider.issuer;
    assert_eq!(
        seen["par_endpoint"],
        format!("{issuer}/oauth2/par"),
        "{seen}"
    );
    assert_eq!(
        seen["end_session_endpoint"],
        format!("{issuer}/oauth2/logout"),
        "{seen}"
    );
    // The browser carried the reference alone, there and back through the sign-in page.
    assert_eq!(seen["sent"], json!(["client_id", "request_uri"]), "{seen}");
    assert_eq!(
        seen["resumed_with"],
        json!(["client_id", "request_uri", "resume"]),
        "{seen}"
    );
    assert_eq!(seen["email"], email.as_str(), "{seen}");
    // Used by its code: a page, no redirect.
    assert_eq!(seen["used_again"]["status"], 400, "{seen}");
    assert_eq!(seen["used_again"]["location"], Value::Null, "{seen}");
    assert!(
        seen["used_again"]["page"]
            .as_str()
            .unwrap()
            .contains("request_uri is unknown, expired or used"),
        "{seen}"
    );
    assert_eq!(seen["escalation"], "invalid_scope", "{seen}");
    assert_eq!(seen["unregistered"]["status"], 400, "{seen}");
    assert_eq!(seen["unregistered"]["location"], Value::Null, "{seen}");
    assert!(
        seen["unregistered"]["page"]
            .as_str()
            .unwrap()
            .contains("post_logout_redirect_uri is not one the client registered"),
        "{seen}"
    );
    // The hint named the user signed in: no question, straight back with the state.
    assert_eq!(seen["logout"]["status"], 303, "{seen}");
    assert_eq!(
        seen["logout"]["location"],
        format!(
            "{SIGNED_OUT}?state={}",
            seen["logout_state"].as_str().unwrap()
        ),
        "{seen}"
    );
    assert_eq!(seen["session_cookie_left"], false, "{seen}");
    assert_eq!(seen["userinfo_after"], 401, "{seen}");
    assert_eq!(seen["refresh_after"], "invalid_grant", "{seen}");
    provider.stop().await;
}

#[tokio::test]
async fn pushed_requests_and_logout_refuse_what_they_must() {
    let Some(provider) = Provider::start().await else {
        return;
    };
    let port = provider.server.port;
    let issuer = provider.issuer.clone();
    let bank = provider.pushing_client();
    let other = provider.client("client_secret_basic", false);
    let bank_id = bank["client_id"].as_str().unwrap();
    let other_id = other["client_id"].as_str().unwrap();
    let request = |id: &str| {
        vec![
            ("client_id", id.to_owned()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("response_type", "code".to_owned()),
            ("scope", "openid email".to_owned()),
            ("state", "s1".to_owned()),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
            ),
            ("code_challenge_method", "S256".to_owned()),
        ]
    };
    let fields = |pairs: &[(&'static str, String)]| {
        pairs
            .iter()
            .map(|(n, v)| (*n, v.clone()))
            .collect::<Vec<_>>()
    };
    let push = |client: &Value, extra: &[(&'static str, String)]| {
        let mut pairs = request(client["client_id"].as_str().unwrap());
        pairs.extend_from_slice(extra);
        let header = basic(client);
        async move {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
            form(port, "/oauth2/par", &[header.as_str()], &pairs).await
        }
    };

    // The bank's request in the browser's address: refused to its redirect URI.
    let whole: Vec<(&str, String)> = fields(&request(bank_id));
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(whole.iter().map(|(n, v)| (*n, v.as_str())))
        .finish();
    let mut jar = Jar::default();
    let answer = jar.get(&format!("{issuer}/oauth2/authorize?{query}")).await;
    assert_eq!(answer.status, 303, "{}", answer.raw_body);
    let location = url::Url::parse(answer.header("location").unwrap()).unwrap();
    let params: HashMap<String, String> = location.query_pairs().into_owned().collect();
    assert!(location.as_str().starts_with(REDIRECT));
    assert_eq!(params["error"], "invalid_request");
    assert_eq!(params["state"], "s1");
    assert_eq!(params["iss"], issuer);

    // Pushes the endpoint refuses, each with its error.
    let mut wrong_secret = bank.clone();
    wrong_secret["client_secret"] = json!("not-the-secret");
    let answer = push(&wrong_secret, &[]).await;
    assert_eq!(
        (answer.status, answer.body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let mut unknown = bank.clone();
    unknown["client_id"] = json!("no-such-client");
    let answer = push(&unknown, &[]).await;
    assert_eq!(
        (answer.status, answer.body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let answer = push(&bank, &[("request_uri", "urn:x".to_owned())]).await;
    assert_eq!(
        (answer.status, answer.body["error"].as_str()),
        (400, Some("invalid_request")),
        "{:?}",
        answer.body
    );
    let answer = push(&bank, &[("prompt", "none login".to_owned())]).await;
    assert_eq!(
        (answer.status, answer.body["error"].as_str()),
        (400, Some("invalid_request")),
        "{:?}",
        answer.body
    );
    let unwanted = send(
        port,
        "POST",
        "/oauth2/par",
        &[basic(&bank).as_str(), "Content-Type: application/json"],
        b"{}",
    )
    .await;
    assert_eq!(unwanted.status, 400);

    // A good push: 201, no caching; used by another client, a page and no redirect.
    let answer = push(&bank, &[]).await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_eq!(answer.body["expires_in"], 600);
    let request_uri = answer.body["request_uri"].as_str().unwrap().to_owned();
    let by_other = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", other_id)
        .append_pair("request_uri", &request_uri)
        .finish();
    let answer = jar
        .get(&format!("{issuer}/oauth2/authorize?{by_other}"))
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.header("location"), None);
    assert!(
        answer
            .raw_body
            .contains("request_uri was pushed by another client"),
        "{}",
        answer.raw_body
    );

    // Logout requests that cannot be trusted: a page, never a redirect.
    let email = provider.account().await;
    let signed_in = jar
        .authorize(
            &format!(
                "{issuer}/oauth2/authorize?{}",
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("client_id", bank_id)
                    .append_pair("request_uri", &request_uri)
                    .finish()
            ),
            REDIRECT,
            &email,
            "allow",
        )
        .await;
    assert!(signed_in.contains("code="), "{signed_in}");
    let session = jar.cookie(port, "__Host-auth_session");
    assert!(session.is_some());
    for (query, why) in [
        (String::new(), "id_token_hint or client_id is required"),
        (
            format!("post_logout_redirect_uri={SIGNED_OUT}"),
            "id_token_hint or client_id is required",
        ),
        (
            "id_token_hint=eyJhbGciOiJub25lIn0.e30.".to_owned(),
            "id_token_hint is not an ID token of this server",
        ),
        ("client_id=nope".to_owned(), "no client has this client_id"),
        (
            format!("client_id={bank_id}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F"),
            "post_logout_redirect_uri is not one the client registered",
        ),
        (
            format!("client_id={other_id}&post_logout_redirect_uri={SIGNED_OUT}"),
            "post_logout_redirect_uri is not one the client registered",
        ),
        (
            format!("client_id={bank_id}&client_id={other_id}"),
            "client_id is sent more than once",
        ),
    ] {
        let answer = jar.get(&format!("{issuer}/oauth2/logout?{query}")).await;
        assert_eq!(answer.status, 400, "{query}: {}", answer.raw_body);
        assert_eq!(answer.header("location"), None, "{query}");
        assert!(
            answer.raw_body.contains(why),
            "{query}: {}",
            answer.raw_body
        );
    }
    assert_eq!(
        jar.cookie(port, "__Host-auth_session"),
        session,
        "still signed in"
    );

    // A client's POST moves on to the same request by GET.
    let answer = form(
        port,
        "/oauth2/logout",
        &[],
        &[
            ("client_id", bank_id),
            ("post_logout_redirect_uri", SIGNED_OUT),
            ("state", "bye"),
            ("csrf_token", "dropped"),
        ],
    )
    .await;
    assert_eq!(answer.status, 303, "{}", answer.raw_body);
    let onward = answer.header("location").unwrap().to_owned();
    assert!(onward.starts_with("/oauth2/logout?"), "{onward}");
    assert!(!onward.contains("csrf_token"), "{onward}");

    // No hint: the user is asked first, and a confirmation without its CSRF token fails.
    let page = jar.get(&format!("{issuer}{onward}")).await;
    assert_eq!(page.status, 200, "{}", page.raw_body);
    assert!(page.raw_body.contains("id=\"logout-confirm\""));
    assert!(page.raw_body.contains("Bank"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("form-action 'self' https://rp.example.com;"),
        "{csp}"
    );
    let fields = hidden_fields(&page.raw_body);
    let without_csrf: Vec<(&str, &str)> = fields
        .iter()
        .filter(|(name, _)| name != "csrf_token")
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let refused = jar
        .post(&format!("{issuer}/oauth2/logout/confirm"), &without_csrf)
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(jar.cookie(port, "__Host-auth_session"), session);
    let all: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let done = jar
        .post(&format!("{issuer}/oauth2/logout/confirm"), &all)
        .await;
    assert_eq!(done.status, 303, "{}", done.raw_body);
    assert_eq!(
        done.header("location"),
        Some(format!("{SIGNED_OUT}?state=bye").as_str())
    );
    assert_eq!(jar.cookie(port, "__Host-auth_session"), None, "signed out");

    // Nobody signed in and no hint: nothing to ask, straight back; without a URI, a page.
    let answer = jar
        .get(&format!(
            "{issuer}/oauth2/logout?client_id={bank_id}&post_logout_redirect_uri={SIGNED_OUT}"
        ))
        .await;
    assert_eq!(answer.status, 303);
    assert_eq!(answer.header("location"), Some(SIGNED_OUT));
    let answer = jar
        .get(&format!("{issuer}/oauth2/logout?client_id={bank_id}"))
        .await;
    assert_eq!(answer.status, 200);
    assert!(answer.raw_body.contains("You are signed out."));

    // Another user's hint in a signed-in browser: asked about, and it ends nothing of theirs.
    let ada = provider.account().await;
    let mut ada_browser = Jar::default();
    let ada_tokens = pushed_sign_in(&provider, &mut ada_browser, &bank, &ada).await;
    let bob = provider.account().await;
    let mut bob_browser = Jar::default();
    let bob_tokens = pushed_sign_in(&provider, &mut bob_browser, &bank, &bob).await;
    let userinfo = |tokens: &Value| {
        let access = tokens["access_token"].as_str().unwrap().to_owned();
        async move {
            get_json(port, "/oauth2/userinfo", Some(&access))
                .await
                .status
        }
    };
    let hinted = |tokens: &Value| {
        format!(
            "{issuer}/oauth2/logout?id_token_hint={}&post_logout_redirect_uri={SIGNED_OUT}",
            tokens["id_token"].as_str().unwrap()
        )
    };
    let page = bob_browser.get(&hinted(&ada_tokens)).await;
    assert_eq!(page.status, 200, "{}", page.raw_body);
    assert!(page.raw_body.contains("id=\"logout-confirm\""));
    let fields = hidden_fields(&page.raw_body);
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let done = bob_browser
        .post(&format!("{issuer}/oauth2/logout/confirm"), &fields)
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(bob_browser.cookie(port, "__Host-auth_session"), None);
    assert_eq!(userinfo(&ada_tokens).await, 200, "Ada's grant goes on");
    assert_eq!(
        userinfo(&bob_tokens).await,
        200,
        "Bob's grant was not named"
    );
    // Ada's own hint in her browser: no question, her grant and her browser signed out.
    let answer = ada_browser.get(&hinted(&ada_tokens)).await;
    assert_eq!(answer.status, 303, "{}", answer.raw_body);
    assert_eq!(answer.header("location"), Some(SIGNED_OUT));
    assert_eq!(ada_browser.cookie(port, "__Host-auth_session"), None);
    assert_eq!(userinfo(&ada_tokens).await, 401);
    // Bob's hint in a browser signed in nowhere (unexpired): his grant ends.
    let answer = Jar::default().get(&hinted(&bob_tokens)).await;
    assert_eq!(answer.status, 303);
    assert_eq!(userinfo(&bob_tokens).await, 401);
    // A client's POST too long to move on is refused.
    let long = "x".repeat(9000);
    let answer = form(port, "/oauth2/logout", &[], &[("state", long.as_str())]).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.header("location"), None);
    provider.stop().await;
}

/// A script of `support/` (Python) run with `args`: what it printed (it must succeed).
fn python_script(script: &str, args: &[&str]) -> Value {
    let path = format!("{}/tests/support/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = std::process::Command::new("python3")
        .arg(path)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

impl Provider {
    /// A service of client_credentials authenticating with `private_key_jwt` and `keys`
    /// (`--jwks` or `--jwks-uri` and its value), registered with `env`: success, and what the
    /// CLI printed (its JSON, or the error it wrote as a string).
    fn key_service(&self, keys: [&str; 2], env: &[(&str, &str)]) -> (bool, Value) {
        let output = cli(
            &self.schema,
            &[
                "client",
                "create",
                "--name",
                "Keyed service",
                "--auth-method",
                "private_key_jwt",
                keys[0],
                keys[1],
                "--grant",
                "client_credentials",
                "--scope",
                "orders:read",
                "--audience",
                "https://orders.example.com",
            ],
            env,
        );
        let printed = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
            Value::String(String::from_utf8_lossy(&output.stderr).into_owned())
        });
        (output.status.success(), printed)
    }
}

/// A server of one JWK Set on loopback, counting the requests it answers.
async fn keys_server(jwks: String) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/jwk-set+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{jwks}",
                jwks.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        }
    });
    (url, served)
}

// Two workers: one serves the keys while the other waits for a script.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authlib_and_openid_client_authenticate_with_keys_they_make() {
    if !require_all(&[Need::PythonAuthlib, Need::NodeOpenidClient]) {
        return;
    }
    let allowing = [("CLIENT_JWKS_ALLOW_PRIVATE", "true")];
    let Some(provider) = Provider::start_with_env(&allowing).await else {
        return;
    };
    let issuer = provider.issuer.as_str();

    // authlib: an RSA key of its making, registered inline.
    let keys = python_script("oidc_private_key_jwt_authlib.py", &["keys"]);
    let public = keys["public"].to_string();
    let (ok, service) = provider.key_service(["--jwks", &public], &[]);
    assert!(ok, "{service}");
    assert_eq!(service["client_secret"], Value::Null, "a key, no secret");
    assert_eq!(service["jwks"], keys["public"]);
    let id = service["client_id"].as_str().unwrap();
    let private = keys["private"].to_string();
    let seen = python_script(
        "oidc_private_key_jwt_authlib.py",
        &["use", issuer, id, &private],
    );
    assert!(
        seen["methods"]
            .as_array()
            .unwrap()
            .contains(&json!("private_key_jwt")),
        "{seen}"
    );
    assert_eq!(seen["scope"], "orders:read", "{seen}");
    assert_eq!(seen["introspected"]["active"], true, "{seen}");
    assert_eq!(seen["introspected"]["client_id"], id, "{seen}");
    assert_eq!(seen["first"]["status"], 200, "{seen}");
    assert_eq!(seen["replayed"]["status"], 401, "{seen}");
    assert_eq!(
        seen["replayed"]["body"],
        json!({
            "error": "invalid_client",
            "error_description": "the client assertion's jti was used already"
        }),
        "{seen}"
    );
    assert_eq!(
        seen["default_aud"],
        json!({
            "error": "invalid_client",
            "description": "the client assertion's aud is the issuer identifier, alone"
        }),
        "authlib's default aud, the token endpoint, is refused: {seen}"
    );

    // openid-client: an ES256 key of its making, at a jwks_uri (fetched once, then cached).
    let keys = openid_client("private_key_jwt.mjs", &["keys"]);
    let (jwks_uri, served) = keys_server(keys["public"].to_string()).await;
    let (ok, service) = provider.key_service(["--jwks-uri", &jwks_uri], &allowing);
    assert!(ok, "{service}");
    assert_eq!(service["jwks_uri"], jwks_uri.as_str());
    let id = service["client_id"].as_str().unwrap();
    let private = keys["private"].to_string();
    let seen = openid_client("private_key_jwt.mjs", &["use", issuer, id, &private]);
    assert_eq!(seen["first"], json!({"scope": "orders:read"}), "{seen}");
    assert_eq!(seen["second"], json!({"scope": "orders:read"}), "{seen}");
    assert_eq!(seen["introspected"]["active"], true, "{seen}");
    assert_eq!(seen["introspected"]["client_id"], id, "{seen}");
    assert_eq!(
        served.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "three authentications, one fetch"
    );
    provider.stop().await;

    // A server that allows no private address: registration refuses one written in the URL,
    // and the server refuses to fetch from one a lenient registration let through.
    let Some(strict) = Provider::start().await else {
        return;
    };
    let (ok, refused) = strict.key_service(["--jwks-uri", "https://10.0.0.1/jwks.json"], &[]);
    assert!(!ok);
    assert!(
        refused
            .to_string()
            .contains("a private, loopback, link-local or metadata address is refused"),
        "{refused}"
    );
    let (ok, refused) = strict.key_service(["--jwks-uri", &jwks_uri], &[]);
    assert!(!ok);
    assert!(refused.to_string().contains("https only"), "{refused}");
    let (ok, service) = strict.key_service(["--jwks-uri", &jwks_uri], &allowing);
    assert!(ok, "{service}");
    let id = service["client_id"].as_str().unwrap();
    let seen = openid_client(
        "private_key_jwt.mjs",
        &["use", strict.issuer.as_str(), id, &private],
    );
    assert_eq!(
        seen["first"],
        json!({
            "error": "invalid_client",
            "description": "the client's keys could not be fetched"
        }),
        "{seen}"
    );
    assert_eq!(
        served.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the strict server never called the private address"
    );
    strict.stop().await;
}
