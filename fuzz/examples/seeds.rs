//! Writes the seed corpora to `seeds/<target>/` (run from `fuzz/`:
//! `cargo run --example seeds`). Tokens are signed with the fixture keys at the fixture time,
//! so they verify in the targets; rerun after changing a fixture.

use std::fs;
use std::path::Path;

use auth_core::clock::ManualClock;
use auth_core::mfa::{TotpParams, TotpSecret, code_at};
use auth_core::secrecy::ExposeSecret;
use auth_core::testing::{NOW, token_config};
use auth_core::token::{Algorithm, KeySet, NewToken, TokenIssuer, TokenKind};
use auth_fuzz::{JWT, PASETO};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use password_hash::CustomizedPasswordHasher;
use std::sync::Arc;

type Seeds = Vec<(String, Vec<u8>)>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new("seeds");
    let targets: [(&str, Seeds); 7] = [
        ("jwt_verify", jwt()?),
        ("paseto_verify", paseto()?),
        ("password_hash_string", hashes()?),
        ("password_policy", passwords()),
        ("totp_code", totp()?),
        ("authorization_header", headers()?),
        ("api_bodies", bodies()),
    ];
    for (target, seeds) in targets {
        let dir = root.join(target);
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(&dir)?;
        for (name, bytes) in &seeds {
            fs::write(dir.join(name), bytes)?;
        }
        println!("{target}: {} seeds", seeds.len());
    }
    Ok(())
}

fn token(issuer: &TokenIssuer, kind: TokenKind, new: NewToken) -> Result<String, auth_core::Error> {
    Ok(issuer.issue(kind, new)?.token.expose_secret().to_owned())
}

/// Access and MFA challenge tokens of `algorithm`, a scoped one, and an expired one.
fn tokens(algorithm: Algorithm) -> Result<Vec<(String, String)>, auth_core::Error> {
    let name = algorithm.name().to_ascii_lowercase().replace('.', "-");
    let issuer = auth_fuzz::issuer(algorithm);
    let mut seeds = vec![
        (
            format!("{name}-access"),
            token(&issuer, TokenKind::Access, NewToken::new("user-42"))?,
        ),
        (
            format!("{name}-mfa"),
            token(&issuer, TokenKind::MfaChallenge, NewToken::new("user-42"))?,
        ),
        (
            format!("{name}-full"),
            token(
                &issuer,
                TokenKind::Access,
                NewToken::new("user-42")
                    .session_id("sess-1")
                    .scope(["orders:read", "orders:write"])
                    .amr(["pwd", "otp"]),
            )?,
        ),
    ];
    let past = Arc::new(ManualClock::at_unix(NOW - 86_400));
    let keys = Arc::new(KeySet::new(auth_fuzz::key(algorithm))?);
    let stale = TokenIssuer::new(keys, token_config(), past)?;
    seeds.push((
        format!("{name}-expired"),
        token(&stale, TokenKind::Access, NewToken::new("user-42"))?,
    ));
    Ok(seeds)
}

fn bytes(seeds: Vec<(String, String)>) -> Seeds {
    seeds
        .into_iter()
        .map(|(name, text)| (name, text.into_bytes()))
        .collect()
}

fn jwt() -> Result<Seeds, Box<dyn std::error::Error>> {
    let mut seeds = Vec::new();
    for algorithm in JWT {
        seeds.extend(tokens(algorithm)?);
    }
    // Header and claims for the target to sign with HS256: the real ones, and tampered ones.
    let hs = tokens(Algorithm::Hs256)?.remove(0).1;
    let mut parts = hs.split('.');
    let header = URL_SAFE_NO_PAD.decode(parts.next().unwrap_or_default())?;
    let claims = URL_SAFE_NO_PAD.decode(parts.next().unwrap_or_default())?;
    let header = String::from_utf8(header)?;
    let claims = String::from_utf8(claims)?;
    let kid = auth_fuzz::key(Algorithm::Hs256).id().as_str().to_owned();
    seeds.extend([
        ("signed-real".into(), format!("{header}\n{claims}")),
        (
            "signed-alg-none".into(),
            format!("{{\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"{kid}\"}}\n{claims}"),
        ),
        (
            "signed-jwk".into(),
            format!(
                "{{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"{kid}\",\"jwk\":{{\"kty\":\"oct\"}}}}\n{claims}"
            ),
        ),
        (
            "signed-crit".into(),
            format!(
                "{{\"alg\":\"HS256\",\"typ\":\"application/at+JWT\",\"kid\":\"{kid}\",\"crit\":[\"exp\"]}}\n{claims}"
            ),
        ),
        (
            "signed-aud-list".into(),
            format!(
                "{header}\n{{\"iss\":\"https://auth.example.com\",\"sub\":\"u\",\"aud\":[\"other\",\"api\"],\"exp\":{},\"iat\":{},\"nbf\":{},\"jti\":\"j\",\"scope\":\"a b\",\"amr\":[\"pwd\"],\"sid\":\"s\",\"extra\":{{\"nested\":[1,2.5e300,null]}}}}",
                NOW + 600,
                NOW,
                NOW
            ),
        ),
        (
            "signed-big-numbers".into(),
            format!(
                "{header}\n{{\"iss\":\"https://auth.example.com\",\"sub\":\"u\",\"aud\":\"api\",\"exp\":9223372036854775807,\"iat\":-9223372036854775808,\"jti\":\"j\"}}"
            ),
        ),
        ("garbage-dots".into(), "a.b.c".into()),
        ("garbage-empty-parts".into(), "..".into()),
        ("garbage-none".into(), "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.".into()),
    ]);
    Ok(bytes(seeds))
}

fn paseto() -> Result<Seeds, Box<dyn std::error::Error>> {
    let mut seeds = Vec::new();
    for algorithm in PASETO {
        seeds.extend(tokens(algorithm)?);
    }
    // Payload and footer for the target to encrypt and sign: from a real v4.public token,
    // whose payload is in the clear before its 64-byte signature.
    let public = tokens(Algorithm::PasetoV4Public)?.remove(0).1;
    let parts: Vec<&str> = public.split('.').collect();
    let signed = URL_SAFE_NO_PAD.decode(parts.get(2).copied().unwrap_or_default())?;
    let payload = String::from_utf8(signed[..signed.len().saturating_sub(64)].to_vec())?;
    let footer =
        String::from_utf8(URL_SAFE_NO_PAD.decode(parts.get(3).copied().unwrap_or_default())?)?;
    let local_kid = auth_fuzz::key(Algorithm::PasetoV4Local)
        .id()
        .as_str()
        .to_owned();
    seeds.extend([
        ("sealed-real".into(), format!("{payload}\n{footer}")),
        (
            "sealed-local-kid".into(),
            format!("{payload}\n{{\"kid\":\"{local_kid}\",\"typ\":\"mfa-challenge+jwt\"}}"),
        ),
        ("sealed-no-footer".into(), payload.clone()),
        (
            "sealed-bad-times".into(),
            format!(
                "{{\"iss\":\"https://auth.example.com\",\"sub\":\"u\",\"aud\":\"api\",\"exp\":\"9999-12-31T23:59:60+14:00\",\"iat\":\"1970-01-01T00:00:00Z\",\"jti\":\"j\"}}\n{footer}"
            ),
        ),
        ("garbage-prefix".into(), "v4.public.".into()),
        ("garbage-local".into(), "v4.local.AAAA.e30".into()),
        ("garbage-v2".into(), "v2.public.AAAA".into()),
    ]);
    Ok(bytes(seeds))
}

const PASSWORD: &str = "correct horse battery staple";

fn hashes() -> Result<Seeds, Box<dyn std::error::Error>> {
    let salt = b"saltsaltsaltsalt";
    let argon2 = |algorithm, version| -> Result<String, Box<dyn std::error::Error>> {
        let params = argon2::Params::new(64, 1, 1, None)?;
        let hasher = argon2::Argon2::new(algorithm, version, params.clone());
        Ok(hasher
            .hash_password_with_params(PASSWORD.as_bytes(), salt, params)?
            .to_string())
    };
    let pbkdf2_sha256 = pbkdf2::Pbkdf2::default()
        .hash_password_with_params(PASSWORD.as_bytes(), salt, pbkdf2::Params::new(1_000)?)?
        .to_string();
    let pbkdf2_sha512 = pbkdf2::Pbkdf2::SHA512
        .hash_password_with_params(PASSWORD.as_bytes(), salt, pbkdf2::Params::new(1_000)?)?
        .to_string();
    let scrypt = scrypt::Scrypt::default()
        .hash_password_with_params(PASSWORD.as_bytes(), salt, scrypt::Params::new(4, 8, 1)?)?
        .to_string();
    let bcrypt = bcrypt::hash_with_salt(PASSWORD, 4, *salt)?;
    let seeds = vec![
        ("argon2id".into(), argon2(argon2::Algorithm::Argon2id, argon2::Version::V0x13)?),
        ("argon2i".into(), argon2(argon2::Algorithm::Argon2i, argon2::Version::V0x13)?),
        ("argon2d-v16".into(), argon2(argon2::Algorithm::Argon2d, argon2::Version::V0x10)?),
        ("pbkdf2-sha256".into(), pbkdf2_sha256),
        ("pbkdf2-sha512".into(), pbkdf2_sha512),
        ("scrypt".into(), scrypt),
        ("bcrypt-2b".into(), bcrypt.format_for_version(bcrypt::Version::TwoB)),
        ("bcrypt-2y".into(), bcrypt.format_for_version(bcrypt::Version::TwoY)),
        (
            "argon2id-default-cost".into(),
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g".into(),
        ),
        (
            "pbkdf2-rfc-vector".into(),
            "$pbkdf2-sha256$i=4096,l=40$c2FsdFNBTFRzYWx0U0FMVHNhbHRTQUxUc2FsdFNBTFRzYWx0$NIyJ28vTKy8y2BS4EW6EzysXNH68GAAYHE4qH7jdU+HGNVGMfaxH6Q\npasswordPASSWORDpassword".into(),
        ),
        ("unknown-scheme".into(), "$1$saltsalt$hash".into()),
        ("empty-segments".into(), "$$$$".into()),
    ];
    let mut seeds: Vec<(String, String)> = seeds;
    // The same hashes against a wrong password.
    let wrong: Vec<(String, String)> = seeds
        .iter()
        .take(8)
        .map(|(name, stored)| {
            (
                format!("{name}-wrong"),
                format!("{stored}\nnot the password"),
            )
        })
        .collect();
    seeds.extend(wrong);
    Ok(bytes(seeds))
}

fn passwords() -> Seeds {
    bytes(vec![
        ("plain".into(), PASSWORD.into()),
        ("short".into(), "abc".into()),
        (
            "nfkc".into(),
            "ｆｕｌｌｗｉｄｔｈ ｐａｓｓｗｏｒｄ ﬁ".into(),
        ),
        (
            "combining".into(),
            "e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}".into(),
        ),
        ("control".into(), "pass\u{0}word\u{7}tab\there".into()),
        ("emoji".into(), "🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑".into()),
        ("long".into(), "x".repeat(200)),
    ])
}

fn totp() -> Result<Seeds, Box<dyn std::error::Error>> {
    let secret = TotpSecret::from_bytes(b"12345678901234567890")?;
    let mut seeds = Vec::new();
    let now = i64::try_from(NOW)?;
    // (algorithm, digits, period) as the target reads them.
    for (algorithm, digits, period) in [(0u8, 6u8, 30u16), (1, 8, 30), (2, 6, 60), (0, 8, 15)] {
        let head = |time: i64| {
            let mut bytes = vec![algorithm, digits];
            bytes.extend_from_slice(&period.to_le_bytes());
            bytes.extend_from_slice(&time.to_le_bytes());
            bytes
        };
        let params = TotpParams {
            algorithm: match algorithm {
                0 => auth_core::mfa::TotpAlgorithm::Sha1,
                1 => auth_core::mfa::TotpAlgorithm::Sha256,
                _ => auth_core::mfa::TotpAlgorithm::Sha512,
            },
            digits: u32::from(digits),
            period: u64::from(period),
        };
        let code = code_at(&secret, &params, now).ok_or("no code")?;
        let name = format!("a{algorithm}-d{digits}-p{period}");
        let mut valid = head(now);
        valid.extend_from_slice(code.as_bytes());
        seeds.push((format!("{name}-valid"), valid));
        let (first, second) = code.split_at(code.len() / 2);
        let mut spaced = head(now);
        spaced.extend_from_slice(format!("  {first} {second}\n").as_bytes());
        seeds.push((format!("{name}-spaced"), spaced));
        let mut previous = head(now + i64::from(period));
        previous.extend_from_slice(code.as_bytes());
        seeds.push((format!("{name}-previous-step"), previous));
        let mut wrong = head(now);
        wrong.extend_from_slice(&b"000000000"[..usize::from(digits)]);
        seeds.push((format!("{name}-wrong"), wrong));
    }
    let mut edge = vec![0, 6, 30, 0];
    edge.extend_from_slice(&i64::MAX.to_le_bytes());
    edge.extend_from_slice(b"123456");
    seeds.push(("time-max".into(), edge));
    let mut negative = vec![0, 6, 30, 0];
    negative.extend_from_slice(&(-1i64).to_le_bytes());
    negative.extend_from_slice(b"123456");
    seeds.push(("time-negative".into(), negative));
    let mut bad_params = vec![0, 7, 0, 0];
    bad_params.extend_from_slice(&now.to_le_bytes());
    bad_params.extend_from_slice("١٢٣٤٥٦".as_bytes());
    seeds.push(("params-invalid".into(), bad_params));
    for (name, code) in [
        ("recovery-grouped", "abcd-efgh-ijkl-mnop-qrst-uvwx"),
        ("recovery-legacy", "abcd-efgh-ijkl-mnop"),
        ("recovery-upper-spaced", " ABCD EFGH 2345 6777 "),
        // Found by the fuzzer when codes grew to 24 characters.
        ("recovery-spaced-24", " ABCD EFGH 2 EFGH 2345 345 6777 "),
        ("recovery-bad-char", "abcd-efgh-ijkl-mno1"),
    ] {
        let mut seed = vec![0, 6, 30, 0];
        seed.extend_from_slice(&now.to_le_bytes());
        seed.extend_from_slice(code.as_bytes());
        seeds.push((name.into(), seed));
    }
    Ok(seeds)
}

fn headers() -> Result<Seeds, Box<dyn std::error::Error>> {
    let valid = tokens(Algorithm::EdDsa)?.remove(0).1;
    let paseto = tokens(Algorithm::PasetoV4Local)?.remove(0).1;
    let expired = tokens(Algorithm::Es256)?.remove(3).1;
    let mfa = tokens(Algorithm::EdDsa)?.remove(1).1;
    Ok(bytes(vec![
        ("bearer-valid".into(), format!("1Bearer {valid}")),
        (
            "bearer-lowercase-spaces".into(),
            format!("1bearer    {valid}"),
        ),
        ("bearer-paseto".into(), format!("1Bearer {paseto}")),
        ("bearer-expired".into(), format!("1Bearer {expired}")),
        ("bearer-mfa-token".into(), format!("1Bearer {mfa}")),
        ("bearer-padded".into(), "1Bearer abc==".into()),
        ("bearer-empty".into(), "1Bearer ".into()),
        ("basic".into(), "1Basic dXNlcjpwYXNz".into()),
        ("no-scheme".into(), format!("1{valid}")),
        (
            "two-headers".into(),
            format!("3Bearer {valid}\nBearer {valid}"),
        ),
        (
            "cookie-only".into(),
            format!("4theme=dark; __Host-access={valid}; other=1"),
        ),
        (
            "cookie-and-header".into(),
            format!("5Bearer nope\n__Host-access={valid}"),
        ),
        ("cookie-other-name".into(), format!("4access={valid}")),
        ("none".into(), "0".into()),
    ]))
}

fn bodies() -> Seeds {
    let credentials = format!("{{\"email\":\"ada@example.com\",\"password\":\"{PASSWORD}\"}}");
    let seeds: Vec<(&str, String)> = vec![
        ("a-register", credentials.clone()),
        ("a-register-weak", "{\"email\":\"bob@example.com\",\"password\":\"short\"}".into()),
        ("a-register-bad-email", "{\"email\":\"not an email\",\"password\":\"correct horse battery staple\"}".into()),
        ("a-register-missing", "{\"email\":\"ada@example.com\"}".into()),
        ("b-login", credentials.clone()),
        ("b-login-wrong-types", "{\"email\":1,\"password\":[]}".into()),
        ("c-refresh-fixture", "{\"refresh_token\":\"$REFRESH\"}".into()),
        ("c-refresh-garbage", "{\"refresh_token\":\"rt_AAAA.BBBB\"}".into()),
        ("d-mfa-verify", "{\"mfa_token\":\"$ACCESS\",\"code\":\"123456\"}".into()),
        ("e-logout", String::new()),
        (
            "f-password",
            "{\"current_password\":\"wrong password here\",\"new_password\":\"another long passphrase\"}".into(),
        ),
        ("g-enroll", String::new()),
        ("h-confirm", "{\"code\":\"123456\"}".into()),
        ("i-disable-code", "{\"code\":\"123456\"}".into()),
        ("i-disable-password", "{\"password\":\"x\"}".into()),
        ("i-disable-both", "{\"code\":\"123456\",\"password\":\"x\",\"extra\":1}".into()),
        ("j-sessions", String::new()),
        ("k-session-id", "AAAAAAAAAAAAAAAAAAAAAA".into()),
        ("k-session-weird", "../../x?y#z".into()),
        ("a-not-json", "{\"email\":".into()),
    ];
    seeds
        .into_iter()
        .map(|(name, body)| {
            let selector = name.as_bytes()[0];
            let mut bytes = vec![selector];
            bytes.extend_from_slice(body.as_bytes());
            (name.to_owned(), bytes)
        })
        .collect()
}
