//! Passkeys over HTTP against the built server: every JSON route, end to end, with the
//! software authenticator playing the browser and the passkey.
#![allow(clippy::unwrap_used)]

mod common;

use auth_core::testing::passkey::SoftPasskey;
use common::*;
use serde_json::{Value, json};

/// A server on a port chosen first, its relying party `localhost` on that port's origin.
async fn passkey_server() -> (Server, String) {
    let port = free_port().to_string();
    let origin = format!("http://localhost:{port}");
    let server = start_with(&[
        ("PORT", port.as_str()),
        ("PASSKEY_RP_ID", "localhost"),
        ("PASSKEY_ORIGINS", origin.as_str()),
    ])
    .await;
    (server, origin)
}

async fn send_json(port: u16, method: &str, path: &str, body: &Value, bearer: &str) -> Answer {
    let authorization = format!("authorization: Bearer {bearer}");
    let headers = ["content-type: application/json", authorization.as_str()];
    send(port, method, path, &headers, body.to_string().as_bytes()).await
}

fn access(answer: &Answer) -> String {
    answer.body["access_token"].as_str().unwrap().to_owned()
}

/// The `amr` claim of a JWT access token.
fn amr(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice::<Value>(&payload).unwrap()["amr"].clone()
}

/// Registers `passkey` for the account whose access token is `bearer`.
async fn register(port: u16, bearer: &str, passkey: &mut SoftPasskey, name: &str) -> Answer {
    let options = post_json(
        port,
        "/v1/auth/passkeys/register/options",
        &json!({}),
        Some(bearer),
    )
    .await;
    assert_eq!(options.status, 200, "{:?}", options.body);
    let credential = passkey.create(&options.body["options"]);
    post_json(
        port,
        "/v1/auth/passkeys/register/finish",
        &json!({"ceremony": options.body["ceremony"], "credential": credential, "name": name}),
        Some(bearer),
    )
    .await
}

/// A passwordless sign-in, discoverable or with `username`.
async fn sign_in(port: u16, passkey: &mut SoftPasskey, username: Option<&str>) -> Answer {
    let request = match username {
        Some(username) => json!({"username": username}),
        None => json!({"mediation": "conditional"}),
    };
    let options = post_json(port, "/v1/auth/passkeys/login/options", &request, None).await;
    assert_eq!(options.status, 200, "{:?}", options.body);
    let credential = passkey.get(&options.body["options"]);
    post_json(
        port,
        "/v1/auth/passkeys/login/finish",
        &json!({"ceremony": options.body["ceremony"], "credential": credential}),
        None,
    )
    .await
}

#[tokio::test]
async fn the_json_api_registers_signs_in_and_manages_passkeys() {
    let (server, origin) = passkey_server().await;
    let port = server.port;
    let (credentials, login) = signed_in(port, "pk").await;
    let bearer = access(&login);
    let mut passkey = SoftPasskey::synced(&origin);

    let registered = register(port, &bearer, &mut passkey, "Laptop").await;
    assert_eq!(registered.status, 201, "{:?}", registered.body);
    assert_eq!(registered.body["id"], passkey.id());
    assert_eq!(registered.body["name"], "Laptop");
    assert_eq!(registered.body["backup_eligible"], true);
    assert_eq!(registered.body["transports"], json!(["hybrid", "internal"]));

    // Discoverable sign-in, as autofill runs it.
    let options = post_json(
        port,
        "/v1/auth/passkeys/login/options",
        &json!({"mediation": "conditional"}),
        None,
    )
    .await;
    assert_eq!(options.body["options"]["mediation"], "conditional");
    assert_eq!(
        options.body["options"]["publicKey"]["userVerification"],
        "required"
    );
    let signed_in = sign_in(port, &mut passkey, None).await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    let token = access(&signed_in);
    assert_eq!(amr(&token), json!(["swk", "user"]));

    // Listed, renamed.
    let listed = get_json(port, "/v1/auth/passkeys", Some(&token)).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["passkeys"][0]["id"], passkey.id());
    assert!(listed.body["passkeys"][0]["last_used_at"].is_u64());
    let path = format!("/v1/auth/passkeys/{}", passkey.id());
    let renamed = send_json(
        port,
        "PATCH",
        &path,
        &json!({"name": "Work laptop"}),
        &token,
    )
    .await;
    assert_eq!(renamed.status, 204, "{:?}", renamed.body);
    let listed = get_json(port, "/v1/auth/passkeys", Some(&token)).await;
    assert_eq!(listed.body["passkeys"][0]["name"], "Work laptop");

    // The password alone still signs in: a passkey answers a second-factor challenge, it
    // does not start one. With TOTP on, the challenge offers the passkey first.
    let login = post_json(port, "/v1/auth/login", &credentials, None).await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    let password_session = access(&login);
    enable_totp(port, &password_session).await;
    let login = post_json(port, "/v1/auth/login", &credentials, None).await;
    assert_eq!(login.body["mfa_required"], true);
    assert_eq!(
        login.body["factors"],
        json!(["passkey", "totp", "recovery_code"])
    );
    let mfa_token = login.body["mfa_token"].clone();
    let options = post_json(
        port,
        "/v1/auth/passkeys/mfa/options",
        &json!({"mfa_token": mfa_token}),
        None,
    )
    .await;
    assert_eq!(options.status, 200, "{:?}", options.body);
    let credential = passkey.get(&options.body["options"]);
    let verified = post_json(
        port,
        "/v1/auth/passkeys/mfa/finish",
        &json!({"mfa_token": mfa_token, "ceremony": options.body["ceremony"], "credential": credential}),
        None,
    )
    .await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    let mfa_session = access(&verified);
    assert_eq!(amr(&mfa_session), json!(["pwd", "swk", "user", "mfa"]));

    // Reauthentication with the passkey.
    let options = post_json(
        port,
        "/v1/auth/passkeys/reauthenticate/options",
        &json!({}),
        Some(&mfa_session),
    )
    .await;
    let credential = passkey.get(&options.body["options"]);
    let fresh = post_json(
        port,
        "/v1/auth/reauthenticate",
        &json!({"passkey": {"ceremony": options.body["ceremony"], "credential": credential}}),
        Some(&mfa_session),
    )
    .await;
    assert_eq!(fresh.status, 200, "{:?}", fresh.body);

    // Removed (the session is fresh): the passkey signs in no more.
    let fresh = access(&fresh);
    let removed = send_json(port, "DELETE", &path, &json!(null), &fresh).await;
    assert_eq!(removed.status, 204, "{:?}", removed.body);
    let refused = sign_in(port, &mut passkey, None).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.body["error"], "invalid_credentials");
    let gone = send_json(port, "DELETE", &path, &json!(null), &fresh).await;
    assert_eq!(gone.status, 404);
}

#[tokio::test]
async fn username_first_answers_look_the_same_for_every_name() {
    let (server, origin) = passkey_server().await;
    let port = server.port;
    let (with_key, login) = signed_in(port, "keyed").await;
    let mut key = SoftPasskey::security_key(&origin);
    let registered = register(port, &access(&login), &mut key, "Key").await;
    assert_eq!(registered.status, 201, "{:?}", registered.body);
    let (without_key, _) = signed_in(port, "keyless").await;

    let allow = |username: Value| async move {
        let options = post_json(
            port,
            "/v1/auth/passkeys/login/options",
            &json!({"username": username}),
            None,
        )
        .await;
        assert_eq!(options.status, 200, "{:?}", options.body);
        options.body["options"]["publicKey"]["allowCredentials"].clone()
    };
    let real = allow(with_key["email"].clone()).await;
    assert_eq!(real[0]["id"], key.id());
    let keyless = allow(without_key["email"].clone()).await;
    let unknown = allow(json!("nobody-at-all@example.com")).await;
    // A real entry has `id`, `type` and, when the browser reported them, `transports`: a
    // fake one has the same fields, its transports present or not as real ones vary.
    let real_fields: Vec<&String> = real[0].as_object().unwrap().keys().collect();
    assert_eq!(real_fields, ["id", "transports", "type"]);
    for fake in [&keyless, &unknown] {
        for entry in fake.as_array().unwrap() {
            let fields: Vec<&String> = entry.as_object().unwrap().keys().collect();
            assert!(
                fields == real_fields || fields == ["id", "type"],
                "a fake entry has the fields of a real one: {fields:?}"
            );
        }
    }
    assert_eq!(keyless, allow(without_key["email"].clone()).await);
    assert_eq!(unknown, allow(json!("nobody-at-all@example.com")).await);

    // The key signs in named first; its counter went up.
    key.user_handle = None;
    let signed_in = sign_in(port, &mut key, with_key["email"].as_str()).await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    assert_eq!(amr(&access(&signed_in)), json!(["hwk", "user"]));
}

#[tokio::test]
async fn bad_answers_get_clear_errors() {
    let (server, origin) = passkey_server().await;
    let port = server.port;
    let (_, login) = signed_in(port, "bad").await;
    let bearer = access(&login);

    // Another origin's answer.
    let mut elsewhere = SoftPasskey::synced("http://evil.localhost:1");
    let refused = register(port, &bearer, &mut elsewhere, "x").await;
    assert_eq!(refused.status, 401, "{:?}", refused.body);
    assert_eq!(refused.body["error"], "invalid_credentials");

    let options = post_json(port, "/v1/auth/passkeys/login/options", &json!({}), None).await;
    let ceremony = options.body["ceremony"].clone();
    // A body without a credential, a credential that is not an object, a ceremony id that
    // names none, a credential that is not one (its ceremony is spent by the try), and that
    // ceremony again.
    let cases = [
        (json!({"ceremony": ceremony}), 400, "invalid_request"),
        (
            json!({"ceremony": ceremony, "credential": [1]}),
            400,
            "invalid_request",
        ),
        (
            json!({"ceremony": "not-a-ceremony", "credential": {}}),
            410,
            "ceremony_invalid",
        ),
        (
            json!({"ceremony": ceremony, "credential": {"id": 1}}),
            400,
            "invalid_request",
        ),
        (
            json!({"ceremony": ceremony, "credential": {}}),
            410,
            "ceremony_invalid",
        ),
    ];
    for (body, status, error) in cases {
        let answer = post_json(port, "/v1/auth/passkeys/login/finish", &body, None).await;
        assert_eq!(answer.status, status, "{body}: {:?}", answer.body);
        assert_eq!(answer.body["error"], error, "{body}");
    }
    // An unknown (or finished, or expired) ceremony.
    let mut passkey = SoftPasskey::synced(&origin);
    let credential = passkey.get(&options.body["options"]);
    let late = post_json(
        port,
        "/v1/auth/passkeys/login/finish",
        &json!({"ceremony": "AAAAAAAAAAAAAAAAAAAAAA", "credential": credential}),
        None,
    )
    .await;
    assert_eq!(late.status, 410, "{:?}", late.body);
    assert_eq!(late.body["error"], "ceremony_invalid");
    let name = json!({"name": "x".repeat(65)});
    let path = format!("/v1/auth/passkeys/{}", passkey.id());
    let too_long = send_json(port, "PATCH", &path, &name, &bearer).await;
    assert_eq!(too_long.status, 400, "{:?}", too_long.body);
    let not_an_id = send_json(
        port,
        "PATCH",
        "/v1/auth/passkeys/%2B%2B",
        &json!({"name": "x"}),
        &bearer,
    )
    .await;
    assert_eq!(not_an_id.status, 404, "{:?}", not_an_id.body);
    let unknown = send_json(port, "PATCH", &path, &json!({"name": "x"}), &bearer).await;
    assert_eq!(unknown.status, 404, "{:?}", unknown.body);
}

#[tokio::test]
async fn without_a_relying_party_the_routes_are_not_found() {
    let server = start().await;
    let answer = post_json(
        server.port,
        "/v1/auth/passkeys/login/options",
        &json!({}),
        None,
    )
    .await;
    assert_eq!(answer.status, 404, "{:?}", answer.body);
    assert_eq!(answer.body["error"], "not_found");
}
