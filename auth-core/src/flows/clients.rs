//! OAuth clients: registering, listing and deleting them, each audited with its actor.

use super::Authenticator;
use crate::error::{Error, Result};
use crate::event::{Actor, AuthEventKind};
use crate::oauth::{Client, ClientId, NewClient, RegisteredClient};

impl Authenticator {
    /// Registers a client (see [`NewClient::register`] for what is checked): the client as
    /// stored and, for a confidential one, its secret, which is shown this once and kept only
    /// as its digest. Recorded as `client_registered`.
    pub async fn register_client(&self, new: NewClient, actor: &Actor) -> Result<RegisteredClient> {
        let registered = new.register(self.now())?;
        self.inner
            .stores
            .clients
            .create_client(registered.client.clone())
            .await?;
        self.emit(
            AuthEventKind::ClientRegistered {
                client: registered.client.id.to_string(),
                actor: actor.clone(),
            },
            None,
            None,
            None,
        )
        .await;
        Ok(registered)
    }

    /// Every registered client, oldest first.
    pub async fn clients(&self) -> Result<Vec<Client>> {
        self.inner.stores.clients.list_clients().await
    }

    /// Deletes a client: it can no longer authenticate or be sent an answer.
    /// [`Error::NotFound`] if there is no such client. Recorded as `client_deleted`.
    pub async fn delete_client(&self, id: &ClientId, actor: &Actor) -> Result<()> {
        if !self.inner.stores.clients.delete_client(id).await? {
            return Err(Error::NotFound("no such client".into()));
        }
        self.emit(
            AuthEventKind::ClientDeleted {
                client: id.to_string(),
                actor: actor.clone(),
            },
            None,
            None,
            None,
        )
        .await;
        Ok(())
    }
}

#[cfg(all(test, feature = "test-util"))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use secrecy::ExposeSecret as _;

    use super::*;
    use crate::authz::ScopeSet;
    use crate::event::MemoryEventSink;
    use crate::flows::Stores;
    use crate::oauth::{ClientAuthMethod, GrantType};
    use crate::testing;

    #[tokio::test]
    async fn clients_are_registered_listed_and_deleted_with_their_actor_recorded() {
        let events = MemoryEventSink::new();
        let auth = testing::authenticator_builder(testing::authenticator_config())
            .stores(Stores::memory_with_events(Arc::new(events.clone())))
            .clock(testing::clock())
            .build()
            .unwrap();
        let ops = Actor::operator("alice");
        let new = NewClient {
            name: "Shop".into(),
            auth_method: ClientAuthMethod::ClientSecretPost,
            redirect_uris: vec!["https://shop.example.com/cb".into()],
            grant_types: vec![GrantType::AuthorizationCode],
            scopes: ScopeSet::parse("openid").unwrap(),
            first_party: false,
        };
        let registered = auth.register_client(new.clone(), &ops).await.unwrap();
        let secret = registered
            .secret
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_owned();
        assert_eq!(registered.client.created_at, testing::now());
        let listed = auth.clients().await.unwrap();
        assert_eq!(listed, vec![registered.client.clone()]);
        assert!(listed[0].secret_matches(&secret));

        let mut bad = new;
        bad.redirect_uris = vec!["http://shop.example.com/cb".into()];
        assert_eq!(
            auth.register_client(bad, &ops).await.unwrap_err().code(),
            "invalid_request"
        );
        assert_eq!(auth.clients().await.unwrap().len(), 1, "nothing stored");

        auth.delete_client(&registered.client.id, &ops)
            .await
            .unwrap();
        assert!(auth.clients().await.unwrap().is_empty());
        assert!(matches!(
            auth.delete_client(&registered.client.id, &ops).await,
            Err(Error::NotFound(_))
        ));
        let kinds: Vec<AuthEventKind> = events.events().into_iter().map(|e| e.kind).collect();
        let id = registered.client.id.to_string();
        assert_eq!(
            kinds,
            vec![
                AuthEventKind::ClientRegistered {
                    client: id.clone(),
                    actor: ops.clone(),
                },
                AuthEventKind::ClientDeleted {
                    client: id,
                    actor: ops,
                },
            ]
        );
    }
}
