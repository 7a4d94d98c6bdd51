//! Conformance of [`ClientStore`]: registered OAuth clients.

use std::sync::Arc;

use super::t0;
use crate::authz::ScopeSet;
use crate::error::Error;
use crate::oauth::{ClientAuthMethod, GrantType, NewClient};
use crate::store::ClientStore;

fn registration(auth_method: ClientAuthMethod, first_party: bool) -> NewClient {
    let mut redirect_uris = vec![
        "https://shop.example.com/callback?tenant=7".into(),
        "http://127.0.0.1/callback".into(),
        "http://[::1]:8080/callback".into(),
    ];
    if !auth_method.is_confidential() {
        redirect_uris = vec![
            "com.example.shop:/callback".into(),
            "https://shop.example.com/cb".into(),
        ];
    }
    NewClient {
        name: "Conformance shop".into(),
        auth_method,
        redirect_uris,
        grant_types: vec![GrantType::RefreshToken, GrantType::AuthorizationCode],
        scopes: ScopeSet::parse("openid profile orders:read").unwrap(),
        first_party,
        audience: None,
        id_token_alg: None,
        post_logout_redirect_uris: Vec::new(),
        require_par: false,
        jwks: None,
        jwks_uri: None,
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
    let mut by_form = registration(ClientAuthMethod::ClientSecretPost, false);
    by_form.scopes = ScopeSet::new();
    by_form.audience = Some("https://orders.example.com".into());
    by_form.id_token_alg = Some("ES256".into());
    by_form.post_logout_redirect_uris = vec![
        "https://app.example.com/signed-out".into(),
        "http://127.0.0.1:8400/bye".into(),
    ];
    by_form.require_par = true;
    let by_form = by_form
        .register(t0() + std::time::Duration::from_micros(1_000_001))
        .unwrap();
    for registered in [&by_form, &public, &confidential] {
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
    assert!(found.accepts_redirect("http://127.0.0.1:43123/callback"));
    let found_public = clients
        .find_client(&public.client.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found_public, public.client);
    assert!(found_public.secret_hash.is_none());
    let found_by_form = clients
        .find_client(&by_form.client.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        found_by_form, by_form.client,
        "the form method, no scopes, a microsecond"
    );
    assert_eq!(
        clients
            .find_client(&crate::oauth::ClientId::generate())
            .await
            .unwrap(),
        None
    );
    // A service: client_credentials alone, no redirect URIs.
    let mut service = registration(ClientAuthMethod::ClientSecretBasic, false);
    service.redirect_uris = Vec::new();
    service.grant_types = vec![GrantType::ClientCredentials];
    service.scopes = ScopeSet::parse("orders:read").unwrap();
    service.audience = Some("https://orders.example.com".into());
    let service = service.register(t0()).unwrap();
    clients.create_client(service.client.clone()).await.unwrap();
    assert_eq!(
        clients.find_client(&service.client.id).await.unwrap(),
        Some(service.client.clone()),
        "a service client"
    );
    assert!(clients.delete_client(&service.client.id).await.unwrap());

    assert!(matches!(
        clients.create_client(confidential.client.clone()).await,
        Err(Error::Conflict(_))
    ));
    let listed = clients.list_clients().await.unwrap();
    let position =
        |id: &crate::oauth::ClientId| listed.iter().position(|client| client.id == *id).unwrap();
    assert!(
        position(&confidential.client.id) < position(&public.client.id)
            && position(&public.client.id) < position(&by_form.client.id),
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
    assert!(clients.delete_client(&by_form.client.id).await.unwrap());
}
