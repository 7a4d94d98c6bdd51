//! OAuth clients from the command line: `auth-server client create|list|delete`, over the
//! server's database through the library's flows (each change audited with its actor).

use std::process::ExitCode;

use auth_core::authz::{Scope, ScopeSet};
use auth_core::oauth::{Client, ClientAuthMethod, ClientId, ClientKeys, GrantType, NewClient};
use auth_core::secrecy::ExposeSecret as _;
use serde_json::{Value, json};

use crate::cli::{ClientCreateArgs, ClientDeleteArgs, RoleListArgs, run_printing};
use crate::roles::actor;
use crate::user::operator_authenticator;

pub(crate) fn create(args: &ClientCreateArgs) -> ExitCode {
    run_printing("client create", async {
        let auth_method = ClientAuthMethod::parse(&args.auth_method)?;
        // None named: the identity scopes, what signing a user in takes (a service names its
        // own: registration says so).
        let named: Vec<&str> = if args.scopes.is_empty()
            && !(args.grants.len() == 1 && args.grants[0] == "client_credentials")
        {
            auth_core::flows::IDENTITY_SCOPES.to_vec()
        } else {
            args.scopes.iter().map(String::as_str).collect()
        };
        let scopes = named
            .into_iter()
            .map(Scope::parse)
            .collect::<auth_core::Result<ScopeSet>>()?;
        let grant_types = if args.grants.is_empty() {
            let mut grants = vec![GrantType::AuthorizationCode];
            if !args.no_refresh {
                grants.push(GrantType::RefreshToken);
            }
            grants
        } else {
            args.grants
                .iter()
                .map(|name| GrantType::parse(name))
                .collect::<auth_core::Result<Vec<_>>>()?
        };
        let new = NewClient {
            name: args.name.clone(),
            auth_method,
            redirect_uris: args.redirect_uris.clone(),
            grant_types,
            scopes,
            first_party: args.first_party,
            audience: args.audience.clone(),
            id_token_alg: args.id_token_alg.clone(),
            post_logout_redirect_uris: args.post_logout_redirect_uris.clone(),
            require_par: args.require_par,
            jwks: match args.jwks.as_deref() {
                Some(path) if path.starts_with('@') => {
                    Some(std::fs::read_to_string(&path[1..]).map_err(|e| {
                        auth_core::Error::InvalidRequest(format!("--jwks {path}: {e}"))
                    })?)
                }
                jwks => jwks.map(str::to_owned),
            },
            jwks_uri: args.jwks_uri.clone(),
        };
        // Checked before the database is reached: a bad registration changes nothing.
        new.clone().register(std::time::SystemTime::now())?;
        let (auth, _) = operator_authenticator(&args.database).await?;
        let registered = auth.register_client(new, &actor(&args.actor)).await?;
        let mut printed = client_json(&registered.client);
        if let Some(secret) = &registered.secret {
            printed["client_secret"] = json!(secret.expose_secret());
        }
        Ok(printed)
    })
}

pub(crate) fn list(args: &RoleListArgs) -> ExitCode {
    run_printing("client list", async {
        let (auth, _) = operator_authenticator(&args.database).await?;
        let clients = auth.clients().await?;
        Ok(Value::Array(clients.iter().map(client_json).collect()))
    })
}

pub(crate) fn delete(args: &ClientDeleteArgs) -> ExitCode {
    run_printing("client delete", async {
        let id = ClientId::parse(&args.client_id)?;
        let (auth, _) = operator_authenticator(&args.database).await?;
        auth.delete_client(&id, &actor(&args.actor)).await?;
        Ok(json!({ "client_id": id.as_str(), "deleted": true }))
    })
}

/// A client as the commands print it: never its secret's digest.
fn client_json(client: &Client) -> Value {
    json!({
        "client_id": client.id.as_str(),
        "name": client.name,
        "auth_method": client.auth_method.as_str(),
        "redirect_uris": client.redirect_uris.iter().map(|uri| uri.as_str()).collect::<Vec<_>>(),
        "grant_types": client.grant_types.iter().map(|grant| grant.as_str()).collect::<Vec<_>>(),
        "scopes": client.scopes.to_strings(),
        "first_party": client.first_party,
        "audience": client.audience,
        "id_token_signed_response_alg": client.id_token_alg,
        "post_logout_redirect_uris": client
            .post_logout_redirect_uris
            .iter()
            .map(|uri| uri.as_str())
            .collect::<Vec<_>>(),
        "require_pushed_authorization_requests": client.require_par,
        "jwks": match &client.keys {
            Some(ClientKeys::Inline(jwks)) => serde_json::from_str(jwks).unwrap_or(Value::Null),
            _ => Value::Null,
        },
        "jwks_uri": match &client.keys {
            Some(ClientKeys::Uri(uri)) => Some(uri.as_str()),
            _ => None,
        },
    })
}
