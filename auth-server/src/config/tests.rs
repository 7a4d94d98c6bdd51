use std::collections::HashMap;

use auth_core::secrecy::ExposeSecret;

use super::*;

fn config(vars: &[(&str, &str)]) -> Result<ServeConfig, Vec<String>> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    from_env(|name| vars.get(name).cloned())
}

fn problems(vars: &[(&str, &str)]) -> Vec<String> {
    config(vars).expect_err("configuration should be refused")
}

fn has(problems: &[String], variable: &str) -> bool {
    problems
        .iter()
        .any(|p| p.starts_with(&format!("{variable}: ")))
}

/// `openssl rand -hex 32`.
const HEX_KEY: &str = "5c0e9a41d7b23f86e1c4a09b7d52f3e8a6b19c04d87e2f53b0a6c1e9d4f27b83";
/// The mail settings production needs.
const SMTP: (&str, &str) = ("SMTP_URL", "smtps://auth:mail-password@mail.example.com");
const MAIL_FROM: (&str, &str) = ("MAIL_FROM", "Example <auth@example.com>");
const APP_URL: (&str, &str) = ("APP_URL", "https://app.example.com");
/// Another, for rotation.
const OLD_HEX_KEY: &str = "e27a4c91b05d38f6a2c7e14b9d06f58c3a1e7b20d94c6f85e0b3a7d1c52f9e46";

#[test]
fn an_empty_environment_gives_the_development_defaults() {
    let config = config(&[]).unwrap();
    assert_eq!(config.port, 8080);
    assert_eq!(config.bind_addr, None);
    assert_eq!(config.environment, Environment::Development);
    assert_eq!(config.log_level, "info");
    assert_eq!(config.log_format, LogFormat::Pretty);
    assert_eq!(config.shutdown_timeout, Duration::from_secs(25));
    assert_eq!(config.request_timeout, Duration::from_secs(30));
    assert_eq!(config.header_read_timeout, Duration::from_secs(10));
    assert_eq!(config.idle_timeout, Duration::from_secs(75));
    assert_eq!(config.max_connections, 1024);
    assert_eq!(config.access_ttl, Duration::from_secs(900));
    assert_eq!(config.refresh_ttl, Duration::from_secs(2_592_000));
    assert_eq!(config.reauth_max_age, Duration::from_secs(300));
    assert_eq!(config.refresh_reuse_grace, Duration::from_secs(30));
    assert_eq!(config.redis_key_prefix, "auth:");
    assert_eq!(
        (
            config.registrations_per_address,
            config.registrations_per_minute
        ),
        (20, 600)
    );
    assert_eq!(config.token_cache_size, 10_000);
    assert_eq!(config.revocation_cache_ttl, Duration::from_secs(2));
    assert_eq!(config.client_cache_ttl, Duration::from_secs(2));
    assert_eq!(config.purge_interval, Some(Duration::from_secs(900)));
    assert_eq!(config.database_pool_size, 16);
    assert_eq!(
        config.audit_retention,
        Some(Duration::from_secs(365 * 86_400))
    );
    assert_eq!(config.hash_niceness, None);
    assert!(config.database_url.is_none() && config.redis_url.is_none());
    assert_eq!(config.key_source, KeySource::Generated);
    assert_eq!(config.keys.active().unwrap().algorithm(), Algorithm::EdDsa);
    assert_eq!(config.argon2, Argon2Params::default());
}

#[test]
fn values_are_read_and_trimmed() {
    let config = config(&[
        ("PORT", " 9000 "),
        ("BIND_ADDR", "[::1]"),
        ("ADMIN_ADDR", "[::1]:9091"),
        ("LOG_FORMAT", "json"),
        ("LOG_LEVEL", "auth_server=debug"),
        ("SHUTDOWN_TIMEOUT", "5"),
        ("REQUEST_TIMEOUT", "10"),
        ("HEADER_READ_TIMEOUT", "5"),
        ("IDLE_TIMEOUT", "30"),
        ("MAX_CONNECTIONS", "64"),
        ("ACCESS_TOKEN_TTL", "600"),
        ("REFRESH_TOKEN_TTL", "86400"),
        ("REAUTH_MAX_AGE", "120"),
        ("REFRESH_REUSE_GRACE", "0"),
        ("REGISTRATIONS_PER_ADDRESS_HOUR", "5"),
        ("REGISTRATIONS_PER_MINUTE", "50"),
        ("AUTH_ISSUER", "https://auth.example.com"),
        ("AUTH_AUDIENCE", "orders"),
        ("AUTH_TOKEN_FORMAT", "paseto-v4-local"),
        ("ARGON2_MEMORY_KIB", "65536"),
        ("ARGON2_ITERATIONS", "3"),
        ("PASSWORD_HASH_CONCURRENCY", "4"),
        ("PASSWORD_HASH_QUEUE", "16"),
        ("TOKEN_CACHE_SIZE", "0"),
        ("REVOCATION_CACHE_TTL", "0"),
        ("CLIENT_CACHE_TTL", "5"),
        ("PURGE_INTERVAL", "0"),
        ("AUDIT_RETENTION_DAYS", "30"),
        ("DATABASE_POOL_SIZE", "6"),
        ("PASSWORD_HASH_NICENESS", "0"),
        (
            "CORS_ORIGINS",
            "https://app.example.com, https://admin.example.com",
        ),
        ("DATABASE_URL", "postgres://auth@db/auth"),
        ("REDIS_URL", "redis://cache:6379"),
        ("REDIS_KEY_PREFIX", "orders-auth:"),
    ])
    .unwrap();
    assert_eq!(config.port, 9000);
    assert_eq!(config.bind_addr, Some("::1".parse().unwrap()));
    assert_eq!(
        config.admin_addr,
        Some(AdminAddr {
            ip: Some("::1".parse().unwrap()),
            port: 9091
        })
    );
    assert_eq!(config.log_format, LogFormat::Json);
    assert_eq!(config.shutdown_timeout, Duration::from_secs(5));
    assert_eq!(config.request_timeout, Duration::from_secs(10));
    assert_eq!(config.header_read_timeout, Duration::from_secs(5));
    assert_eq!(config.idle_timeout, Duration::from_secs(30));
    assert_eq!(config.max_connections, 64);
    assert_eq!(config.access_ttl, Duration::from_secs(600));
    assert_eq!(config.refresh_ttl, Duration::from_secs(86_400));
    assert_eq!(config.reauth_max_age, Duration::from_secs(120));
    assert_eq!(config.refresh_reuse_grace, Duration::ZERO);
    assert_eq!(config.redis_key_prefix, "orders-auth:");
    assert_eq!(
        (
            config.registrations_per_address,
            config.registrations_per_minute
        ),
        (5, 50)
    );
    assert_eq!(config.issuer, "https://auth.example.com");
    assert_eq!(config.audience, "orders");
    assert_eq!(
        config.keys.active().unwrap().algorithm(),
        Algorithm::PasetoV4Local
    );
    assert_eq!(config.argon2.memory_kib(), 65_536);
    assert_eq!(
        (config.hash_concurrency, config.hash_queue),
        (Some(4), Some(16))
    );
    assert_eq!(config.token_cache_size, 0);
    assert_eq!(config.revocation_cache_ttl, Duration::ZERO);
    assert_eq!(config.client_cache_ttl, Duration::from_secs(5));
    assert_eq!(config.purge_interval, None);
    assert_eq!(config.database_pool_size, 6);
    assert_eq!(
        config.audit_retention,
        Some(Duration::from_secs(30 * 86_400))
    );
    assert_eq!(config.hash_niceness, Some(0));
    assert_eq!(config.cors_origins.len(), 2);
    assert_eq!(
        config.database_url.unwrap().expose_secret(),
        "postgres://auth@db/auth"
    );
}

#[test]
fn every_problem_is_listed_at_once_with_the_variable_name() {
    let found = problems(&[
        ("PORT", "http"),
        ("BIND_ADDR", "localhost"),
        ("ADMIN_ADDR", "9091"),
        ("AUTH_ENV", "staging"),
        ("LOG_FORMAT", "xml"),
        ("SHUTDOWN_TIMEOUT", "0"),
        ("REQUEST_TIMEOUT", "-1"),
        ("HEADER_READ_TIMEOUT", "0"),
        ("IDLE_TIMEOUT", "0"),
        ("MAX_CONNECTIONS", "0"),
        ("ACCESS_TOKEN_TTL", "forever"),
        ("DATABASE_URL", "mysql://db"),
        ("MFA_ENCRYPTION_KEY", "abc"),
        ("ARGON2_MEMORY_KIB", "1024"),
        ("CORS_ORIGINS", "ftp://x"),
        ("AUTH_TOKEN_FORMAT", "jwt-none"),
        ("PASSWORD_HASH_CONCURRENCY", "0"),
        ("TOKEN_CACHE_SIZE", "-1"),
        ("PASSWORD_HASH_NICENESS", "20"),
        ("TRUSTED_PROXY_HEADER", "not a header"),
        ("TRUSTED_PROXIES", "10.0.0.1/8"),
        ("REAUTH_MAX_AGE", "0"),
        ("REFRESH_REUSE_GRACE", "301"),
        ("REVOCATION_CACHE_TTL", "61"),
        ("CLIENT_CACHE_TTL", "61"),
        ("PURGE_INTERVAL", "30"),
        ("DATABASE_POOL_SIZE", "0"),
        ("AUDIT_RETENTION_DAYS", "-1"),
        ("REDIS_KEY_PREFIX", "{shared}"),
        ("REGISTRATIONS_PER_MINUTE", "0"),
    ]);
    for variable in [
        "PORT",
        "BIND_ADDR",
        "ADMIN_ADDR",
        "AUTH_ENV",
        "LOG_FORMAT",
        "SHUTDOWN_TIMEOUT",
        "REQUEST_TIMEOUT",
        "HEADER_READ_TIMEOUT",
        "IDLE_TIMEOUT",
        "MAX_CONNECTIONS",
        "ACCESS_TOKEN_TTL",
        "DATABASE_URL",
        "MFA_ENCRYPTION_KEY",
        "ARGON2_*",
        "CORS_ORIGINS",
        "AUTH_TOKEN_FORMAT",
        "PASSWORD_HASH_CONCURRENCY",
        "TOKEN_CACHE_SIZE",
        "PASSWORD_HASH_NICENESS",
        "TRUSTED_PROXY_HEADER",
        "TRUSTED_PROXIES",
        "REAUTH_MAX_AGE",
        "REFRESH_REUSE_GRACE",
        "REVOCATION_CACHE_TTL",
        "CLIENT_CACHE_TTL",
        "PURGE_INTERVAL",
        "AUDIT_RETENTION_DAYS",
        "DATABASE_POOL_SIZE",
        "REDIS_KEY_PREFIX",
        "REGISTRATIONS_PER_MINUTE",
    ] {
        assert!(has(&found, variable), "{variable} missing from {found:?}");
    }
}

#[test]
fn production_refuses_memory_generated_keys_and_missing_secrets() {
    let found = problems(&[("AUTH_ENV", "production")]);
    for variable in [
        "DATABASE_URL",
        "AUTH_SIGNING_KEYS",
        "MFA_ENCRYPTION_KEY",
        "AUTH_ISSUER",
        "SMTP_URL",
        "APP_URL",
    ] {
        assert!(has(&found, variable), "{variable} missing from {found:?}");
    }
}

#[test]
fn production_refuses_a_short_shared_secret_and_wildcard_cors() {
    let found = problems(&[
        ("AUTH_ENV", "production"),
        (
            "DATABASE_URL",
            "postgres://auth@db/auth?sslmode=verify-full",
        ),
        ("AUTH_ISSUER", "https://auth.example.com"),
        ("MFA_ENCRYPTION_KEY", HEX_KEY),
        ("JWT_ACCESS_SECRET", "short-secret"),
        ("CORS_ORIGINS", "*"),
        SMTP,
        MAIL_FROM,
        APP_URL,
    ]);
    assert!(has(&found, "JWT_ACCESS_SECRET"), "{found:?}");
    assert!(has(&found, "CORS_ORIGINS"), "{found:?}");
    assert_eq!(found.len(), 2, "{found:?}");
}

#[test]
fn a_complete_production_configuration_is_accepted() {
    let generated = Key::generate(Algorithm::EdDsa).unwrap();
    let keys = format!(
        r#"[{{"alg":"EdDSA","key":{}}}]"#,
        serde_json::to_string(generated.export_private().unwrap().expose_secret()).unwrap()
    );
    let config = config(&[
        ("AUTH_ENV", "production"),
        (
            "DATABASE_URL",
            "postgres://auth@db/auth?sslmode=verify-full",
        ),
        ("AUTH_ISSUER", "https://auth.example.com"),
        ("MFA_ENCRYPTION_KEY", HEX_KEY),
        ("AUTH_SIGNING_KEYS", &keys),
        SMTP,
        MAIL_FROM,
        APP_URL,
    ])
    .unwrap();
    assert_eq!(config.key_source, KeySource::Configured);
    assert_eq!(config.keys.active().unwrap().id(), generated.id());
    assert_eq!(
        config.log_format,
        LogFormat::Json,
        "JSON logs by default in production"
    );
    assert!(config.mfa_keys.is_some());
}

#[test]
fn signing_keys_take_the_first_as_active_and_the_rest_for_verification() {
    let new = Key::generate(Algorithm::EdDsa).unwrap();
    let old = Key::generate(Algorithm::Es256).unwrap();
    let entry = |key: &Key| serde_json::json!({ "alg": key.algorithm().name(), "key": key.export_private().unwrap().expose_secret() });
    let json = serde_json::json!([entry(&new), entry(&old)]).to_string();
    let config = config(&[("AUTH_SIGNING_KEYS", &json)]).unwrap();
    assert_eq!(config.keys.active().unwrap().id(), new.id());
    assert!(config.keys.get(old.id().as_str()).is_some());
    assert_eq!(config.keys.len(), 2);
}

#[test]
fn malformed_signing_keys_are_reported_without_their_material() {
    let secret = "not-a-pem-but-secret-looking";
    let json = format!(r#"[{{"alg":"EdDSA","key":"{secret}"}}]"#);
    let found = problems(&[("AUTH_SIGNING_KEYS", &json)]);
    assert!(has(&found, "AUTH_SIGNING_KEYS"), "{found:?}");
    assert!(
        !found.iter().any(|p| p.contains(secret)),
        "key material in {found:?}"
    );
    let found = problems(&[("AUTH_SIGNING_KEYS", "{not json")]);
    assert!(has(&found, "AUTH_SIGNING_KEYS"), "{found:?}");
    let found = problems(&[("AUTH_SIGNING_KEYS", "[]")]);
    assert!(has(&found, "AUTH_SIGNING_KEYS"), "{found:?}");
}

#[test]
fn a_long_shared_secret_gives_an_hs256_key() {
    let config = config(&[(
        "JWT_ACCESS_SECRET",
        "a-shared-secret-of-at-least-32-bytes!!",
    )])
    .unwrap();
    assert_eq!(config.key_source, KeySource::SharedSecret);
    assert_eq!(config.keys.active().unwrap().algorithm(), Algorithm::Hs256);
}

#[test]
fn redis_without_postgres_is_refused() {
    let found = problems(&[("REDIS_URL", "redis://cache:6379")]);
    assert!(has(&found, "REDIS_URL"), "{found:?}");
}

fn production_with(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = [
        ("AUTH_ENV", "production"),
        (
            "DATABASE_URL",
            "postgres://auth@db/auth?sslmode=verify-full",
        ),
        ("AUTH_ISSUER", "https://auth.example.com"),
        SMTP,
        MAIL_FROM,
        APP_URL,
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    if !extra
        .iter()
        .any(|(k, _)| k.starts_with("MFA_ENCRYPTION_KEY"))
    {
        vars.push(("MFA_ENCRYPTION_KEY".to_owned(), HEX_KEY.to_owned()));
    }
    vars
}

fn production_problems(extra: &[(&str, &str)]) -> Vec<String> {
    let vars = production_with(extra);
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    problems(&borrowed)
}

#[test]
fn production_refuses_weak_secrets_by_content_and_plain_http_origins_all_at_once() {
    let found = production_problems(&[
        ("JWT_ACCESS_SECRET", &"a".repeat(48)),
        ("MFA_ENCRYPTION_KEY", &"0".repeat(64)),
        (
            "CORS_ORIGINS",
            "https://app.example.com, http://admin.example.com",
        ),
    ]);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(has(&found, "JWT_ACCESS_SECRET") && found[0].contains("one byte repeated"));
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("MFA_ENCRYPTION_KEY: key \"k1\" is too weak"))
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("\"http://admin.example.com\" is not HTTPS"))
    );
    let secret = "my-jwt-secret-please-change-it-soon";
    let found = production_problems(&[("JWT_ACCESS_SECRET", secret)]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        !found[0].contains(secret),
        "the secret itself is not printed: {found:?}"
    );
}

#[test]
fn a_weak_symmetric_signing_key_is_refused_in_production() {
    let json = format!(r#"[{{"alg":"HS256","key":"{}"}}]"#, "QUFB".repeat(11));
    let found = production_problems(&[("AUTH_SIGNING_KEYS", &json)]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("AUTH_SIGNING_KEYS: key 0: too weak"),
        "{found:?}"
    );
}

#[test]
fn development_keeps_accepting_test_secrets() {
    let config = config(&[
        ("JWT_ACCESS_SECRET", &"a".repeat(48)),
        ("MFA_ENCRYPTION_KEY", &"0".repeat(64)),
        ("CORS_ORIGINS", "http://localhost:3000"),
    ])
    .unwrap();
    assert_eq!(config.key_source, KeySource::SharedSecret);
}

#[test]
fn mfa_keys_take_ids_and_the_first_encrypts() {
    let list = format!("k2:{HEX_KEY}, k1:{OLD_HEX_KEY}");
    let config = config(
        &production_with(&[
            ("MFA_ENCRYPTION_KEYS", &list),
            ("JWT_ACCESS_SECRET", HEX_KEY),
        ])
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect::<Vec<_>>(),
    )
    .unwrap();
    let keyring = config.mfa_keys.unwrap();
    assert_eq!(keyring.active_key_id(), "k2");
    let user = auth_core::id::UserId::new();
    let secret = auth_core::mfa::TotpSecret::generate(auth_core::mfa::TotpAlgorithm::Sha1);
    let old = MfaKeyring::new("k1", *MfaKeyring::decode_hex_key(OLD_HEX_KEY).unwrap());
    let stored = old.encrypt(&user, &secret).unwrap();
    assert!(keyring.needs_reencryption(&stored));
    let moved = keyring.reencrypt(&user, &stored).unwrap();
    assert_eq!(moved.key_id, "k2");

    let single = config_of(&[("MFA_ENCRYPTION_KEY", HEX_KEY)]);
    assert_eq!(single.mfa_keys.unwrap().active_key_id(), "k1");
}

fn config_of(vars: &[(&str, &str)]) -> ServeConfig {
    config(vars).unwrap()
}

#[test]
fn malformed_mfa_key_lists_are_reported_without_key_material() {
    for (list, why) in [
        (HEX_KEY.to_owned(), "entry 0 is not ID:HEX"),
        (
            format!("k1:{HEX_KEY},k1:{OLD_HEX_KEY}"),
            "two MFA encryption keys have the id",
        ),
        (
            format!("k2:{HEX_KEY},bad id:{OLD_HEX_KEY}"),
            "entry 1 is not ID:HEX",
        ),
        ("k1:abc".to_owned(), "key \"k1\" must be 64 hex"),
        (",".to_owned(), "entry 0 is not ID:HEX"),
        // Written the wrong way round: the key is no id, and never printed.
        (format!("{HEX_KEY}:k1"), "entry 0 is not ID:HEX"),
    ] {
        let found = problems(&[("MFA_ENCRYPTION_KEYS", &list)]);
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("MFA_ENCRYPTION_KEYS: ") && p.contains(why)),
            "{list}: {found:?}"
        );
        assert!(
            !found
                .iter()
                .any(|p| p.contains(HEX_KEY) || p.contains(OLD_HEX_KEY)),
            "{found:?}"
        );
    }
    let found = problems(&[
        ("MFA_ENCRYPTION_KEYS", &format!("k1:{HEX_KEY}")),
        ("MFA_ENCRYPTION_KEY", HEX_KEY),
    ]);
    assert!(has(&found, "MFA_ENCRYPTION_KEYS"), "{found:?}");
}

#[test]
fn a_proxy_header_is_believed_only_from_named_proxies() {
    let found = problems(&[("TRUSTED_PROXY_HEADER", "x-forwarded-for")]);
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("TRUSTED_PROXY_HEADER: set without TRUSTED_PROXIES")),
        "{found:?}"
    );
    let config = config(&[
        ("TRUSTED_PROXY_HEADER", "X-Forwarded-For"),
        ("TRUSTED_PROXIES", "10.0.0.0/8, 2001:db8::/32,192.0.2.7"),
    ])
    .unwrap();
    assert_eq!(
        config.proxies.header.as_ref().map(|h| h.as_str()),
        Some("x-forwarded-for")
    );
    let trusted: Vec<String> = config
        .proxies
        .trusted
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(trusted, ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"]);
}

#[test]
fn secrets_may_come_from_files_and_only_one_way() {
    let dir = std::env::temp_dir().join(format!("auth-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = dir.join("database-url");
    std::fs::write(&url, "postgres://auth:s3cret@db/auth?sslmode=verify-full\n").unwrap();
    let key = dir.join("mfa-key");
    std::fs::write(&key, HEX_KEY).unwrap();
    let url_path = url.display().to_string();
    let key_path = key.display().to_string();
    let config = config(&[
        ("DATABASE_URL_FILE", &url_path),
        ("MFA_ENCRYPTION_KEY_FILE", &key_path),
    ])
    .unwrap();
    assert_eq!(
        config.database_url.unwrap().expose_secret(),
        "postgres://auth:s3cret@db/auth?sslmode=verify-full",
        "read, less its final newline"
    );
    assert!(config.mfa_keys.is_some());

    let found = problems(&[
        ("DATABASE_URL", "postgres://auth@db/auth"),
        ("DATABASE_URL_FILE", &url_path),
        ("JWT_ACCESS_SECRET_FILE", "/nonexistent/secret"),
    ]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        found.contains(
            &"DATABASE_URL: set both DATABASE_URL and DATABASE_URL_FILE; keep one".to_owned()
        ),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("JWT_ACCESS_SECRET_FILE: /nonexistent/secret: ")),
        "{found:?}"
    );
    assert!(!found.iter().any(|p| p.contains("s3cret")), "{found:?}");
}

#[test]
fn the_admin_listener_takes_a_host_and_port_or_a_port_alone_never_the_public_port() {
    let admin = |value: &str| config(&[("ADMIN_ADDR", value)]).map(|c| c.admin_addr);
    assert_eq!(
        admin("0.0.0.0:9091").unwrap().unwrap().ip,
        Some([0, 0, 0, 0].into())
    );
    assert_eq!(
        admin(":9091").unwrap(),
        Some(AdminAddr {
            ip: None,
            port: 9091
        })
    );
    assert_eq!(config(&[]).unwrap().admin_addr, None);
    for bad in ["9091", "localhost:9091", "[::]", ":http", "[::]:70000"] {
        let found = problems(&[("ADMIN_ADDR", bad)]);
        assert!(has(&found, "ADMIN_ADDR"), "{bad}: {found:?}");
    }
    let found = problems(&[("PORT", "9000"), ("ADMIN_ADDR", "127.0.0.1:9000")]);
    assert!(
        found
            .iter()
            .any(|p| p.contains("ADMIN_ADDR") && p.contains("PORT's")),
        "{found:?}"
    );
    // Port 0 (any free port, for tests) on both is no clash.
    assert!(config(&[("PORT", "0"), ("ADMIN_ADDR", "127.0.0.1:0")]).is_ok());
}

#[test]
fn the_hosted_pages_are_on_by_default_and_their_settings_are_checked() {
    let defaults = config(&[]).unwrap();
    assert!(defaults.ui.enabled);
    assert_eq!(defaults.ui.same_site, auth_tower::browser::SameSite::Lax);
    assert!(!config(&[("UI_ENABLED", "false")]).unwrap().ui.enabled);
    assert_eq!(
        config(&[("UI_COOKIE_SAMESITE", "none")])
            .unwrap()
            .ui
            .same_site,
        auth_tower::browser::SameSite::None,
        "development may relax it, to show the CSRF check holds alone"
    );
    let found = problems(&[
        ("UI_ENABLED", "yes"),
        ("UI_COOKIE_SAMESITE", "loose"),
        ("UI_LOCALES_DIR", "/nonexistent/ui-locales"),
    ]);
    for variable in ["UI_ENABLED", "UI_COOKIE_SAMESITE", "UI_LOCALES_DIR"] {
        assert!(has(&found, variable), "{variable}: {found:?}");
    }
    let found = production_problems(&[("UI_COOKIE_SAMESITE", "none")]);
    assert!(has(&found, "UI_COOKIE_SAMESITE"), "{found:?}");
}
