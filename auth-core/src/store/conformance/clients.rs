//! Conformance of [`ClientStore`]: registered OAuth clients.

use std::sync::Arc;

use super::t0;
use crate::authz::ScopeSet;
use crate::error::Error;
use crate::oauth::{ClientAuthMethod, GrantType, NewClient};
use crate::store::ClientStore;

fn registration(auth_method: ClientAuthMethod, first_party: bool) -> NewClient {
    NewClient {
        name: "Conformance shop".into(),
        auth_method,
        redirect_uris: vec![
            "https://shop.example.com/callback".into(),
            "http://127.0.0.1/callback".into(),
        ],
        grant_types: vec![GrantType::RefreshToken, GrantType::AuthorizationCode],
        scopes: ScopeSet::parse("openid profile orders:read").unwrap(),
        first_party,
    }
}

/// Clients: stored with every field (a confidential one's secret digest, a public one's
/// none), found by id, listed oldest first, unique by id, deleted once.
pub async fn clients_are_stored_found_listed_and_deleted(clients: Arc<dyn ClientStore>) {
    let confidential = registration(ClientAuthMethod::ClientSecretBasic, true)
        .register(t0())
        .unwrap();
    let public = registration(ClientAuthMethod::None, false)
        .register(t0() + std::time::Duration::from_secs(1))
        .unwrap();
    for registered in [&confidential, &public] {
        clients
            .create_client(registered.client.clone())
            .await
            .unwrap();
    }
    let found = clients
        .find_client(&confidential.client.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, confidential.client);
    assert!(found.secret_hash.is_some());
    let secret = confidential.secret.as_ref().unwrap();
    assert!(found.secret_matches(secrecy::ExposeSecret::expose_secret(secret)));
    assert!(
        found
            .redirect_uri("http://127.0.0.1:43123/callback")
            .is_some()
    );
    let found_public = clients
        .find_client(&public.client.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found_public, public.client);
    assert!(found_public.secret_hash.is_none());

    assert!(matches!(
        clients.create_client(confidential.client.clone()).await,
        Err(Error::Conflict(_))
    ));
    let listed = clients.list_clients().await.unwrap();
    let position =
        |id: &crate::oauth::ClientId| listed.iter().position(|client| client.id == *id).unwrap();
    assert!(
        position(&confidential.client.id) < position(&public.client.id),
        "oldest first"
    );

    assert!(
        clients
            .delete_client(&confidential.client.id)
            .await
            .unwrap()
    );
    assert!(
        !clients
            .delete_client(&confidential.client.id)
            .await
            .unwrap()
    );
    assert_eq!(
        clients.find_client(&confidential.client.id).await.unwrap(),
        None
    );
    assert!(clients.delete_client(&public.client.id).await.unwrap());
}
