#![allow(clippy::unwrap_used)]

use std::str::FromStr as _;

use super::*;

/// A local server answering every request with `status` and `body`, after `delay`.
async fn keys_server(status: &'static str, body: String, delay: Duration) -> String {
    crate::fetch::answering(status, body, delay).await.0
}

fn url(text: &str) -> url::Url {
    url::Url::parse(text).unwrap()
}

#[test]
fn only_public_addresses_are_public() {
    for private in [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.100.100.200",
        "0.0.0.0",
        "255.255.255.255",
        "224.0.0.1",
        "192.0.2.1",
        "198.18.0.1",
        "240.0.0.1",
        "::1",
        "::",
        "fd00:ec2::254",
        "fe80::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "2001:db8::1",
        "ff02::1",
        "::7f00:1",
        "::a00:1",
        "64:ff9b:1::a00:1",
        "2002:7f00:1::1",
        "2001:0:4136:e378::1",
    ] {
        assert!(!is_public(private.parse().unwrap()), "{private}");
    }
    for public in [
        "93.184.216.34",
        "8.8.8.8",
        "2606:4700::1111",
        "::ffff:8.8.8.8",
    ] {
        assert!(is_public(public.parse().unwrap()), "{public}");
    }
}

#[tokio::test]
async fn in_production_only_https_to_public_addresses_is_admitted() {
    let fetcher = JwksFetcher::new(false).unwrap();
    assert!(fetcher.admits(&url("https://client.example/jwks")).is_ok());
    for (refused, why) in [
        ("http://client.example/jwks", "https only"),
        ("https://10.0.0.1/jwks", "private"),
        ("https://169.254.169.254/latest/meta-data", "metadata"),
        ("https://[::1]/jwks", "loopback"),
        ("https://localhost/jwks", "loopback"),
        ("https://keys.localhost/jwks", "loopback"),
    ] {
        let error = fetcher.admits(&url(refused)).unwrap_err();
        assert!(error.contains(why), "{refused}: {error}");
        // The fetch refuses before any connection, for the same reason.
        let fetched = fetcher.fetch(&url(refused)).await.unwrap_err().to_string();
        assert!(fetched.contains(&error), "{refused}: {fetched}");
    }
    let allowing = JwksFetcher::new(true).unwrap();
    assert!(allowing.admits(&url("http://127.0.0.1:8080/jwks")).is_ok());
    assert!(allowing.admits(&url("ftp://client.example/jwks")).is_err());
}

#[tokio::test]
async fn a_name_is_judged_by_the_addresses_it_resolves_to() {
    // localhost resolves to loopback addresses only: nothing is left to connect to.
    let mut strict = PublicOnly {
        inner: GaiResolver::new(),
        allow_private: false,
    };
    let error = strict
        .call(Name::from_str("localhost").unwrap())
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("resolves to no public address"),
        "{error}"
    );
    let mut lenient = PublicOnly {
        inner: GaiResolver::new(),
        allow_private: true,
    };
    let addresses: Vec<SocketAddr> = lenient
        .call(Name::from_str("localhost").unwrap())
        .await
        .unwrap()
        .collect();
    assert!(addresses.iter().all(|address| address.ip().is_loopback()));
    assert!(!addresses.is_empty());
}

#[tokio::test]
async fn a_key_set_is_fetched_when_allowed_and_refused_when_odd() {
    let fetcher = JwksFetcher::new(true)
        .unwrap()
        .with_timeout(Duration::from_millis(500));
    let set = r#"{"keys":[]}"#.to_owned();
    let base = keys_server("200 OK", set.clone(), Duration::ZERO).await;
    assert_eq!(
        fetcher.fetch(&url(&format!("{base}/jwks"))).await.unwrap(),
        set
    );
    let failing = keys_server("500 Internal Server Error", "{}".into(), Duration::ZERO).await;
    let error = fetcher
        .fetch(&url(&format!("{failing}/jwks")))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("answered 500"), "{error}");
    let huge = keys_server("200 OK", "x".repeat(MAX_JWKS_LEN + 1), Duration::ZERO).await;
    let error = fetcher
        .fetch(&url(&format!("{huge}/jwks")))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("body"), "{error}");
    let slow = keys_server("200 OK", set, Duration::from_secs(5)).await;
    let error = fetcher
        .fetch(&url(&format!("{slow}/jwks")))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("no answer within"), "{error}");
    // Without the allowance, the same loopback server is never reached.
    let strict = JwksFetcher::new(false).unwrap();
    let error = strict
        .fetch(&url(&format!("{base}/jwks")))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("https only"), "{error}");
}
