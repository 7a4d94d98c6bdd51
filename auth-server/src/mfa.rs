//! `auth-server mfa reencrypt`: after a new key was put first in `MFA_ENCRYPTION_KEYS`, move
//! every stored TOTP secret to it, so the older keys can leave the list.

use std::process::ExitCode;

use auth_core::store::postgres::PostgresStore;
use auth_core::store::reencrypt_totp_secrets;

use crate::cli::MfaReencryptArgs;

pub(crate) fn reencrypt(args: &MfaReencryptArgs) -> ExitCode {
    let mut problems = Vec::new();
    // Read as the server reads its environment.
    let get = |name: &str| crate::config::setting(std::env::var(name).ok());
    let keyring = crate::config::mfa_keys(&get, true, &mut problems);
    let Some(keyring) = keyring.filter(|_| problems.is_empty()) else {
        return crate::cli::invalid_configuration("mfa reencrypt", &problems);
    };
    let result = crate::cli::block_on("mfa reencrypt", async {
        let store = PostgresStore::connect(&args.database.config()?)?;
        reencrypt_totp_secrets(&store, &keyring, args.batch).await
    });
    let Some(result) = result else {
        return ExitCode::FAILURE;
    };
    match result {
        Ok(report) => {
            let unreadable: Vec<serde_json::Value> = report
                .unreadable
                .iter()
                .map(|(user, why)| serde_json::json!({ "user_id": user, "error": why }))
                .collect();
            println!(
                "{}",
                serde_json::json!({
                    "key_id": keyring.active_key_id(),
                    "moved": report.moved,
                    "changed_meanwhile": report.changed_meanwhile,
                    "unreadable": unreadable,
                })
            );
            // Unreadable secrets still need an old key: retiring it now would lock them out.
            if report.unreadable.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("mfa reencrypt: {} ({error})", error.code());
            ExitCode::FAILURE
        }
    }
}
