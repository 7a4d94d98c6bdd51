//! The server side of a passkey sign-in, against the bare signature check it wraps.
//!
//! - `finish`: what `finish_passkey_sign_in` does once its stores have answered: parse the
//!   browser's credential (JSON, base64url), the ceremony's stored state and the stored
//!   passkey (JSON), then webauthn-rs's verification (clientDataJSON, challenge, origin,
//!   authenticator data, flags, and the ES256 signature). Store I/O excluded.
//! - `bare`: the ES256 verification alone with the same `p256` release webauthn-rs uses:
//!   SHA-256 of clientDataJSON appended to the authenticator data, the DER signature parsed,
//!   verified against a key parsed once.
//!
//! The goal is `finish` within 15% of `bare`: what surrounds the signature costs little.
#![allow(clippy::unwrap_used)]

use auth_core::testing::passkey::SoftPasskey;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use p256_webauthn::ecdsa::signature::Verifier;
use p256_webauthn::ecdsa::{DerSignature, VerifyingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    Credential, DiscoverableAuthentication, Passkey, PublicKeyCredential, Url, WebauthnBuilder,
};

const ORIGIN: &str = "https://app.example.com";

/// A registered passkey, a sign-in ceremony's stored state and the browser's answer to it,
/// all as the server holds or receives them (bytes).
struct SignIn {
    webauthn: webauthn_rs::Webauthn,
    state: Vec<u8>,
    stored: Vec<u8>,
    answer: Vec<u8>,
    public_key: Vec<u8>,
}

fn sign_in() -> SignIn {
    let origin = Url::parse(ORIGIN).unwrap();
    let webauthn = WebauthnBuilder::new("example.com", &origin)
        .unwrap()
        .build()
        .unwrap();
    let mut passkey = SoftPasskey::synced(ORIGIN);
    let (options, registration) = webauthn
        .start_passkey_registration(uuid::Uuid::new_v4(), "ada", "Ada", None)
        .unwrap();
    let created = passkey.create(&serde_json::to_value(&options).unwrap());
    let registered = webauthn
        .finish_passkey_registration(&serde_json::from_value(created).unwrap(), &registration)
        .unwrap();
    let (options, state) = webauthn.start_discoverable_authentication().unwrap();
    let answer = passkey.get(&serde_json::to_value(&options).unwrap());
    SignIn {
        state: serde_json::to_vec(&state).unwrap(),
        stored: serde_json::to_vec(&registered).unwrap(),
        answer: serde_json::to_vec(&answer).unwrap(),
        public_key: passkey.public_key_sec1(),
        webauthn,
    }
}

/// The server's side, from the bytes it has.
fn finish(sign_in: &SignIn) -> bool {
    let answer: PublicKeyCredential = serde_json::from_slice(&sign_in.answer).unwrap();
    let state: DiscoverableAuthentication = serde_json::from_slice(&sign_in.state).unwrap();
    let stored: Passkey = serde_json::from_slice(&sign_in.stored).unwrap();
    let mut credential: Credential = stored.into();
    credential.counter = 0;
    sign_in
        .webauthn
        .finish_discoverable_authentication_v2(&answer, state, &credential)
        .is_ok_and(|result| result.user_verified())
}

fn passkey(c: &mut Criterion) {
    let sign_in = sign_in();
    assert!(finish(&sign_in), "the assertion verifies");

    // The bare check's inputs, taken from the same answer.
    let answer: Value = serde_json::from_slice(&sign_in.answer).unwrap();
    let field = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(answer["response"][name].as_str().unwrap())
            .unwrap()
    };
    let (auth_data, client_data, signature) = (
        field("authenticatorData"),
        field("clientDataJSON"),
        field("signature"),
    );
    let key = VerifyingKey::from_sec1_bytes(&sign_in.public_key).unwrap();
    let bare = || {
        let mut message = auth_data.clone();
        message.extend_from_slice(&Sha256::digest(&client_data));
        let signature = DerSignature::try_from(signature.as_slice()).unwrap();
        key.verify(&message, &signature).is_ok()
    };
    assert!(bare(), "the bare signature verifies");

    let mut group = c.benchmark_group("passkey sign-in");
    group.bench_function("finish", |b| b.iter(|| assert!(finish(&sign_in))));
    group.bench_function("bare", |b| b.iter(|| assert!(bare())));
    group.finish();
}

criterion_group!(benches, passkey);
criterion_main!(benches);
