//! [`ClientStore`]: table `auth_oauth_clients`, one row per registered client.

use async_trait::async_trait;
use deadpool_postgres::tokio_postgres::Row;

use super::{PostgresStore, corrupt, execute, get, pg_time, query, query_opt};
use crate::authz::{Scope, ScopeSet};
use crate::error::{Error, Result};
use crate::id::SecretHash;
use crate::oauth::{Client, ClientAuthMethod, ClientId, ClientKeys, GrantType, RedirectUri};
use crate::store::ClientStore;

const COLUMNS: &str = "id, name, auth_method, secret_hash, redirect_uris, grant_types, scopes, \
                       first_party, created_at, audience, id_token_alg, \
                       post_logout_redirect_uris, require_par, jwks, jwks_uri";

fn client_of(row: &Row) -> Result<Client> {
    let secret_hash = get::<Option<Vec<u8>>>(row, "secret_hash")?
        .map(|bytes| {
            <[u8; 32]>::try_from(bytes.as_slice())
                .map(SecretHash::from_bytes)
                .map_err(|_| corrupt("client secret digest"))
        })
        .transpose()?;
    let strings = |column: &str| get::<Vec<String>>(row, column);
    Ok(Client {
        id: ClientId::parse(get::<&str>(row, "id")?).map_err(|_| corrupt("client id"))?,
        name: get(row, "name")?,
        auth_method: ClientAuthMethod::parse(get::<&str>(row, "auth_method")?)
            .map_err(|_| corrupt("client authentication method"))?,
        secret_hash,
        keys: match (
            get::<Option<String>>(row, "jwks")?,
            get::<Option<String>>(row, "jwks_uri")?,
        ) {
            (Some(jwks), None) => Some(ClientKeys::Inline(jwks)),
            (None, Some(uri)) => Some(ClientKeys::Uri(uri)),
            (None, None) => None,
            (Some(_), Some(_)) => return Err(corrupt("client keys")),
        },
        redirect_uris: strings("redirect_uris")?
            .into_iter()
            .map(RedirectUri::stored)
            .collect(),
        grant_types: strings("grant_types")?
            .iter()
            .map(|grant| GrantType::parse(grant).map_err(|_| corrupt("grant type")))
            .collect::<Result<_>>()?,
        scopes: strings("scopes")?
            .iter()
            .map(|scope| Scope::parse(scope).map_err(|_| corrupt("scope")))
            .collect::<Result<ScopeSet>>()?,
        first_party: get(row, "first_party")?,
        audience: get(row, "audience")?,
        id_token_alg: get(row, "id_token_alg")?,
        post_logout_redirect_uris: strings("post_logout_redirect_uris")?
            .into_iter()
            .map(RedirectUri::stored)
            .collect(),
        require_par: get(row, "require_par")?,
        created_at: get(row, "created_at")?,
    })
}

#[async_trait]
impl ClientStore for PostgresStore {
    async fn create_client(&self, client: Client) -> Result<()> {
        let db = self.client().await?;
        let uris: Vec<&str> = client
            .redirect_uris
            .iter()
            .map(RedirectUri::as_str)
            .collect();
        let grants: Vec<&str> = client.grant_types.iter().map(|g| g.as_str()).collect();
        let (inline_keys, keys_uri) = match &client.keys {
            Some(ClientKeys::Inline(jwks)) => (Some(jwks.as_str()), None),
            Some(ClientKeys::Uri(uri)) => (None, Some(uri.as_str())),
            None => (None, None),
        };
        let logout_uris: Vec<&str> = client
            .post_logout_redirect_uris
            .iter()
            .map(RedirectUri::as_str)
            .collect();
        let created = execute(
            &db,
            &format!(
                "INSERT INTO auth_oauth_clients ({COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
                         $15) \
                 ON CONFLICT (id) DO NOTHING"
            ),
            &[
                &client.id.as_str(),
                &client.name,
                &client.auth_method.as_str(),
                &client
                    .secret_hash
                    .as_ref()
                    .map(|hash| hash.as_bytes().as_slice()),
                &uris,
                &grants,
                &client.scopes.to_strings(),
                &client.first_party,
                &pg_time(client.created_at),
                &client.audience,
                &client.id_token_alg,
                &logout_uris,
                &client.require_par,
                &inline_keys,
                &keys_uri,
            ],
        )
        .await?;
        if created == 0 {
            return Err(Error::Conflict("the client id is taken".into()));
        }
        Ok(())
    }

    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>> {
        let db = self.client().await?;
        query_opt(
            &db,
            &format!("SELECT {COLUMNS} FROM auth_oauth_clients WHERE id = $1"),
            &[&id.as_str()],
        )
        .await?
        .map(|row| client_of(&row))
        .transpose()
    }

    async fn list_clients(&self) -> Result<Vec<Client>> {
        let db = self.client().await?;
        query(
            &db,
            &format!("SELECT {COLUMNS} FROM auth_oauth_clients ORDER BY created_at, id"),
            &[],
        )
        .await?
        .iter()
        .map(client_of)
        .collect()
    }

    async fn delete_client(&self, id: &ClientId) -> Result<bool> {
        let db = self.client().await?;
        let deleted = execute(
            &db,
            "DELETE FROM auth_oauth_clients WHERE id = $1",
            &[&id.as_str()],
        )
        .await?;
        Ok(deleted == 1)
    }
}
