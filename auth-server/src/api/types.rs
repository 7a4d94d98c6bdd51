//! The request and response bodies of the API, as the OpenAPI document describes them.

use auth_core::flows::{DisableTotp, PasskeyResponse, Reauthentication, Tokens};
use auth_core::id::SessionId;
use auth_core::secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A new account.
#[derive(Deserialize, ToSchema)]
pub(crate) struct Registration {
    /// An email address: one `@` with something on either side, no whitespace or control
    /// characters, a domain IDNA accepts, at most 254 bytes once normalised.
    #[schema(format = Email, min_length = 3, max_length = 254)]
    pub(crate) email: String,
    /// The new password, its length counted in characters; the minimum holds for its NFKC
    /// form too (characters normalisation merges count once). One found in the common or the
    /// breached passwords, or built on the email or the service's name, is refused (422).
    #[schema(value_type = String, format = Password, min_length = 12, max_length = 128)]
    pub(crate) password: SecretString,
}

/// What a login sends: any text is accepted, and a wrong pair is `invalid_credentials`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct Credentials {
    pub(crate) email: String,
    #[schema(value_type = String, format = Password)]
    pub(crate) password: SecretString,
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct RefreshRequest {
    #[schema(value_type = String)]
    pub(crate) refresh_token: SecretString,
    /// Space-separated: the new access token carries only these of the session's scopes
    /// (RFC 6749 section 6); the refresh token keeps them all. Absent: all of them.
    #[serde(default)]
    #[schema(pattern = "^ *([!#-\\[\\]-~]{1,128}( +[!#-\\[\\]-~]{1,128})*)? *$")]
    pub(crate) scope: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct MfaVerifyRequest {
    #[schema(value_type = String)]
    pub(crate) mfa_token: SecretString,
    #[schema(value_type = String)]
    pub(crate) code: SecretString,
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct PasswordChange {
    #[schema(value_type = String, format = Password)]
    pub(crate) current_password: SecretString,
    /// As a registration's password.
    #[schema(value_type = String, format = Password, min_length = 12, max_length = 128)]
    pub(crate) new_password: SecretString,
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct CodeRequest {
    #[schema(value_type = String)]
    pub(crate) code: SecretString,
}

/// A password or a second-factor code, exactly one: what turns TOTP off (a step-up takes a
/// passkey besides: [`ReauthRequest`]). Documented as [`Proof`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProofRequest {
    /// A current TOTP code or a recovery code.
    #[serde(default, deserialize_with = "present")]
    pub(crate) code: Option<SecretString>,
    /// The account password.
    #[serde(default, deserialize_with = "present")]
    pub(crate) password: Option<SecretString>,
}

/// A member that is there must be a string: `null` is not "left out", as the schema says.
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SecretString>, D::Error> {
    SecretString::deserialize(deserializer).map(Some)
}

// The schema of `ProofRequest`, which says "exactly one" as the struct cannot.
/// A password or a second-factor code, exactly one.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[schema(as = ProofRequest)]
#[allow(dead_code)] // only read by the OpenAPI derive
pub(crate) enum Proof {
    Code(CodeProof),
    Password(PasswordProof),
}

/// A current TOTP code or a recovery code.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // only read by the OpenAPI derive
pub(crate) struct CodeProof {
    #[schema(value_type = String)]
    code: SecretString,
}

/// The account password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // only read by the OpenAPI derive
pub(crate) struct PasswordProof {
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

/// What a step-up authenticates with: the password, a second-factor code, or a passkey's
/// answer to a ceremony begun at `/v1/auth/passkeys/reauthenticate/options`; exactly one.
/// Documented as [`ReauthProof`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReauthRequest {
    /// A current TOTP code or a recovery code.
    #[serde(default, deserialize_with = "present")]
    pub(crate) code: Option<SecretString>,
    /// The account password.
    #[serde(default, deserialize_with = "present")]
    pub(crate) password: Option<SecretString>,
    /// A passkey's answer.
    #[serde(default)]
    pub(crate) passkey: Option<PasskeyAnswer>,
}

/// A passkey's answer to a ceremony: its id and `PublicKeyCredential.toJSON()`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasskeyAnswer {
    /// The id from the options.
    #[schema(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    pub(crate) ceremony: String,
    /// `PublicKeyCredential.toJSON()` of what the browser returned.
    #[schema(value_type = Object)]
    #[serde(deserialize_with = "object")]
    pub(crate) credential: serde_json::Value,
}

/// A member that must be a JSON object.
fn object<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<serde_json::Value, D::Error> {
    serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)
        .map(serde_json::Value::Object)
}

// The schema of `ReauthRequest`, which says "exactly one" as the struct cannot.
/// The password, a second-factor code or a passkey's answer, exactly one.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[schema(as = ReauthRequest)]
#[allow(dead_code)] // only read by the OpenAPI derive
pub(crate) enum ReauthProof {
    Code(CodeProof),
    Password(PasswordProof),
    Passkey(PasskeyProof),
}

/// A passkey's answer to a reauthentication ceremony.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // only read by the OpenAPI derive
pub(crate) struct PasskeyProof {
    passkey: PasskeyAnswer,
}

impl ReauthRequest {
    /// The one proof sent: `invalid_request` (400) for none or more than one.
    pub(crate) fn proof(&self) -> Result<Reauthentication<'_>, auth_core::Error> {
        match (&self.code, &self.password, &self.passkey) {
            (Some(code), None, None) => Ok(Reauthentication::Code(code.expose_secret())),
            (None, Some(password), None) => Ok(Reauthentication::Password(password)),
            (None, None, Some(answer)) => Ok(Reauthentication::Passkey(PasskeyResponse {
                ceremony: &answer.ceremony,
                credential: &answer.credential,
            })),
            _ => Err(auth_core::Error::InvalidRequest(
                "send one of a code, the password or a passkey's answer".into(),
            )),
        }
    }
}

impl ProofRequest {
    /// The one proof sent: `invalid_request` (400) for none or both.
    pub(crate) fn proof(&self) -> Result<DisableTotp<'_>, auth_core::Error> {
        match (&self.code, &self.password) {
            (Some(code), None) => Ok(DisableTotp::Code(code.expose_secret())),
            (None, Some(password)) => Ok(DisableTotp::Password(password)),
            _ => Err(auth_core::Error::InvalidRequest(
                "send either a code or the password".into(),
            )),
        }
    }
}

/// Tokens handed out by login, MFA verification and refresh.
#[derive(Serialize, ToSchema)]
pub(crate) struct TokenBody {
    /// The access token (JWT or PASETO).
    pub(crate) access_token: String,
    /// Always `Bearer`.
    pub(crate) token_type: &'static str,
    /// Seconds until the access token expires.
    pub(crate) expires_in: u64,
    /// The refresh token: opaque and single use.
    pub(crate) refresh_token: String,
    /// The access token's scopes, space-separated (absent: none): those of the account's
    /// roles, or the subset a refresh asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) scope: Option<String>,
}

impl From<&Tokens> for TokenBody {
    fn from(tokens: &Tokens) -> Self {
        Self {
            access_token: tokens.access_token.expose_secret().to_owned(),
            token_type: tokens.token_type,
            expires_in: tokens.expires_in,
            refresh_token: tokens.refresh_token.expose_secret().to_owned(),
            scope: (!tokens.scope.is_empty()).then(|| tokens.scope.to_string()),
        }
    }
}

/// The password was right and a second factor is needed.
#[derive(Serialize, ToSchema)]
pub(crate) struct MfaChallengeBody {
    /// Always true.
    pub(crate) mfa_required: bool,
    /// Send it with a code to `/v1/auth/mfa/verify`, or with a passkey's answer to
    /// `/v1/auth/passkeys/mfa/finish`.
    pub(crate) mfa_token: String,
    /// Seconds until the challenge expires.
    pub(crate) expires_in: u64,
    /// The second factors the account has, to offer in this order: `passkey`, `totp`,
    /// `recovery_code`.
    #[schema(example = json!(["passkey", "totp", "recovery_code"]))]
    pub(crate) factors: Vec<&'static str>,
}

/// What a login answers.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum LoginBody {
    /// No second factor enrolled.
    Tokens(TokenBody),
    /// A second factor is enrolled.
    Challenge(MfaChallengeBody),
}

/// A new account.
#[derive(Serialize, ToSchema)]
pub(crate) struct UserBody {
    /// Its id.
    #[schema(value_type = String)]
    pub(crate) user_id: auth_core::id::UserId,
    /// Its normalised email.
    pub(crate) email: String,
}

/// The caller's account.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProfileBody {
    #[schema(value_type = String)]
    pub(crate) user_id: auth_core::id::UserId,
    pub(crate) email: String,
    pub(crate) mfa_enabled: bool,
    #[schema(value_type = Option<String>)]
    pub(crate) session_id: Option<SessionId>,
}

/// What an authenticator app needs. Shown once.
#[derive(Serialize, ToSchema)]
pub(crate) struct EnrollmentBody {
    /// The secret in base32.
    pub(crate) secret: String,
    /// The `otpauth://` URI, usually shown as a QR code.
    pub(crate) otpauth_uri: String,
}

/// Recovery codes, shown once.
#[derive(Serialize, ToSchema)]
pub(crate) struct RecoveryCodesBody {
    pub(crate) recovery_codes: Vec<String>,
}

/// One of the caller's sessions.
#[derive(Serialize, ToSchema)]
pub(crate) struct SessionBody {
    #[schema(value_type = String)]
    pub(crate) id: SessionId,
    /// Seconds since the Unix epoch.
    pub(crate) created_at: u64,
    /// Seconds since the Unix epoch.
    pub(crate) last_used_at: u64,
    /// Whether it is the session of the token that asked.
    pub(crate) current: bool,
    /// Opened by a passkey whose signature counter did not increase, let through by
    /// `PASSKEY_COUNTER_POLICY=accept`: perhaps a cloned authenticator.
    pub(crate) flagged: bool,
    /// The client's address when it started; absent for sessions started before releases
    /// that record it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = "ip")]
    pub(crate) client: Option<std::net::IpAddr>,
    /// What started it (its `User-Agent`), for sessions opened by the hosted pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 256)]
    pub(crate) user_agent: Option<String>,
}

/// The caller's sessions.
#[derive(Serialize, ToSchema)]
pub(crate) struct SessionsBody {
    pub(crate) sessions: Vec<SessionBody>,
}

/// An address a mail goes to: a reset link, a sign-in link and code, a verification link.
#[derive(Deserialize, ToSchema)]
pub(crate) struct EmailRequest {
    #[schema(format = Email, min_length = 3, max_length = 254)]
    pub(crate) email: String,
}

/// The token of a mailed link (the `token` of its query).
#[derive(Deserialize, ToSchema)]
pub(crate) struct TokenRequest {
    #[schema(value_type = String, pattern = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$")]
    pub(crate) token: SecretString,
}

/// A link's token in a page's query; a page without one says so.
#[derive(Deserialize)]
pub(crate) struct TokenQuery {
    pub(crate) token: Option<String>,
}

/// A new password with a reset link's token, and the second factor when the account has one.
#[derive(Deserialize, ToSchema)]
pub(crate) struct ResetRequest {
    #[schema(value_type = String, pattern = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$")]
    pub(crate) token: SecretString,
    /// As a registration's password.
    #[schema(value_type = String, format = Password, min_length = 12, max_length = 128)]
    pub(crate) new_password: SecretString,
    /// A current TOTP code or a recovery code: required when the account has a second factor
    /// (`403 mfa_required` without it; the link stays usable).
    #[serde(default, deserialize_with = "present_unless_empty")]
    #[schema(value_type = Option<String>)]
    pub(crate) code: Option<SecretString>,
}

/// A form's empty field is a field left out.
fn present_unless_empty<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SecretString>, D::Error> {
    let value = Option::<String>::deserialize(deserializer)?;
    Ok(value
        .filter(|v| !v.trim().is_empty())
        .map(SecretString::from))
}

/// A sign-in by email: the link's token, or the request id `login/email` answered with the
/// mailed code. Documented as [`EmailLogin`].
#[derive(Deserialize)]
pub(crate) struct EmailLoginRequest {
    #[serde(default, deserialize_with = "present_unless_empty")]
    pub(crate) token: Option<SecretString>,
    #[serde(default)]
    pub(crate) request_id: Option<String>,
    #[serde(default, deserialize_with = "present_unless_empty")]
    pub(crate) code: Option<SecretString>,
}

// The schema of `EmailLoginRequest`, which says "one or the other" as the struct cannot.
/// The link's token, or the request id and the code.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[schema(as = EmailLoginRequest)]
#[allow(dead_code)] // only read by the OpenAPI derive
pub(crate) enum EmailLogin {
    Link(LinkLogin),
    Code(CodeLogin),
}

/// The token of the mailed sign-in link.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // only read by the OpenAPI derive
pub(crate) struct LinkLogin {
    #[schema(value_type = String, pattern = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$")]
    token: SecretString,
}

/// The request id `login/email` answered, and the mailed code.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // only read by the OpenAPI derive
pub(crate) struct CodeLogin {
    #[schema(pattern = "^[A-Za-z0-9_-]{22}$")]
    request_id: String,
    #[schema(value_type = String, pattern = "^[0-9]{6,8}$")]
    code: SecretString,
}

/// A move of the caller's account to another address.
#[derive(Deserialize, ToSchema)]
pub(crate) struct EmailChangeRequest {
    #[schema(format = Email, min_length = 3, max_length = 254)]
    pub(crate) new_email: String,
}

/// What a request that sends mail answers, whoever the address belongs to.
#[derive(Serialize, ToSchema)]
pub(crate) struct AcceptedBody {
    /// `accepted`, or `verification_sent` for a sign-up that waits for its verification.
    pub(crate) status: &'static str,
}

/// What `login/email` answers: the id to send the mailed code with.
#[derive(Serialize, ToSchema)]
pub(crate) struct EmailLoginBody {
    /// Always `accepted`.
    pub(crate) status: &'static str,
    /// Sent back with the code to `/v1/auth/login/email/verify`.
    pub(crate) request_id: String,
}

/// What a used link did.
#[derive(Serialize, ToSchema)]
pub(crate) struct DoneBody {
    /// `verified`, `password_reset` or `email_changed`.
    pub(crate) status: &'static str,
}
