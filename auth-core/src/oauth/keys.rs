//! The public keys of a client of `private_key_jwt` (RFC 7523, OpenID Connect Core section
//! 9), and the assertions it authenticates with.
//!
//! # Keys
//!
//! Registered inline (`jwks`) or by address (`jwks_uri`). An inline set is checked once, at
//! registration: 1 to [`MAX_KEYS`] public keys, each RSA of at least 2048 bits, EC on P-256
//! or OKP Ed25519, with an `alg` (if any) of its type and a unique `kid` (if any); a private
//! or symmetric member (`d`, `p`, `k`, ...) is refused, so a client that pasted its private
//! key learns so before it is stored. A `jwks_uri` is an absolute `http(s)` URL without user
//! information or fragment; whether its scheme and address are allowed, and the fetch itself,
//! are the [`ClientKeySource`](crate::flows::ClientKeySource)'s.
//!
//! # Assertions
//!
//! A JWT in `client_assertion`, `client_assertion_type` being [`ASSERTION_TYPE`]: signed with
//! RS256, PS256, ES256 or EdDSA by one of the client's keys (by `kid`, or any key of the
//! algorithm's type without one); `iss` and `sub` the client's id; `aud` exactly this
//! server's issuer identifier, as a string or an array of that one string (the token endpoint's
//! address and extra audiences are refused: the 2025 audience-injection fix to OpenID Connect
//! and RFC 7523); `exp` in the future but at most [`MAX_ASSERTION_LIFETIME`] away; a `jti`,
//! which the caller records so that it is used once until `exp`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::error::{Error, Result};

/// `client_assertion_type` of a JWT client assertion (RFC 7523 section 2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The most keys a registered set holds.
pub const MAX_KEYS: usize = 10;
/// The largest JWK Set taken, registered or fetched, in bytes.
pub const MAX_JWKS_LEN: usize = 64 * 1024;
/// The longest `jwks_uri`, in bytes.
pub const MAX_JWKS_URI_LEN: usize = 2000;
/// How far in the future an assertion's `exp` may be.
pub const MAX_ASSERTION_LIFETIME: std::time::Duration = std::time::Duration::from_secs(3600);
/// The algorithms an assertion may be signed with.
pub const ASSERTION_ALGORITHMS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

/// Members that only a private or symmetric key has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

fn refuse<T>(why: impl Into<String>) -> Result<T> {
    Err(Error::InvalidRequest(format!("jwks: {}", why.into())))
}

/// The bytes of a base64url member `name` of `key`.
fn member(key: &Value, name: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(key.get(name)?.as_str()?).ok()
}

/// Why `key` is not a public signing key of an accepted type, if it is not one.
fn key_problem(key: &Value) -> Option<String> {
    if !key.is_object() {
        return Some("not an object".into());
    }
    if let Some(private) = PRIVATE_MEMBERS.iter().find(|m| key.get(**m).is_some()) {
        return Some(format!(
            "has {private:?}: register public keys only (a private key never leaves the client)"
        ));
    }
    let kty = key.get("kty").and_then(Value::as_str).unwrap_or_default();
    let crv = key.get("crv").and_then(Value::as_str).unwrap_or_default();
    let algs: &[&str] = match kty {
        "RSA" => {
            let bits =
                member(key, "n").map_or(0, |n| n.iter().skip_while(|byte| **byte == 0).count() * 8);
            if bits < 2048 || member(key, "e").is_none_or(|e| e.is_empty()) {
                return Some("an RSA key has n of at least 2048 bits and e".into());
            }
            &["RS256", "PS256"]
        }
        "EC" if crv == "P-256" => {
            let coordinate = |name| member(key, name).is_some_and(|c| c.len() == 32);
            if !coordinate("x") || !coordinate("y") {
                return Some("a P-256 key has x and y of 32 bytes".into());
            }
            &["ES256"]
        }
        "OKP" if crv == "Ed25519" => {
            if member(key, "x").is_none_or(|x| x.len() != 32) {
                return Some("an Ed25519 key has x of 32 bytes".into());
            }
            &["EdDSA"]
        }
        _ => return Some("RSA, EC on P-256 or OKP Ed25519 keys only".into()),
    };
    if let Some(alg) = key.get("alg")
        && !alg.as_str().is_some_and(|alg| algs.contains(&alg))
    {
        return Some(format!("alg is one of {}", algs.join(", ")));
    }
    if key.get("use").is_some_and(|used| used != "sig") {
        return Some("use is sig".into());
    }
    if key.get("kid").is_some_and(|kid| {
        !kid.as_str()
            .is_some_and(|kid| !kid.is_empty() && kid.len() <= 256)
    }) {
        return Some("kid is 1 to 256 characters".into());
    }
    // What the verifier reads must read: x5c, x5t and the rest in their JOSE types.
    #[cfg(feature = "jwt")]
    if serde_json::from_value::<jsonwebtoken::jwk::Jwk>(key.clone()).is_err() {
        return Some("a member is not of its JOSE type".into());
    }
    None
}

/// The `keys` array of a JWK Set given as text.
fn keys_of(jwks: &str) -> Result<Vec<Value>> {
    if jwks.len() > MAX_JWKS_LEN {
        return refuse(format!("longer than {MAX_JWKS_LEN} bytes"));
    }
    let Ok(mut set) = serde_json::from_str::<Value>(jwks) else {
        return refuse("not JSON");
    };
    match set.get_mut("keys").map(Value::take) {
        Some(Value::Array(keys)) => Ok(keys),
        _ => refuse("a JWK Set is an object with a \"keys\" array"),
    }
}

/// The set as stored: `{"keys": [...]}`, within [`MAX_JWKS_LEN`] once written.
fn stored(keys: Vec<Value>) -> Result<String> {
    let text = serde_json::json!({ "keys": keys }).to_string();
    if text.len() > MAX_JWKS_LEN {
        return refuse(format!("longer than {MAX_JWKS_LEN} bytes"));
    }
    Ok(text)
}

/// `jwks` checked as the public keys a client registers (see the [module](self)): every key
/// must be usable, each `kid` once; the set as stored.
pub fn checked_jwks(jwks: &str) -> Result<String> {
    let keys = keys_of(jwks)?;
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return refuse(format!("1 to {MAX_KEYS} keys"));
    }
    let mut kids = std::collections::HashSet::new();
    for (at, key) in keys.iter().enumerate() {
        if let Some(problem) = key_problem(key) {
            return refuse(format!("key {at}: {problem}"));
        }
        if let Some(kid) = key.get("kid").and_then(Value::as_str)
            && !kids.insert(kid.to_owned())
        {
            return refuse(format!("key {at}: two keys have this kid"));
        }
    }
    stored(keys)
}

/// The usable keys of a set fetched from a client's `jwks_uri`: its public signing keys of the
/// accepted types, the first [`MAX_KEYS`] of them, a `kid` seen twice kept once. A set that
/// also holds encryption keys or algorithms of no use here (OpenID Connect Core section
/// 10.1.1 lets one set serve several providers) is not refused for them; one without a
/// usable key is.
pub fn usable_jwks(jwks: &str) -> Result<String> {
    let mut kids = std::collections::HashSet::new();
    let keys: Vec<Value> = keys_of(jwks)?
        .into_iter()
        .filter(|key| key_problem(key).is_none())
        .filter(|key| match key.get("kid").and_then(Value::as_str) {
            Some(kid) => kids.insert(kid.to_owned()),
            None => true,
        })
        .take(MAX_KEYS)
        .collect();
    if keys.is_empty() {
        return refuse("no public signing key of an accepted type");
    }
    stored(keys)
}

/// `uri` checked as a `jwks_uri` (see the [module](self)).
pub fn checked_jwks_uri(uri: &str) -> Result<String> {
    let refuse = |why: &str| Err(Error::InvalidRequest(format!("jwks_uri: {why}")));
    if uri.len() > MAX_JWKS_URI_LEN {
        return refuse("too long");
    }
    let Ok(parsed) = url::Url::parse(uri) else {
        return refuse("not an absolute URL");
    };
    if parsed.as_str().len() > MAX_JWKS_URI_LEN {
        return refuse("too long once written in normal form");
    }
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host().is_none() {
        return refuse("an https URL");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return refuse("no user information");
    }
    if parsed.fragment().is_some() {
        return refuse("no fragment");
    }
    Ok(parsed.into())
}

/// The client an assertion names (its `sub`), read without verifying anything: which client's
/// keys to verify it with. `None` if it is not a JWT naming one.
pub fn asserted_client(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

/// A verified assertion: its `jti` and when it expires, for the caller to use it once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// Its unique id.
    pub jti: String,
    /// Its `exp`, in seconds since the Unix epoch.
    pub exp: i64,
}

/// Why an assertion is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssertionRefusal {
    /// No key of the set verifies it (an unknown `kid`, or no key without one): keys fetched
    /// from a `jwks_uri` may be stale, and are worth fetching again.
    NoKey,
    /// Refused before any key vouched for it (malformed, an algorithm or header refused): the
    /// reason is for logs, as the caller may be anyone.
    Unverified(&'static str),
    /// Refused, for the reason given, though one of the client's keys signed it.
    Refused(&'static str),
}

/// Verifies `assertion` as client `client_id`'s, against its JWK Set `keys` (JSON text), for a
/// server whose issuer identifier is `issuer`, at `now` with `leeway` seconds (see the
/// [module](self)).
#[cfg(feature = "jwt")]
pub fn verify_assertion(
    assertion: &str,
    client_id: &str,
    keys: &str,
    issuer: &str,
    now: i64,
    leeway: i64,
) -> std::result::Result<Assertion, AssertionRefusal> {
    use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm};
    use jsonwebtoken::{Algorithm, DecodingKey};

    const MALFORMED: AssertionRefusal =
        AssertionRefusal::Unverified("the client assertion is not a signed JWT");
    let mut parts = assertion.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(MALFORMED);
    };
    let header: Value = URL_SAFE_NO_PAD
        .decode(header_b64)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or(MALFORMED)?;
    // Keys or extensions in the header would let the assertion name its own key.
    if ["jwk", "jku", "x5u", "x5c", "crit"]
        .iter()
        .any(|name| header.get(name).is_some())
    {
        return Err(AssertionRefusal::Unverified(
            "the client assertion's header names keys or extensions",
        ));
    }
    let algorithm = match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => Algorithm::RS256,
        Some("PS256") => Algorithm::PS256,
        Some("ES256") => Algorithm::ES256,
        Some("EdDSA") => Algorithm::EdDSA,
        _ => {
            return Err(AssertionRefusal::Unverified(
                "the client assertion is signed with RS256, PS256, ES256 or EdDSA",
            ));
        }
    };
    let Ok(set) = serde_json::from_str::<JwkSet>(keys) else {
        return Err(AssertionRefusal::Unverified(
            "the client's keys are not a JWK Set",
        ));
    };
    let kid = header.get("kid").and_then(Value::as_str);
    let fits = |parameters: &AlgorithmParameters| {
        matches!(
            (parameters, algorithm),
            (
                AlgorithmParameters::RSA(_),
                Algorithm::RS256 | Algorithm::PS256
            ) | (AlgorithmParameters::EllipticCurve(_), Algorithm::ES256)
                | (AlgorithmParameters::OctetKeyPair(_), Algorithm::EdDSA)
        )
    };
    let message = &assertion[..header_b64.len() + 1 + payload_b64.len()];
    crate::token::jwt::install_crypto_provider();
    let verified = set
        .keys
        .iter()
        .filter(|jwk| kid.is_none_or(|kid| jwk.common.key_id.as_deref() == Some(kid)))
        .filter(|jwk| fits(&jwk.algorithm))
        .filter(|jwk| {
            jwk.common.key_algorithm.is_none_or(|alg| {
                matches!(
                    (alg, algorithm),
                    (KeyAlgorithm::RS256, Algorithm::RS256)
                        | (KeyAlgorithm::PS256, Algorithm::PS256)
                        | (KeyAlgorithm::ES256, Algorithm::ES256)
                        | (KeyAlgorithm::EdDSA, Algorithm::EdDSA)
                )
            })
        })
        .filter_map(|jwk| DecodingKey::from_jwk(jwk).ok())
        .any(|key| {
            jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key, algorithm)
                .unwrap_or(false)
        });
    if !verified {
        return Err(AssertionRefusal::NoKey);
    }
    let claims: Value = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or(MALFORMED)?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let time = |name: &str| claims.get(name).and_then(Value::as_i64);
    if text("iss") != Some(client_id) || text("sub") != Some(client_id) {
        return Err(AssertionRefusal::Refused(
            "the client assertion's iss and sub are the client's id",
        ));
    }
    let audience_is_issuer = match claims.get("aud") {
        Some(Value::String(aud)) => aud == issuer,
        Some(Value::Array(auds)) => {
            matches!(auds.as_slice(), [Value::String(aud)] if aud == issuer)
        }
        _ => false,
    };
    if !audience_is_issuer {
        return Err(AssertionRefusal::Refused(
            "the client assertion's aud is the issuer identifier, alone",
        ));
    }
    let Some(exp) = time("exp") else {
        return Err(AssertionRefusal::Refused("the client assertion has no exp"));
    };
    if now.saturating_sub(leeway) >= exp {
        return Err(AssertionRefusal::Refused("the client assertion expired"));
    }
    let longest = i64::try_from(MAX_ASSERTION_LIFETIME.as_secs()).unwrap_or(i64::MAX);
    if exp > now.saturating_add(longest).saturating_add(leeway) {
        return Err(AssertionRefusal::Refused(
            "the client assertion's exp is more than an hour away",
        ));
    }
    let latest_start = now.saturating_add(leeway);
    if time("nbf").is_some_and(|nbf| nbf > latest_start)
        || time("iat").is_some_and(|iat| iat > latest_start)
    {
        return Err(AssertionRefusal::Refused(
            "the client assertion is not valid yet",
        ));
    }
    match text("jti") {
        Some(jti) if !jti.is_empty() && jti.len() <= 256 => Ok(Assertion {
            jti: jti.to_owned(),
            exp,
        }),
        _ => Err(AssertionRefusal::Refused(
            "the client assertion has a jti of 1 to 256 characters",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn ec() -> Value {
        serde_json::json!({"kty": "EC", "crv": "P-256", "x": b64(&[1; 32]), "y": b64(&[2; 32]), "kid": "a"})
    }

    #[test]
    fn a_registered_set_holds_public_signing_keys_only() {
        let rsa =
            serde_json::json!({"kty": "RSA", "n": b64(&[0xC5; 256]), "e": "AQAB", "alg": "PS256"});
        let okp =
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&[3; 32]), "use": "sig"});
        let set = serde_json::json!({"keys": [ec(), rsa, okp]}).to_string();
        assert_eq!(
            serde_json::from_str::<Value>(&checked_jwks(&set).unwrap()).unwrap(),
            serde_json::from_str::<Value>(&set).unwrap()
        );
        let with = |change: &dyn Fn(&mut Value)| {
            let mut key = ec();
            change(&mut key);
            serde_json::json!({"keys": [key]}).to_string()
        };
        for (bad, why) in [
            ("{}".to_owned(), "\"keys\" array"),
            ("nope".to_owned(), "not JSON"),
            (r#"{"keys": []}"#.to_owned(), "1 to 10 keys"),
            (with(&|k| k["d"] = "x".into()), "register public keys only"),
            (with(&|k| k["crv"] = "P-384".into()), "P-256"),
            (with(&|k| k["x"] = b64(&[1; 31]).into()), "32 bytes"),
            (with(&|k| k["alg"] = "RS256".into()), "alg is one of ES256"),
            (with(&|k| k["use"] = "enc".into()), "use is sig"),
            (with(&|k| k["kid"] = "".into()), "kid is 1 to 256"),
            (
                with(&|k| k["x5c"] = "not-an-array".into()),
                "not of its JOSE type",
            ),
            (
                serde_json::json!({"keys": [ec(), ec()]}).to_string(),
                "two keys have this kid",
            ),
            (
                serde_json::json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}).to_string(),
                "public keys only",
            ),
            (
                serde_json::json!({"keys": [{"kty": "RSA", "n": b64(&[0xC5; 128]), "e": "AQAB"}]})
                    .to_string(),
                "2048 bits",
            ),
        ] {
            let error = checked_jwks(&bad).unwrap_err().to_string();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }

    #[test]
    fn a_jwks_uri_is_an_absolute_url_without_credentials() {
        assert_eq!(
            checked_jwks_uri("https://client.example/jwks.json").unwrap(),
            "https://client.example/jwks.json"
        );
        for (bad, why) in [
            ("/jwks.json", "absolute"),
            ("ftp://client.example/jwks", "https URL"),
            ("https://user:pw@client.example/jwks", "user information"),
            ("https://client.example/jwks#x", "fragment"),
        ] {
            let error = checked_jwks_uri(bad).unwrap_err().to_string();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }

    #[test]
    fn a_fetched_set_keeps_its_usable_signing_keys() {
        let enc = serde_json::json!({"kty": "EC", "crv": "P-256", "x": b64(&[4; 32]), "y": b64(&[5; 32]), "use": "enc"});
        let p384 = serde_json::json!({"kty": "EC", "crv": "P-384", "x": b64(&[4; 48]), "y": b64(&[5; 48])});
        let set = serde_json::json!({"keys": [enc, p384, ec(), ec()]}).to_string();
        let kept: Value = serde_json::from_str(&usable_jwks(&set).unwrap()).unwrap();
        assert_eq!(
            kept,
            serde_json::json!({"keys": [ec()]}),
            "one usable key, its kid once"
        );
        let none = serde_json::json!({"keys": [enc_only()]}).to_string();
        assert!(
            usable_jwks(&none)
                .unwrap_err()
                .to_string()
                .contains("no public signing key")
        );
        assert!(
            checked_jwks(&set).is_err(),
            "registration takes no unusable key"
        );
    }

    fn enc_only() -> Value {
        serde_json::json!({"kty": "EC", "crv": "P-256", "x": b64(&[4; 32]), "y": b64(&[5; 32]), "use": "enc"})
    }

    #[cfg(feature = "jwt")]
    mod assertions {
        use super::super::*;
        use crate::testing;
        use crate::token::{Algorithm, Key, KeySet};
        use secrecy::ExposeSecret as _;

        const ISSUER: &str = "https://auth.example.com";
        const NOW: i64 = 1_800_000_000;

        fn public(key: &Key) -> String {
            serde_json::to_string(&KeySet::new(key.clone()).unwrap().jwks()).unwrap()
        }

        fn claims() -> Value {
            serde_json::json!({
                "iss": "client", "sub": "client", "aud": ISSUER,
                "exp": NOW + 60, "jti": "j-1",
            })
        }

        /// `claims` signed by `key` under `header`'s alg and kid.
        fn signed(key: &Key, header: jsonwebtoken::Header, claims: &Value) -> String {
            let pem = key.export_private().unwrap();
            let encoding = match header.alg {
                jsonwebtoken::Algorithm::ES256 => {
                    jsonwebtoken::EncodingKey::from_ec_pem(pem.expose_secret().as_bytes())
                }
                jsonwebtoken::Algorithm::EdDSA => {
                    jsonwebtoken::EncodingKey::from_ed_pem(pem.expose_secret().as_bytes())
                }
                _ => jsonwebtoken::EncodingKey::from_rsa_pem(pem.expose_secret().as_bytes()),
            }
            .unwrap();
            crate::token::jwt::install_crypto_provider();
            jsonwebtoken::encode(&header, claims, &encoding).unwrap()
        }

        fn header(alg: jsonwebtoken::Algorithm, key: &Key) -> jsonwebtoken::Header {
            let mut header = jsonwebtoken::Header::new(alg);
            header.kid = Some(key.id().as_str().to_owned());
            header
        }

        fn verify(assertion: &str, keys: &str) -> std::result::Result<Assertion, AssertionRefusal> {
            verify_assertion(assertion, "client", keys, ISSUER, NOW, 30)
        }

        #[test]
        fn only_a_registered_key_of_the_algorithm_it_is_for_verifies() {
            let ec = testing::key(Algorithm::Es256);
            let keys = public(&ec);
            let good = signed(&ec, header(jsonwebtoken::Algorithm::ES256, &ec), &claims());
            assert_eq!(
                verify(&good, &keys),
                Ok(Assertion {
                    jti: "j-1".into(),
                    exp: NOW + 60
                })
            );
            // HS256 keyed with the public key's bytes (the old confusion): refused unread.
            let public_json: Value = serde_json::from_str(&keys).unwrap();
            let x = public_json["keys"][0]["x"].as_str().unwrap().to_owned();
            let hmac = jsonwebtoken::encode(
                &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                &claims(),
                &jsonwebtoken::EncodingKey::from_secret(x.as_bytes()),
            )
            .unwrap();
            assert!(matches!(
                verify(&hmac, &keys),
                Err(AssertionRefusal::Unverified(_))
            ));
            // A key carried in the header is never used.
            let mut carrying = header(jsonwebtoken::Algorithm::ES256, &ec);
            carrying.jku = Some("https://attacker.example/jwks".into());
            let carried = signed(&ec, carrying, &claims());
            assert_eq!(
                verify(&carried, &keys),
                Err(AssertionRefusal::Unverified(
                    "the client assertion's header names keys or extensions"
                ))
            );
            // Another key, an unknown kid, or a key of another type under the same kid.
            let other = testing::key(Algorithm::Es256);
            let stranger = signed(
                &other,
                header(jsonwebtoken::Algorithm::ES256, &other),
                &claims(),
            );
            assert_eq!(verify(&stranger, &keys), Err(AssertionRefusal::NoKey));
            let mut renamed = header(jsonwebtoken::Algorithm::ES256, &ec);
            renamed.kid = Some("not-registered".into());
            assert_eq!(
                verify(&signed(&ec, renamed, &claims()), &keys),
                Err(AssertionRefusal::NoKey)
            );
            let ed = testing::key(Algorithm::EdDsa);
            let mut as_ec = header(jsonwebtoken::Algorithm::EdDSA, &ed);
            as_ec.kid = Some(ec.id().as_str().to_owned());
            assert_eq!(
                verify(&signed(&ed, as_ec, &claims()), &keys),
                Err(AssertionRefusal::NoKey),
                "an EdDSA assertion under an EC key's kid finds no key to try"
            );
            // A key registered for one algorithm verifies no other of its type.
            let rsa = testing::rsa_key();
            let mut pinned: Value = serde_json::from_str(&public(&rsa)).unwrap();
            pinned["keys"][0]["alg"] = "PS256".into();
            let rs256 = signed(
                &rsa,
                header(jsonwebtoken::Algorithm::RS256, &rsa),
                &claims(),
            );
            assert_eq!(
                verify(&rs256, &pinned.to_string()),
                Err(AssertionRefusal::NoKey)
            );
            assert!(
                verify(&rs256, &public(&rsa)).is_ok(),
                "RS256 under an RS256 key"
            );
        }
    }
}
