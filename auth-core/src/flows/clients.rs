//! OAuth clients: registering, listing and deleting them, each audited with its actor.

use super::Authenticator;
use crate::error::{Error, Result};
use crate::event::{Actor, AuthEventKind};
use crate::oauth::{Client, ClientAuthMethod, ClientId, NewClient, RegisteredClient};

/// A client's authentication the throttle let through: report a failure.
pub(super) struct ClientAttempt<'a> {
    auth: &'a Authenticator,
    counted: String,
    from: Option<std::net::IpAddr>,
}

impl ClientAttempt<'_> {
    /// The client failed to authenticate: counted, and what this process remembers of
    /// clients let through from that address is forgotten, before the count (a request
    /// cancelled while counting leaves nothing remembered) and again once it is stored (a
    /// check that read the counters before it is not remembered).
    pub(super) async fn failed(self) -> Result<()> {
        let inner = &self.auth.inner;
        inner.clients.forget_let_through(self.from);
        let counted = inner.throttle.client_failed(&self.counted, self.from).await;
        inner.clients.forget_let_through(self.from);
        counted
    }
}

impl Authenticator {
    /// Registers a client (see [`NewClient::register`] for what is checked): the client as
    /// stored and, for a confidential one, its secret, which is shown this once and kept only
    /// as its digest. Recorded as `client_registered`.
    pub async fn register_client(&self, new: NewClient, actor: &Actor) -> Result<RegisteredClient> {
        // Every user token of a client names the issuer, and the server's own tokens its
        // audience: a client of either audience would be shown them all at introspection.
        let tokens = &self.inner.config.tokens;
        if let Some(audience) = &new.audience
            && (*audience == tokens.issuer || *audience == tokens.audience)
        {
            return Err(Error::InvalidRequest(
                "a client's audience is its resource servers', never the server's own or its \
                 issuer"
                    .into(),
            ));
        }
        let registered = new.register(self.now())?;
        if let Some(crate::oauth::ClientKeys::Uri(uri)) = &registered.client.keys {
            self.inner.client_keys.admits(uri)?;
        }
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

    /// Authenticates a client at the token endpoint by `client_id` and the `secret` it
    /// presented `with` (how: Basic, the form, or nothing for a public client), from the client
    /// address `from`. Failures are counted ([`Throttle::client_failed`]), and once they ask
    /// for a wait the answer is [`Error::Throttled`] ([`Throttle::check_client`]; that it let
    /// the client through from that address is reused as the client is, see
    /// [`AuthenticatorConfig::client_cache_ttl`]). The client, or [`Error::InvalidCredentials`]
    /// alike for an unknown client, a wrong secret, a method other than the one it registered,
    /// and a secret from a public client; the reason is logged at `debug`.
    ///
    /// [`Throttle::check_client`]: crate::throttle::Throttle::check_client
    /// [`Throttle::client_failed`]: crate::throttle::Throttle::client_failed
    /// [`AuthenticatorConfig::client_cache_ttl`]: super::AuthenticatorConfig::client_cache_ttl
    pub async fn authenticate_client(
        &self,
        client_id: &str,
        secret: Option<&str>,
        with: ClientAuthMethod,
        from: Option<std::net::IpAddr>,
    ) -> Result<Client> {
        let (attempt, found) = self
            .client_attempt(ClientId::parse(client_id).ok().as_ref(), from)
            .await?;
        let refusal = match (&found, secret) {
            (None, _) => Some("unknown client"),
            (Some(client), _) if client.auth_method != with => {
                Some("not the authentication method it registered")
            }
            (Some(client), Some(secret)) if client.secret_matches(secret) => None,
            (Some(client), None) if client.is_public() => None,
            (Some(_), _) => Some("wrong or missing secret"),
        };
        match (refusal, found) {
            (None, Some(client)) => Ok(client),
            (reason, _) => {
                tracing::debug!(client_id, reason, "client authentication refused");
                attempt.failed().await?;
                Err(Error::InvalidCredentials)
            }
        }
    }

    /// An attempt to authenticate as `id` (`None`: not a client id) from `from`, let through
    /// by the throttle ([`Error::Throttled`] otherwise), and the client it names, if any.
    pub(super) async fn client_attempt(
        &self,
        id: Option<&ClientId>,
        from: Option<std::net::IpAddr>,
    ) -> Result<(ClientAttempt<'_>, Option<Client>)> {
        // What is no client id counts under one key, never as a key of the caller's making.
        let counted = id.map_or("!malformed", ClientId::as_str);
        let clients = &self.inner.clients;
        if let Some(ticket) = clients.let_through(counted, from) {
            self.inner.throttle.check_client(counted, from).await?;
            clients.remember_let_through(counted, from, ticket);
        }
        let found = match id {
            Some(id) => self.client(id).await?,
            None => None,
        };
        let attempt = ClientAttempt {
            auth: self,
            counted: counted.to_owned(),
            from,
        };
        Ok((attempt, found))
    }

    /// Every registered client, oldest first.
    pub async fn clients(&self) -> Result<Vec<Client>> {
        self.inner.stores.clients.list_clients().await
    }

    /// Deletes a client: it can no longer authenticate or be sent an answer.
    /// [`Error::NotFound`] if there is no such client. Recorded as `client_deleted`.
    pub async fn delete_client(&self, id: &ClientId, actor: &Actor) -> Result<()> {
        let deleted = self.inner.stores.clients.delete_client(id).await?;
        self.inner.clients.forget(id);
        if !deleted {
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
            audience: None,
            id_token_alg: None,
            post_logout_redirect_uris: Vec::new(),
            require_par: false,
            jwks: None,
            jwks_uri: None,
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

    #[tokio::test]
    async fn clients_authenticate_with_their_secret_by_their_method_and_failures_are_throttled() {
        let auth = testing::authenticator();
        let ops = Actor::operator("ops");
        let registration = |auth_method| NewClient {
            name: "Client".into(),
            auth_method,
            redirect_uris: vec!["https://client.example.com/cb".into()],
            grant_types: vec![GrantType::AuthorizationCode],
            audience: None,
            id_token_alg: None,
            post_logout_redirect_uris: Vec::new(),
            require_par: false,
            jwks: None,
            jwks_uri: None,
            scopes: ScopeSet::new(),
            first_party: false,
        };
        let basic = auth
            .register_client(registration(ClientAuthMethod::ClientSecretBasic), &ops)
            .await
            .unwrap();
        let public = auth
            .register_client(registration(ClientAuthMethod::None), &ops)
            .await
            .unwrap();
        let id = basic.client.id.as_str();
        let secret = basic.secret.as_ref().unwrap().expose_secret();
        let from = Some("192.0.2.7".parse().unwrap());
        let check = |id: &str, secret: Option<&str>, with| {
            let auth = auth.clone();
            let (id, secret) = (id.to_owned(), secret.map(str::to_owned));
            async move {
                auth.authenticate_client(&id, secret.as_deref(), with, from)
                    .await
            }
        };
        use ClientAuthMethod::{ClientSecretBasic as Basic, ClientSecretPost as Post};
        // A busy service: many authentications at once from one address, none waiting for
        // the others in flight.
        let at_once: Vec<_> = (0..64)
            .map(|_| tokio::spawn(check(id, Some(secret), Basic)))
            .collect();
        for authenticated in at_once {
            assert!(authenticated.await.unwrap().is_ok());
        }
        assert_eq!(
            check(id, Some(secret), Basic).await.unwrap().id,
            basic.client.id
        );
        let public_id = public.client.id.as_str();
        assert!(
            check(public_id, None, ClientAuthMethod::None)
                .await
                .unwrap()
                .is_public()
        );
        for (id, secret, with) in [
            (id, Some("wrong"), Basic),
            (id, Some(secret), Post),
            (id, None, Basic),
            ("unknown-client", Some(secret), Basic),
            ("not a client id", Some(secret), Basic),
            (public_id, Some(secret), ClientAuthMethod::None),
        ] {
            assert!(
                matches!(
                    check(id, secret, with).await,
                    Err(Error::InvalidCredentials)
                ),
                "{id} {secret:?} {with:?}"
            );
        }
        // Wrong secrets for one client from one address, past the five free ones: then it waits
        // there, even with the right secret, while the client from another address still
        // authenticates (nothing counts per client over every address).
        for _ in 0..5 {
            let _ = check(id, Some("wrong"), Basic).await;
        }
        assert!(matches!(
            check(id, Some(secret), Basic).await,
            Err(Error::Throttled { .. })
        ));
        let elsewhere = auth
            .authenticate_client(
                id,
                Some(secret),
                Basic,
                Some("198.51.100.9".parse().unwrap()),
            )
            .await;
        assert!(elsewhere.is_ok(), "{elsewhere:?}");
    }

    #[tokio::test]
    async fn what_another_instance_changes_is_seen_within_the_client_cache_ttl() {
        let stores = Stores::memory();
        let clock = testing::clock();
        let config = testing::authenticator_config();
        let ttl = config.client_cache_ttl;
        assert!(!ttl.is_zero());
        let auth = testing::authenticator_builder(config)
            .stores(stores.clone())
            .clock(clock.clone())
            .build()
            .unwrap();
        let ops = Actor::operator("ops");
        let register = || async {
            let new = NewClient {
                name: "Service".into(),
                auth_method: ClientAuthMethod::ClientSecretBasic,
                redirect_uris: Vec::new(),
                grant_types: vec![GrantType::ClientCredentials],
                scopes: ScopeSet::parse("orders:read").unwrap(),
                first_party: false,
                audience: Some("https://orders.example.com".into()),
                id_token_alg: None,
                post_logout_redirect_uris: Vec::new(),
                require_par: false,
                jwks: None,
                jwks_uri: None,
            };
            let registered = auth.register_client(new, &ops).await.unwrap();
            let secret = registered.secret.unwrap().expose_secret().to_owned();
            (registered.client.id, secret)
        };
        let from = Some("192.0.2.7".parse().unwrap());
        let authenticate = |id: &ClientId, secret: &str| {
            let (auth, id, secret) = (auth.clone(), id.to_string(), secret.to_owned());
            async move {
                auth.authenticate_client(
                    &id,
                    Some(&secret),
                    ClientAuthMethod::ClientSecretBasic,
                    from,
                )
                .await
            }
        };

        // Deleted by another instance (straight from the store): refused once the client read
        // here has aged out, not before. Deleted through this one: refused at once.
        let (gone, gone_secret) = register().await;
        authenticate(&gone, &gone_secret).await.unwrap();
        assert!(stores.clients.delete_client(&gone).await.unwrap());
        authenticate(&gone, &gone_secret).await.unwrap();
        clock.advance(ttl);
        assert!(matches!(
            authenticate(&gone, &gone_secret).await,
            Err(Error::InvalidCredentials)
        ));
        let (deleted, deleted_secret) = register().await;
        authenticate(&deleted, &deleted_secret).await.unwrap();
        auth.delete_client(&deleted, &ops).await.unwrap();
        assert!(matches!(
            authenticate(&deleted, &deleted_secret).await,
            Err(Error::InvalidCredentials)
        ));

        // Failures counted by another instance ask for a wait here once what this one
        // remembers of letting the client through has aged out; failures counted here at once.
        let (busy, busy_secret) = register().await;
        authenticate(&busy, &busy_secret).await.unwrap();
        let elsewhere = crate::throttle::Throttle::new(stores.throttle.clone(), clock.clone());
        // Six failures (the five free ones and one more) ask for a second's wait; a seventh
        // once it has run, for two more, past the time this instance remembers.
        for _ in 0..6 {
            elsewhere.client_failed(busy.as_str(), from).await.unwrap();
        }
        authenticate(&busy, &busy_secret).await.unwrap();
        clock.advance(ttl * 3 / 4);
        elsewhere.client_failed(busy.as_str(), from).await.unwrap();
        authenticate(&busy, &busy_secret).await.unwrap();
        clock.advance(ttl / 4);
        assert!(matches!(
            authenticate(&busy, &busy_secret).await,
            Err(Error::Throttled { .. })
        ));
        let (other, other_secret) = register().await;
        let (neighbour, neighbour_secret) = register().await;
        authenticate(&other, &other_secret).await.unwrap();
        authenticate(&neighbour, &neighbour_secret).await.unwrap();
        for _ in 0..10 {
            let _ = authenticate(&other, "wrong").await;
        }
        assert!(matches!(
            authenticate(&other, &other_secret).await,
            Err(Error::Throttled { .. })
        ));
        // Failures under other ids from the address fill its own counter: every client let
        // through from there asks the throttle again at once, and is made to wait.
        authenticate(&neighbour, &neighbour_secret).await.unwrap();
        for i in 0..12 {
            let unknown = format!("unknown-{i}");
            let refused = auth
                .authenticate_client(
                    &unknown,
                    Some("x"),
                    ClientAuthMethod::ClientSecretBasic,
                    from,
                )
                .await;
            assert!(refused.is_err());
        }
        assert!(matches!(
            authenticate(&neighbour, &neighbour_secret).await,
            Err(Error::Throttled { .. })
        ));
    }
}
