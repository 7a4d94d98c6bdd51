//! A software passkey built from the WebAuthn specification, for tests: it answers
//! `navigator.credentials.create()` and `.get()` options as an authenticator and a browser
//! would together (ES256, "none" attestation), in the JSON form `PublicKeyCredential.toJSON()`
//! gives. Each knob a test needs to see a check fire is a public field: the origin the
//! "browser" reports, the relying party id it hashes, user verification, the backup flags, the
//! signature counter.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use rand::RngCore;
use rand::rngs::OsRng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A software authenticator holding one ES256 credential.
#[derive(Clone)]
pub struct SoftPasskey {
    /// The origin the client reports in `clientDataJSON`.
    pub origin: String,
    /// The relying party id whose hash goes into the authenticator data (`None`: the one the
    /// options name).
    pub rp_id: Option<String>,
    /// The credential id (set at creation: 32 random bytes).
    pub credential_id: Vec<u8>,
    /// The user handle stored at creation and returned by assertions (`None`: not returned,
    /// as for a credential that is not discoverable).
    pub user_handle: Option<Vec<u8>>,
    /// The signature counter: `None` keeps none (always 0, as synced passkeys do); otherwise
    /// each signature increments it first.
    pub counter: Option<u32>,
    /// The backup-eligible flag.
    pub backup_eligible: bool,
    /// The backed-up flag.
    pub backup_state: bool,
    /// Whether the user verification flag is set.
    pub user_verified: bool,
    /// The authenticator model's id.
    pub aaguid: [u8; 16],
    /// The transports the client reports at registration.
    pub transports: Vec<String>,
    key: SigningKey,
}

impl SoftPasskey {
    /// A synced passkey (backup eligible and backed up, no counter, user verification done)
    /// used on pages of `origin`.
    pub fn synced(origin: &str) -> Self {
        let mut credential_id = vec![0u8; 32];
        OsRng.fill_bytes(&mut credential_id);
        Self {
            origin: origin.to_owned(),
            rp_id: None,
            credential_id,
            user_handle: None,
            counter: None,
            backup_eligible: true,
            backup_state: true,
            user_verified: true,
            aaguid: *b"soft-passkey-v1!",
            transports: vec!["hybrid".into(), "internal".into()],
            key: SigningKey::random(&mut OsRng),
        }
    }

    /// A device-bound security key (not backup eligible) with a signature counter from 0.
    pub fn security_key(origin: &str) -> Self {
        Self {
            counter: Some(0),
            backup_eligible: false,
            backup_state: false,
            transports: vec!["usb".into()],
            ..Self::synced(origin)
        }
    }

    /// The credential id in base64url.
    pub fn id(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.credential_id)
    }

    /// Answers creation options (`{"publicKey": {...}}`, as the server sent them): a new
    /// credential for the options' user, in `RegistrationResponseJSON` form.
    pub fn create(&mut self, options: &Value) -> Value {
        let public_key = &options["publicKey"];
        let rp_id = public_key["rp"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let user_id = public_key["user"]["id"].as_str().unwrap_or_default();
        self.user_handle = URL_SAFE_NO_PAD.decode(user_id).ok();
        let client_data = self.client_data("webauthn.create", &public_key["challenge"]);
        let mut auth_data = self.auth_data_head(&rp_id, 0x40);
        auth_data.extend_from_slice(&self.aaguid);
        let id_len = u16::try_from(self.credential_id.len()).unwrap_or(u16::MAX);
        auth_data.extend_from_slice(&id_len.to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&self.cose_key());
        let mut object = cbor_head(5, 3);
        cbor_text(&mut object, "fmt");
        cbor_text(&mut object, "none");
        cbor_text(&mut object, "attStmt");
        object.extend(cbor_head(5, 0));
        cbor_text(&mut object, "authData");
        cbor_bytes(&mut object, &auth_data);
        json!({
            "id": self.id(),
            "rawId": self.id(),
            "type": "public-key",
            "response": {
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
                "attestationObject": URL_SAFE_NO_PAD.encode(object),
                "transports": self.transports,
            },
            "clientExtensionResults": {},
        })
    }

    /// Answers request options (`{"publicKey": {...}}`): an assertion signed with the
    /// credential, in `AuthenticationResponseJSON` form. Answers even when the options'
    /// `allowCredentials` does not list the credential (a test of the server's check).
    pub fn get(&mut self, options: &Value) -> Value {
        let public_key = &options["publicKey"];
        let rp_id = public_key["rpId"].as_str().unwrap_or_default().to_owned();
        if let Some(counter) = &mut self.counter {
            *counter += 1;
        }
        let client_data = self.client_data("webauthn.get", &public_key["challenge"]);
        let auth_data = self.auth_data_head(&rp_id, 0);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(client_data.as_bytes()));
        let signature: Signature = self.key.sign(&signed);
        let mut response = json!({
            "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data.as_bytes()),
            "authenticatorData": URL_SAFE_NO_PAD.encode(&auth_data),
            "signature": URL_SAFE_NO_PAD.encode(signature.to_der().as_bytes()),
        });
        if let Some(handle) = &self.user_handle {
            response["userHandle"] = json!(URL_SAFE_NO_PAD.encode(handle));
        }
        json!({
            "id": self.id(),
            "rawId": self.id(),
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
        })
    }

    /// The public key as uncompressed SEC1 bytes: what a bare verification needs.
    pub fn public_key_sec1(&self) -> Vec<u8> {
        self.key
            .verifying_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec()
    }

    fn client_data(&self, kind: &str, challenge: &Value) -> String {
        json!({
            "type": kind,
            "challenge": challenge.as_str().unwrap_or_default(),
            "origin": self.origin,
            "crossOrigin": false,
        })
        .to_string()
    }

    /// RP id hash, flags (user present, `extra`, and the knobs) and the counter.
    fn auth_data_head(&self, options_rp_id: &str, extra: u8) -> Vec<u8> {
        let rp_id = self.rp_id.as_deref().unwrap_or(options_rp_id);
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        let mut flags = 0x01 | extra;
        if self.user_verified {
            flags |= 0x04;
        }
        if self.backup_eligible {
            flags |= 0x08;
        }
        if self.backup_state {
            flags |= 0x10;
        }
        data.push(flags);
        data.extend_from_slice(&self.counter.unwrap_or(0).to_be_bytes());
        data
    }

    /// The public key as a COSE_Key: EC2, ES256, P-256, x and y.
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_encoded_point(false);
        let mut key = cbor_head(5, 5);
        key.extend([0x01, 0x02, 0x03, 0x26, 0x20, 0x01]);
        key.push(0x21);
        let (x, y) = (point.x().map(|x| x.to_vec()), point.y().map(|y| y.to_vec()));
        cbor_bytes(&mut key, &x.unwrap_or_default());
        key.push(0x22);
        cbor_bytes(&mut key, &y.unwrap_or_default());
        key
    }
}

/// A CBOR head: major type and length.
fn cbor_head(major: u8, len: usize) -> Vec<u8> {
    let major = major << 5;
    match len {
        0..=23 => vec![major | u8::try_from(len).unwrap_or(0)],
        24..=255 => vec![major | 24, u8::try_from(len).unwrap_or(0)],
        _ => {
            let mut head = vec![major | 25];
            head.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
            head
        }
    }
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    out.extend(cbor_head(3, text.len()));
    out.extend_from_slice(text.as_bytes());
}

fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend(cbor_head(2, bytes.len()));
    out.extend_from_slice(bytes);
}
