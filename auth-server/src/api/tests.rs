//! The API's tests over the development router: what it answers, and that its router and its
//! OpenAPI document list the same routes.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{Method, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn send(
    router: &Router,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: &str,
) -> (StatusCode, serde_json::Value) {
    let (status, _, json) = answer(router, method, path, bearer, body).await;
    (status, json)
}

/// `(status, headers, JSON body)` of `router`'s answer to a request with a JSON `body`.
async fn answer(
    router: &Router,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: &str,
) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let mut request = request.body(Body::from(body.to_owned())).unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 40_000))));
    let (parts, body) = router.clone().oneshot(request).await.unwrap().into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        panic!(
            "{} with a non-JSON body: {}",
            parts.status,
            String::from_utf8_lossy(&bytes)
        )
    });
    (parts.status, parts.headers, json)
}

/// Registers `email` (password `correct horse battery staple`) and logs in: the token body.
async fn signed_up(router: &Router, email: &str) -> serde_json::Value {
    let credentials =
        serde_json::json!({ "email": email, "password": "correct horse battery staple" })
            .to_string();
    let (status, _) = send(
        router,
        Method::POST,
        "/v1/auth/register",
        None,
        &credentials,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, tokens) = send(router, Method::POST, "/v1/auth/login", None, &credentials).await;
    assert_eq!(status, StatusCode::OK);
    tokens
}

/// Found by the `api_bodies` fuzz target: axum's own plain-text rejection answered a
/// session id that percent-decodes to invalid UTF-8.
#[tokio::test]
async fn a_session_id_that_is_not_utf8_is_answered_400_in_our_json_shape() {
    let router = crate::development_router().unwrap();
    let tokens = signed_up(&router, "ada@example.com").await;
    let token = tokens["access_token"].as_str().unwrap();

    let (status, body) = send(
        &router,
        Method::DELETE,
        "/v1/auth/sessions/%9A",
        Some(token),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
    assert!(body["message"].is_string());
}

/// The methods each path of an OpenAPI `paths` object has an operation for, upper case.
fn operations(paths: &serde_json::Value) -> BTreeMap<String, BTreeSet<String>> {
    const METHODS: [&str; 9] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace", "query",
    ];
    let mut operations = BTreeMap::new();
    for (path, item) in paths.as_object().into_iter().flatten() {
        let methods: &mut BTreeSet<String> = operations.entry(path.clone()).or_default();
        for method in item.as_object().into_iter().flatten().map(|(key, _)| key) {
            if METHODS.contains(&method.as_str()) {
                methods.insert(method.to_uppercase());
            }
        }
    }
    operations
}

/// The methods each path of the route table has a handler for.
fn table_operations() -> BTreeMap<String, BTreeSet<String>> {
    let mut table: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, (_, paths, _)) in super::table() {
        for (path, methods) in operations(&serde_json::to_value(paths).unwrap()) {
            table.entry(path).or_default().extend(methods);
        }
    }
    table
}

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_operations_of_the_route_table() {
    let router = crate::development_router().unwrap();
    let (status, doc) = send(&router, Method::GET, "/openapi.json", None, "").await;
    assert_eq!(status, StatusCode::OK);
    let table = table_operations();
    assert!(!table.is_empty());
    assert_eq!(operations(&doc["paths"]), table);
}

/// Every operation documents what its shape alone can answer (a body: 400, 413, 415; a bearer
/// route: 401 with its challenge; any: 503 with `Retry-After`), every error answer is an
/// `ErrorBody`, and nothing hides behind a `default`.
#[tokio::test]
async fn every_operation_documents_the_answers_its_shape_gives() {
    let router = crate::development_router().unwrap();
    let (_, doc) = send(&router, Method::GET, "/openapi.json", None, "").await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let answers = operation["responses"].as_object().unwrap();
            let has = |status: &str| answers.contains_key(status);
            let at = format!("{method} {path}");
            assert!(!has("default"), "{at}");
            assert!(
                answers["503"]["headers"]["Retry-After"].is_object(),
                "{at}: 503 with Retry-After"
            );
            if operation.get("requestBody").is_some() {
                for status in ["400", "413", "415"] {
                    assert!(has(status), "{at}: {status}");
                }
            }
            let bearer = operation["security"]
                .as_array()
                .is_some_and(|requirements| !requirements.is_empty());
            if bearer {
                assert!(has("401"), "{at}: 401");
            }
            // The pages a mailed link opens answer their refusals as pages too.
            // (A form-posting operation answers pages too, and JSON to JSON: its errors keep
            // the JSON body.)
            let page = answers.get("200").is_some_and(|ok| {
                ok["content"]["text/html"].is_object()
                    && !ok["content"]["application/json"].is_object()
            });
            for (status, answer) in answers {
                if status.starts_with('4') || status.starts_with('5') {
                    if page && status.starts_with('4') {
                        assert!(
                            answer["content"]["text/html"].is_object(),
                            "{at}: {status} is a page"
                        );
                        continue;
                    }
                    assert_eq!(
                        answer["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{at}: {status}"
                    );
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 38);
}

/// Asked with a method it does not serve, a route answers with `Allow` listing the methods
/// it does serve (`HEAD` with `GET`); the bearer routes do so on their 401.
#[tokio::test]
async fn the_router_serves_exactly_the_methods_of_the_route_table_on_each_path() {
    let router = crate::development_router().unwrap();
    for (path, methods) in table_operations() {
        let unserved = [Method::PATCH, Method::PUT, Method::TRACE]
            .into_iter()
            .find(|method| !methods.contains(method.as_str()))
            .unwrap();
        let mut request = Request::builder()
            .method(unserved.clone())
            .uri(path.replace("{id}", "00000000"))
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 40_000))));
        let response = router.clone().oneshot(request).await.unwrap();
        let allowed: BTreeSet<String> = response
            .headers()
            .get(header::ALLOW)
            .and_then(|allow| allow.to_str().ok())
            .unwrap_or_default()
            .split(',')
            .map(|method| method.trim().to_owned())
            .filter(|method| !method.is_empty())
            .collect();
        let mut expected = methods.clone();
        if expected.contains("GET") {
            expected.insert("HEAD".to_owned());
        }
        assert_eq!(
            allowed,
            expected,
            "{unserved} {path} answered {}",
            response.status()
        );
    }
}

/// A handler's `401` says how to authenticate, as `AuthLayer`'s do, in the API's realm; its
/// description is the generic message, never a token's rejection reason.
#[tokio::test]
async fn a_handlers_401_carries_a_bearer_challenge_with_a_generic_description() {
    let router = crate::development_router().unwrap();
    let cases = [
        (
            "/v1/auth/login",
            r#"{"email":"nobody@example.com","password":"wrong horse battery staple"}"#,
            "invalid_credentials",
            "invalid credentials",
        ),
        (
            "/v1/auth/refresh",
            r#"{"refresh_token":"garbage"}"#,
            "invalid_token",
            "the token is invalid",
        ),
    ];
    for (path, body, code, message) in cases {
        let (status, headers, body) = answer(&router, Method::POST, path, None, body).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some(code)),
            "{path}"
        );
        assert_eq!(body["message"], message, "{path}");
        assert_eq!(
            headers[header::WWW_AUTHENTICATE],
            format!(
                "Bearer realm=\"auth\", error=\"invalid_token\", error_description=\"{message}\""
            )
            .as_str(),
            "{path}"
        );
        assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{path}");
    }
}

/// `ApiError` answers every `auth_core::Error` with auth-tower's one answer: the statuses,
/// codes and `Retry-After` the API has always sent.
#[tokio::test]
async fn api_errors_answer_with_the_status_code_and_retry_after_of_each_error() {
    use std::time::Duration;

    use auth_core::{Error, TokenRejection};
    use axum::response::IntoResponse;

    use super::error::ApiError;

    let cases = [
        (Error::InvalidCredentials, 401, "invalid_credentials", None),
        (
            Error::InvalidToken(TokenRejection::Revoked),
            401,
            "invalid_token",
            None,
        ),
        (Error::TokenReused, 401, "token_reused", None),
        (Error::MfaRequired, 403, "mfa_required", None),
        (
            Error::ReauthRequired {
                max_age: Duration::from_secs(300),
            },
            401,
            "reauth_required",
            None,
        ),
        (
            Error::Throttled {
                retry_after: Duration::from_millis(2500),
            },
            429,
            "throttled",
            Some("3"),
        ),
        (Error::Conflict("x".into()), 409, "conflict", None),
        (Error::NotFound("x".into()), 404, "not_found", None),
        (
            Error::InvalidRequest("x".into()),
            400,
            "invalid_request",
            None,
        ),
        (Error::Busy, 503, "busy", Some("1")),
        (
            Error::Unavailable("db".into()),
            503,
            "unavailable",
            Some("5"),
        ),
        (Error::Internal("x".into()), 500, "internal", None),
    ];
    for (error, status, code, retry_after) in cases {
        let response = ApiError::from(error).into_response();
        assert_eq!(response.status().as_u16(), status, "{code}");
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.to_str().unwrap()),
            retry_after,
            "{code}"
        );
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["error"], code);
        assert!(
            !body["message"]
                .as_str()
                .unwrap()
                .contains("session revoked")
        );
    }
}

/// Step-up over HTTP: after the window a refreshed token cannot enrol TOTP (401
/// `reauth_required`, an RFC 9470 challenge); `POST /v1/auth/reauthenticate` with the password
/// gives the same session fresh tokens, which can.
#[tokio::test]
async fn enrolling_with_a_stale_token_needs_a_step_up_over_http() {
    use std::time::Duration;

    let clock = auth_core::testing::clock();
    let auth =
        auth_core::testing::authenticator_builder(auth_core::testing::authenticator_config())
            .clock(clock.clone())
            .build()
            .unwrap();
    let router = super::routes(auth, crate::proxies::ProxyPolicy::default()).router;
    let login = signed_up(&router, "step@example.com").await;

    clock.advance(Duration::from_secs(301));
    let refresh = serde_json::json!({ "refresh_token": login["refresh_token"] }).to_string();
    let (status, refreshed) = send(&router, Method::POST, "/v1/auth/refresh", None, &refresh).await;
    assert_eq!(status, StatusCode::OK);
    let stale = refreshed["access_token"].as_str().unwrap();
    let (status, headers, body) = answer(
        &router,
        Method::POST,
        "/v1/auth/mfa/totp/enroll",
        Some(stale),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "reauth_required");
    let challenge = headers[header::WWW_AUTHENTICATE].to_str().unwrap();
    assert!(
        challenge.contains(r#"error="insufficient_user_authentication""#)
            && challenge.ends_with("max_age=300"),
        "{challenge}"
    );

    for bad in [r#"{}"#, r#"{"password":"x","code":"123456"}"#] {
        let (status, body) = send(
            &router,
            Method::POST,
            "/v1/auth/reauthenticate",
            Some(stale),
            bad,
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request"))
        );
    }
    let (status, body) = send(
        &router,
        Method::POST,
        "/v1/auth/reauthenticate",
        Some(stale),
        r#"{"password":"not the password"}"#,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
    );
    let (status, fresh) = send(
        &router,
        Method::POST,
        "/v1/auth/reauthenticate",
        Some(stale),
        r#"{"password":"correct horse battery staple"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, before) = send(&router, Method::GET, "/v1/auth/me", Some(stale), "").await;
    let (_, after) = send(
        &router,
        Method::GET,
        "/v1/auth/me",
        fresh["access_token"].as_str(),
        "",
    )
    .await;
    assert!(before["session_id"].is_string());
    assert_eq!(
        after["session_id"], before["session_id"],
        "the same session"
    );
    let (status, enrolment) = send(
        &router,
        Method::POST,
        "/v1/auth/mfa/totp/enroll",
        fresh["access_token"].as_str(),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{enrolment}");
    assert!(enrolment["otpauth_uri"].as_str().is_some());
}

/// The schema of a request body, its `$ref` followed.
fn request_schema<'a>(
    doc: &'a serde_json::Value,
    operation: &serde_json::Value,
) -> &'a serde_json::Value {
    let reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .unwrap_or_default();
    let name = reference.rsplit('/').next().unwrap_or_default();
    &doc["components"]["schemas"][name]
}

/// The operation of `doc` with `operation_id`.
fn operation_by_id<'a>(
    doc: &'a serde_json::Value,
    operation_id: &str,
) -> Option<&'a serde_json::Value> {
    doc["paths"]
        .as_object()?
        .values()
        .flat_map(|item| item.as_object().into_iter().flatten())
        .map(|(_, operation)| operation)
        .find(|operation| operation["operationId"] == operation_id)
}

/// The password limits the document states are the ones the server applies, counted the same
/// way: at the limits a registration is accepted, one character past them it is refused.
#[tokio::test]
async fn the_documented_password_limits_are_the_ones_applied() {
    use auth_core::password::PasswordPolicy;

    let router = crate::development_router().unwrap();
    let (_, doc) = send(&router, Method::GET, "/openapi.json", None, "").await;
    let schemas = &doc["components"]["schemas"];
    let policy = PasswordPolicy::default();
    for field in [
        &schemas["Registration"]["properties"]["password"],
        &schemas["PasswordChange"]["properties"]["new_password"],
    ] {
        assert_eq!(field["minLength"], policy.min_chars());
        assert_eq!(field["maxLength"], policy.max_chars());
    }
    let register = |email: &str, password: String| {
        serde_json::json!({ "email": email, "password": password }).to_string()
    };
    // Ligatures normalise to three characters each: the limits count them as sent.
    let cases = [
        (
            "shortest@example.com",
            "q7#Lm".repeat(3)[..12].to_owned(),
            StatusCode::CREATED,
        ),
        (
            "short@example.com",
            "q7#Lm".repeat(3)[..11].to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "longest@example.com",
            "\u{FB03}x9".repeat(43)[..].chars().take(128).collect(),
            StatusCode::CREATED,
        ),
        (
            "long@example.com",
            "\u{FB03}x9".repeat(43).chars().take(129).collect(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (email, password, expected) in cases {
        let chars = password.chars().count();
        let (status, body) = send(
            &router,
            Method::POST,
            "/v1/auth/register",
            None,
            &register(email, password),
        )
        .await;
        assert_eq!(status, expected, "{chars} characters: {body}");
    }
}

/// Exactly one proof: the document says so (`oneOf`, no other member), and the server refuses
/// both or neither with 400.
#[tokio::test]
async fn a_proof_is_a_code_or_a_password_in_the_document_and_on_the_wire() {
    let router = crate::development_router().unwrap();
    let (_, doc) = send(&router, Method::GET, "/openapi.json", None, "").await;
    let schemas = &doc["components"]["schemas"];
    let variants = |schema: &str| -> Vec<String> {
        schemas[schema]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|variant| {
                let reference = variant["$ref"].as_str().unwrap();
                reference.rsplit('/').next().unwrap().to_owned()
            })
            .collect()
    };
    assert_eq!(variants("ProofRequest"), ["CodeProof", "PasswordProof"]);
    assert_eq!(
        variants("ReauthRequest"),
        ["CodeProof", "PasswordProof", "PasskeyProof"]
    );
    for (name, member) in [
        ("CodeProof", "code"),
        ("PasswordProof", "password"),
        ("PasskeyProof", "passkey"),
    ] {
        assert_eq!(schemas[name]["required"], serde_json::json!([member]));
        assert_eq!(schemas[name]["additionalProperties"], false);
    }

    let tokens = signed_up(&router, "proof@example.com").await;
    let token = tokens["access_token"].as_str().unwrap();
    for body in [
        r#"{"code":"123456","password":"correct horse battery staple"}"#,
        "{}",
        r#"{"code":"123456","password":null}"#,
        r#"{"code":null,"password":"correct horse battery staple"}"#,
        r#"{"password":"correct horse battery staple","remember":true}"#,
        r#"{"code":"123456","passkey":{"ceremony":"AAAAAAAAAAAAAAAAAAAAAA","credential":{}}}"#,
        r#"{"passkey":{"ceremony":"AAAAAAAAAAAAAAAAAAAAAA","credential":[]}}"#,
    ] {
        let (status, answer) = send(
            &router,
            Method::POST,
            "/v1/auth/reauthenticate",
            Some(token),
            body,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
    }
    // A code, well formed, for an account without a second factor: the state, not the
    // request, is wrong.
    let (status, answer) = send(
        &router,
        Method::POST,
        "/v1/auth/reauthenticate",
        Some(token),
        r#"{"code":"123456"}"#,
    )
    .await;
    assert_eq!(
        (status, &answer["error"]),
        (StatusCode::CONFLICT, &serde_json::json!("conflict"))
    );
}

/// Every link names an operation of the document, and fills only parameters and body members
/// that operation has.
#[tokio::test]
async fn every_link_leads_to_an_operation_and_fields_it_has() {
    let router = crate::development_router().unwrap();
    let (_, doc) = send(&router, Method::GET, "/openapi.json", None, "").await;
    let mut links = 0;
    for item in doc["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let answers = operation["responses"].as_object().unwrap();
            for (status, answer) in answers {
                for (name, link) in answer["links"].as_object().into_iter().flatten() {
                    let at = format!("{} {status} {name}", operation["operationId"]);
                    let target = operation_by_id(&doc, link["operationId"].as_str().unwrap())
                        .unwrap_or_else(|| panic!("{at}: no such operation"));
                    let properties = &request_schema(&doc, target)["properties"];
                    for member in link["requestBody"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, _)| k)
                    {
                        assert!(
                            properties[member].is_object(),
                            "{at}: no body member {member}"
                        );
                    }
                    for parameter in link["parameters"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, _)| k)
                    {
                        let (place, parameter) = parameter.split_once('.').unwrap();
                        assert!(
                            target["parameters"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .any(|p| p["in"] == place && p["name"] == parameter),
                            "{at}: no {place} parameter {parameter}"
                        );
                    }
                    links += 1;
                }
            }
        }
    }
    assert_eq!(links, 6);
}
