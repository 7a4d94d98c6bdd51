//! Roles and scopes in tokens: what a login and a refresh carry, what a grant and a removal
//! do to sessions, and the audit trail of each change.

// Helpers panic on failure, like the tests that call them.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use super::*;
use crate::authz::{Role, RoleName, ScopeSet};
use crate::event::{Actor, MemoryEventSink, SessionEnd};
use crate::store::{Session, SessionStore, User};
use crate::testing;

const PASSWORD: &str = "correct horse battery staple";

struct World {
    auth: Authenticator,
    events: MemoryEventSink,
    sessions: Arc<super::epoch_tests::PausingSessions>,
}

fn world() -> World {
    let events = MemoryEventSink::new();
    let mut stores = Stores::memory_with_events(Arc::new(events.clone()));
    let sessions = Arc::new(super::epoch_tests::PausingSessions::new(
        stores.sessions.clone(),
    ));
    stores.sessions = sessions.clone();
    let auth = testing::authenticator_builder(testing::authenticator_config())
        .stores(stores)
        .clock(testing::clock())
        .build()
        .unwrap();
    World {
        auth,
        events,
        sessions,
    }
}

fn operator() -> Actor {
    Actor::operator("ops")
}

fn name(name: &str) -> RoleName {
    RoleName::parse(name).unwrap()
}

fn scopes(scopes: &str) -> ScopeSet {
    ScopeSet::parse(scopes).unwrap()
}

impl World {
    async fn define(&self, role: &str, granted: &str) {
        let role = Role::new(name(role), scopes(granted), "").unwrap();
        self.auth.define_role(&role, &operator()).await.unwrap();
    }

    async fn account(&self, email: &str, roles: &[&str]) -> User {
        let user = self
            .auth
            .register(email, &SecretString::from(PASSWORD))
            .await
            .unwrap();
        for role in roles {
            self.auth
                .grant_role(&user.id, &name(role), &operator())
                .await
                .unwrap();
        }
        user
    }

    async fn login(&self, email: &str) -> Result<Tokens> {
        match self
            .auth
            .login(email, &SecretString::from(PASSWORD), None)
            .await?
        {
            LoginOutcome::Authenticated(tokens) => Ok(tokens),
            LoginOutcome::MfaRequired { .. } => panic!("unexpected second factor"),
        }
    }

    /// The `scope` claim of a verified access token.
    async fn claim(&self, tokens: &Tokens) -> String {
        self.auth
            .authenticate(tokens.access_token.expose_secret())
            .await
            .unwrap()
            .claims
            .scope
    }

    async fn refresh(&self, tokens: &Tokens) -> Result<Tokens> {
        self.auth
            .refresh(tokens.refresh_token.expose_secret(), None)
            .await
    }

    /// Whether the access token of `tokens` is refused as revoked.
    async fn revoked(&self, tokens: &Tokens) -> bool {
        matches!(
            self.auth
                .authenticate(tokens.access_token.expose_secret())
                .await,
            Err(Error::InvalidToken(TokenRejection::Revoked))
        )
    }
}

#[tokio::test]
async fn tokens_carry_the_scopes_of_the_roles_held() {
    let w = world();
    w.define("reader", "orders:read profile").await;
    w.define("writer", "orders:write profile").await;
    w.account("both@example.com", &["reader", "writer"]).await;
    w.account("none@example.com", &[]).await;

    let tokens = w.login("both@example.com").await.unwrap();
    assert_eq!(tokens.scope, scopes("orders:read orders:write profile"));
    assert_eq!(w.claim(&tokens).await, "orders:read orders:write profile");
    let principal = w
        .auth
        .authenticate(tokens.access_token.expose_secret())
        .await
        .unwrap();
    assert!(principal.claims.has_scope("orders:write"));
    assert!(!principal.claims.has_scope("orders"));
    let refreshed = w.refresh(&tokens).await.unwrap();
    assert_eq!(
        w.claim(&refreshed).await,
        "orders:read orders:write profile"
    );

    let bare = w.login("none@example.com").await.unwrap();
    assert!(bare.scope.is_empty());
    assert_eq!(w.claim(&bare).await, "", "no roles, no scope");
}

#[tokio::test]
async fn a_grant_shows_at_the_next_refresh_and_ends_nothing() {
    let w = world();
    w.define("reader", "orders:read").await;
    w.define("admin", "admin:users").await;
    let user = w.account("grow@example.com", &["reader"]).await;
    let tokens = w.login("grow@example.com").await.unwrap();

    assert!(
        w.auth
            .grant_role(&user.id, &name("admin"), &operator())
            .await
            .unwrap()
    );
    assert!(
        !w.auth
            .grant_role(&user.id, &name("admin"), &operator())
            .await
            .unwrap(),
        "held already"
    );
    assert_eq!(w.claim(&tokens).await, "orders:read", "the token as issued");
    let refreshed = w.refresh(&tokens).await.unwrap();
    assert_eq!(refreshed.session_id, tokens.session_id, "the same session");
    assert_eq!(w.claim(&refreshed).await, "admin:users orders:read");

    // A role added to: its holders gain at their next refresh, no one is signed out.
    w.define("reader", "orders:read orders:list").await;
    let again = w.refresh(&refreshed).await.unwrap();
    assert_eq!(w.claim(&again).await, "admin:users orders:list orders:read");
}

#[tokio::test]
async fn revoking_a_role_ends_the_sessions_that_carried_it_at_once() {
    let w = world();
    w.define("admin", "admin:users profile").await;
    w.define("member", "profile").await;
    let user = w.account("demoted@example.com", &["admin", "member"]).await;
    w.account("bystander@example.com", &["admin"]).await;
    let (first, second) = (
        w.login("demoted@example.com").await.unwrap(),
        w.login("demoted@example.com").await.unwrap(),
    );
    let bystander = w.login("bystander@example.com").await.unwrap();

    let lost = w
        .auth
        .revoke_role(&user.id, &name("admin"), &operator())
        .await
        .unwrap();
    assert_eq!(
        lost,
        scopes("admin:users"),
        "profile is still held through member"
    );
    for tokens in [&first, &second] {
        assert!(w.revoked(tokens).await, "the access token is refused now");
        assert!(
            matches!(
                w.refresh(tokens).await,
                Err(Error::InvalidToken(TokenRejection::NotActive))
            ),
            "and the session is over"
        );
    }
    assert_eq!(w.claim(&bystander).await, "admin:users profile");
    w.refresh(&bystander).await.unwrap();
    let back = w.login("demoted@example.com").await.unwrap();
    assert_eq!(w.claim(&back).await, "profile");
    assert!(matches!(
        w.auth
            .revoke_role(&user.id, &name("admin"), &operator())
            .await,
        Err(Error::NotFound(_))
    ));

    // A role whose scopes are held otherwise: revoking it takes nothing, and ends nothing.
    w.define("twin", "profile").await;
    w.auth
        .grant_role(&user.id, &name("twin"), &operator())
        .await
        .unwrap();
    let lost = w
        .auth
        .revoke_role(&user.id, &name("twin"), &operator())
        .await
        .unwrap();
    assert!(lost.is_empty());
    assert!(!w.revoked(&back).await);
    w.refresh(&back).await.unwrap();
}

#[tokio::test]
async fn a_scope_taken_from_a_role_or_a_role_deleted_signs_out_whoever_lost_one() {
    let w = world();
    w.define("orders", "orders:read orders:write").await;
    w.define("writer", "orders:write").await;
    w.account("only@example.com", &["orders"]).await;
    w.account("also@example.com", &["orders", "writer"]).await;
    let only = w.login("only@example.com").await.unwrap();
    let also = w.login("also@example.com").await.unwrap();

    w.define("orders", "orders:read").await;
    assert!(w.revoked(&only).await, "lost orders:write");
    assert!(!w.revoked(&also).await, "keeps orders:write through writer");
    let also = w.refresh(&also).await.unwrap();
    assert_eq!(w.claim(&also).await, "orders:read orders:write");

    let only = w.login("only@example.com").await.unwrap();
    let change = w
        .auth
        .delete_role(&name("orders"), &operator())
        .await
        .unwrap();
    assert_eq!(change.holders, 2);
    assert_eq!(change.demoted.len(), 2, "both lost orders:read");
    assert!(w.revoked(&only).await && w.revoked(&also).await);
    let removed = w
        .events
        .names()
        .into_iter()
        .filter(|name| *name == "access_removed")
        .count();
    assert_eq!(removed, 3, "one per account that lost a scope, per change");
    assert_eq!(
        w.claim(&w.login("also@example.com").await.unwrap()).await,
        "orders:write"
    );
    assert!(matches!(
        w.auth.delete_role(&name("orders"), &operator()).await,
        Err(Error::NotFound(_))
    ));
}

#[tokio::test]
async fn a_refresh_may_ask_for_a_subset_and_never_for_more() {
    let w = world();
    w.define("staff", "orders:read orders:write profile").await;
    w.account("narrow@example.com", &["staff"]).await;
    let tokens = w.login("narrow@example.com").await.unwrap();

    let narrow = w
        .auth
        .refresh_scoped(
            tokens.refresh_token.expose_secret(),
            Some(&scopes("orders:read")),
            None,
        )
        .await
        .unwrap();
    assert_eq!(narrow.scope, scopes("orders:read"));
    assert_eq!(w.claim(&narrow).await, "orders:read");

    // More than the grant: refused, and the refresh token is left unspent.
    let refused = w
        .auth
        .refresh_scoped(
            narrow.refresh_token.expose_secret(),
            Some(&scopes("orders:read billing")),
            None,
        )
        .await;
    match refused {
        Err(Error::InvalidScope(message)) => assert!(message.contains("billing"), "{message}"),
        other => panic!("expected invalid_scope, got {other:?}"),
    }
    // The refresh token keeps the whole grant.
    let full = w.refresh(&narrow).await.unwrap();
    assert_eq!(w.claim(&full).await, "orders:read orders:write profile");
    let none = w
        .auth
        .refresh_scoped(
            full.refresh_token.expose_secret(),
            Some(&ScopeSet::new()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(w.claim(&none).await, "");
}

/// The pause between reading a login's scopes and its epoch check: a removal landing there
/// moves the epoch, so the login ends instead of carrying the removed scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_racing_a_removal_does_not_keep_the_removed_scope() {
    let w = world();
    w.define("admin", "admin:users").await;
    let user = w.account("racing@example.com", &["admin"]).await;
    w.sessions.arm();
    let login = tokio::spawn({
        let auth = w.auth.clone();
        async move {
            auth.login("racing@example.com", &SecretString::from(PASSWORD), None)
                .await
        }
    });
    w.sessions.reached.notified().await;
    w.auth
        .revoke_role(&user.id, &name("admin"), &operator())
        .await
        .unwrap();
    w.sessions.release.notify_one();
    assert!(matches!(
        login.await.unwrap(),
        Err(Error::InvalidCredentials)
    ));
    let created = w.sessions.created();
    let session: Option<Session> = w
        .sessions
        .session(&created[0], testing::now())
        .await
        .unwrap();
    assert!(session.is_none(), "the login's session was ended");
    assert_eq!(
        w.claim(&w.login("racing@example.com").await.unwrap()).await,
        ""
    );
}

#[tokio::test]
async fn every_grant_and_removal_is_recorded_with_its_actor() {
    let w = world();
    let ops = Actor::operator("alice\n");
    let role = Role::new(name("support"), scopes("tickets:read"), "Support desk").unwrap();
    w.auth.define_role(&role, &ops).await.unwrap();
    w.auth.define_role(&role, &ops).await.unwrap();
    let user = w.account("audited@example.com", &[]).await;
    w.auth
        .grant_role(&user.id, &role.name, &Actor::Configuration)
        .await
        .unwrap();
    w.login("audited@example.com").await.unwrap();
    w.auth
        .revoke_role(&user.id, &role.name, &Actor::User(user.id))
        .await
        .unwrap();
    w.auth.delete_role(&role.name, &ops).await.unwrap();

    let events = w.events.events();
    let of = |name: &str| -> Vec<&AuthEvent> {
        events.iter().filter(|event| event.name() == name).collect()
    };
    let defined = of("role_defined");
    assert_eq!(defined.len(), 1, "putting a role as it is records nothing");
    assert_eq!(
        defined[0].kind,
        AuthEventKind::RoleDefined {
            role: "support".into(),
            created: true,
            added: vec!["tickets:read".into()],
            removed: vec![],
            actor: Actor::Operator("alice".into()),
        }
    );
    assert_eq!(
        of("role_granted")[0].kind,
        AuthEventKind::RoleGranted {
            role: "support".into(),
            actor: Actor::Configuration,
        }
    );
    let revoked = of("role_revoked");
    assert_eq!(revoked[0].user_id, Some(user.id));
    assert_eq!(
        revoked[0].kind,
        AuthEventKind::RoleRevoked {
            role: "support".into(),
            lost: vec!["tickets:read".into()],
            actor: Actor::User(user.id),
        }
    );
    assert!(
        of("access_removed").is_empty(),
        "a revocation is its own event"
    );
    assert!(of("session_ended").iter().any(|event| event.kind
        == AuthEventKind::SessionEnded {
            reason: SessionEnd::AccessRemoved
        }));
    assert_eq!(
        of("role_deleted")[0].kind,
        AuthEventKind::RoleDeleted {
            role: "support".into(),
            holders: 0,
            actor: Actor::Operator("alice".into()),
        }
    );
    assert_eq!(
        Actor::Operator("alice".into()).to_string(),
        "operator:alice"
    );
    assert_eq!(
        Actor::User(user.id).to_string(),
        format!("user:{}", user.id)
    );
}

#[tokio::test]
async fn an_operator_signs_an_account_out_everywhere() {
    let w = world();
    let user = w.account("lost-phone@example.com", &[]).await;
    let (first, second) = (
        w.login("lost-phone@example.com").await.unwrap(),
        w.login("lost-phone@example.com").await.unwrap(),
    );
    w.auth.sign_out_everywhere(&user.id).await.unwrap();
    for tokens in [&first, &second] {
        assert!(w.revoked(tokens).await);
        assert!(w.refresh(tokens).await.is_err());
    }
    w.login("lost-phone@example.com").await.unwrap();
    assert!(matches!(
        w.auth.sign_out_everywhere(&UserId::new()).await,
        Err(Error::NotFound(_))
    ));
}
