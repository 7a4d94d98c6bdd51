//! `auth-server keys generate`.

use std::process::ExitCode;

use auth_core::secrecy::ExposeSecret as _;
use auth_core::token::{Algorithm, Key};

use crate::cli::{GenerateArgs, KeyFormat};

fn algorithm(format: KeyFormat) -> Algorithm {
    match format {
        KeyFormat::JwtEddsa => Algorithm::EdDsa,
        KeyFormat::JwtEs256 => Algorithm::Es256,
        KeyFormat::JwtRs256 => Algorithm::Rs256,
        KeyFormat::JwtHs256 => Algorithm::Hs256,
        KeyFormat::PasetoV4Public => Algorithm::PasetoV4Public,
        KeyFormat::PasetoV4Local => Algorithm::PasetoV4Local,
    }
}

pub(crate) fn generate(args: &GenerateArgs) -> ExitCode {
    let algorithm = algorithm(args.format);
    let key = match Key::generate(algorithm).and_then(|key| Ok((key.export_private()?, key))) {
        Ok(key) => key,
        Err(error) => {
            eprintln!("auth-server: cannot generate a {algorithm} key: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (material, key) = key;
    let printed = serde_json::json!({
        "kid": key.id().as_str(),
        "alg": algorithm.name(),
        "key": material.expose_secret(),
    });
    println!("{printed}");
    ExitCode::SUCCESS
}
