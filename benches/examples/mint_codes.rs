//! Authorization codes for the side-by-side benchmark (`benches/load/run.sh oidc-peer`),
//! minted through auth-core's own types (`oauth::AuthorizationCode`, `GrantStore::save_code`)
//! into the database the server under load reads, as its authorization endpoint would leave
//! them once the user consented: PKCE S256 with the verifier below, scope `openid`, signed in
//! by password. One difference, for the run only: each code lives an hour rather than
//! `CODE_TTL` (a minute), so that codes minted before the run are still good during it (the
//! peer's are given the same hour).
//!
//! ```text
//! DATABASE_URL=postgres://... cargo run -p auth-benches --example mint_codes -- \
//!     CLIENT_ID EMAIL REDIRECT_URI COUNT OUT_FILE
//! ```
//!
//! Prints nothing; writes one code per line to OUT_FILE.

use std::io::Write as _;
use std::time::{Duration, SystemTime};

use auth_core::authz::ScopeSet;
use auth_core::id::{Amr, OpaqueSecret};
use auth_core::oauth::{AuthorizationCode, ClientId, CodeChallenge};
use auth_core::secrecy::ExposeSecret as _;
use auth_core::store::postgres::{PostgresConfig, PostgresStore};
use auth_core::store::{GrantStore as _, UserStore as _};
use base64::Engine as _;
use sha2::Digest as _;

/// The PKCE verifier the harness sends with every code.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [client_id, email, redirect_uri, count, out] = args.as_slice() else {
        return Err("usage: mint_codes CLIENT_ID EMAIL REDIRECT_URI COUNT OUT_FILE".into());
    };
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is needed")?;
    let store = PostgresStore::connect(&PostgresConfig::from_url(url))?;
    let user = store
        .user_by_email(email)
        .await?
        .ok_or("no account has this email")?;
    let client_id = ClientId::parse(client_id)?;
    let digest = sha2::Sha256::digest(VERIFIER.as_bytes());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    let challenge = CodeChallenge::parse(&challenge, Some("S256"))?;
    let count: usize = count.parse()?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    let now = SystemTime::now();
    for _ in 0..count {
        let code = OpaqueSecret::generate();
        store
            .save_code(AuthorizationCode {
                hash: code.hash(),
                client_id: client_id.clone(),
                user_id: user.id,
                redirect_uri: redirect_uri.clone(),
                scope: ScopeSet::parse("openid")?,
                nonce: None,
                code_challenge: Some(challenge.clone()),
                amr: Amr::Password,
                auth_time: now,
                epoch: user.epoch,
                created_at: now,
                expires_at: now + Duration::from_secs(3600),
            })
            .await?;
        writeln!(file, "{}", code.into_secret().expose_secret())?;
    }
    file.flush()?;
    Ok(())
}
