//! Conformance of [`GrantStore`]: authorization codes and consent.

use std::sync::Arc;
use std::time::Duration;

use super::{new_user, random_hash, random_secret, t0};
use crate::authz::ScopeSet;
use crate::id::{Amr, SessionId};
use crate::oauth::{
    AuthorizationCode, ClientAuthMethod, CodeChallenge, Consent, GrantType, NewClient, Redemption,
};
use crate::store::{ClientStore, GrantStore, UserStore};

async fn client(clients: &dyn ClientStore) -> crate::oauth::Client {
    let client = NewClient {
        name: "Conformance app".into(),
        auth_method: ClientAuthMethod::None,
        redirect_uris: vec!["https://app.example.com/cb".into()],
        grant_types: vec![GrantType::AuthorizationCode],
        scopes: ScopeSet::parse("openid email").unwrap(),
        first_party: false,
        audience: None,
        id_token_alg: None,
        post_logout_redirect_uris: Vec::new(),
        require_par: false,
        jwks: None,
        jwks_uri: None,
    }
    .register(t0())
    .unwrap()
    .client;
    clients.create_client(client.clone()).await.unwrap();
    client
}

fn session() -> SessionId {
    SessionId::from_secret(&random_secret())
}

/// Codes: stored with every field, redeemed once (the second redemption names the first's
/// session, even after expiry), unknown once expired unused or never issued; of many
/// concurrent redemptions exactly one wins; a deleted client's codes and consent go with it.
pub async fn codes_are_redeemed_once_and_replays_name_the_first_session(
    users: Arc<dyn UserStore>,
    clients: Arc<dyn ClientStore>,
    grants: Arc<dyn GrantStore>,
) {
    let user = new_user(users.as_ref()).await;
    let client = client(clients.as_ref()).await;
    let code = |nonce: Option<&str>| AuthorizationCode {
        hash: random_hash(),
        client_id: client.id.clone(),
        user_id: user.id,
        redirect_uri: "https://app.example.com/cb".into(),
        scope: ScopeSet::parse("openid email").unwrap(),
        nonce: nonce.map(str::to_owned),
        code_challenge: Some(
            CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Some("S256"))
                .unwrap(),
        ),
        amr: Amr::PasswordAndTotp,
        auth_time: t0() - Duration::from_secs(30),
        epoch: 3,
        created_at: t0(),
        expires_at: t0() + Duration::from_secs(60),
    };
    let first = code(Some("n-1"));
    grants.save_code(first.clone()).await.unwrap();
    let (winner, loser) = (session(), session());
    assert_eq!(
        grants
            .redeem_code(&first.hash, &winner, t0())
            .await
            .unwrap(),
        Redemption::Redeemed(first.clone())
    );
    let replay = Redemption::Replayed {
        code: first.clone(),
        session: winner.clone(),
    };
    assert_eq!(
        grants.redeem_code(&first.hash, &loser, t0()).await.unwrap(),
        replay
    );
    let late = first.expires_at + Duration::from_secs(3600);
    assert_eq!(
        grants.redeem_code(&first.hash, &loser, late).await.unwrap(),
        replay
    );

    // Expired unused, and never issued.
    let expired = code(None);
    grants.save_code(expired.clone()).await.unwrap();
    assert_eq!(
        grants
            .redeem_code(&expired.hash, &winner, expired.expires_at)
            .await
            .unwrap(),
        Redemption::Unknown
    );
    assert_eq!(
        grants
            .redeem_code(&random_hash(), &winner, t0())
            .await
            .unwrap(),
        Redemption::Unknown
    );

    // Ten at once: one redemption, nine replays naming it.
    let contested = code(None);
    grants.save_code(contested.clone()).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let grants = grants.clone();
        let hash = contested.hash;
        tasks.push(tokio::spawn(async move {
            let mine = session();
            let outcome = grants.redeem_code(&hash, &mine, t0()).await.unwrap();
            (mine, outcome)
        }));
    }
    let mut redeemed_by = Vec::new();
    let mut named = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (mine, Redemption::Redeemed(_)) => redeemed_by.push(mine),
            (_, Redemption::Replayed { session, .. }) => named.push(session),
            (_, Redemption::Unknown) => panic!("a live code was unknown"),
        }
    }
    assert_eq!(redeemed_by.len(), 1, "exactly one redemption wins");
    assert!(named.iter().all(|session| *session == redeemed_by[0]));

    // Deleting the client takes its codes and consent.
    let pending = code(None);
    grants.save_code(pending.clone()).await.unwrap();
    grants
        .put_consent(Consent {
            user_id: user.id,
            client_id: client.id.clone(),
            scope: ScopeSet::parse("openid").unwrap(),
            granted_at: t0(),
        })
        .await
        .unwrap();
    assert!(clients.delete_client(&client.id).await.unwrap());
    assert_eq!(
        grants
            .redeem_code(&pending.hash, &winner, t0())
            .await
            .unwrap(),
        Redemption::Unknown
    );
    assert_eq!(grants.consent(&user.id, &client.id).await.unwrap(), None);
}

/// Consent: joined scope by scope, kept per user and client, listed oldest first, withdrawn
/// once.
pub async fn consent_joins_scopes_per_user_and_client_and_is_withdrawn(
    users: Arc<dyn UserStore>,
    clients: Arc<dyn ClientStore>,
    grants: Arc<dyn GrantStore>,
) {
    let user = new_user(users.as_ref()).await;
    let other_user = new_user(users.as_ref()).await;
    let first = client(clients.as_ref()).await;
    let second = client(clients.as_ref()).await;
    let consent =
        |user: &crate::store::User, client: &crate::oauth::Client, scope: &str, at| Consent {
            user_id: user.id,
            client_id: client.id.clone(),
            scope: ScopeSet::parse(scope).unwrap(),
            granted_at: at,
        };
    assert_eq!(grants.consent(&user.id, &first.id).await.unwrap(), None);
    grants
        .put_consent(consent(&user, &first, "openid", t0()))
        .await
        .unwrap();
    let later = t0() + Duration::from_secs(10);
    grants
        .put_consent(consent(&user, &first, "email openid", later))
        .await
        .unwrap();
    grants
        .put_consent(consent(
            &user,
            &second,
            "openid",
            t0() + Duration::from_secs(5),
        ))
        .await
        .unwrap();
    grants
        .put_consent(consent(&other_user, &first, "email", t0()))
        .await
        .unwrap();
    let kept = grants.consent(&user.id, &first.id).await.unwrap().unwrap();
    assert_eq!(kept, consent(&user, &first, "email openid", later));
    // A narrower consent later widens nothing and narrows nothing.
    grants
        .put_consent(consent(&user, &first, "openid", later))
        .await
        .unwrap();
    assert_eq!(
        grants
            .consent(&user.id, &first.id)
            .await
            .unwrap()
            .unwrap()
            .scope,
        ScopeSet::parse("email openid").unwrap()
    );
    let listed: Vec<_> = grants
        .consents_of(&user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|consent| consent.client_id)
        .collect();
    assert_eq!(listed, [second.id.clone(), first.id.clone()]);
    // Withdrawing voids the user's unredeemed codes of that client, and only those.
    let code = |user: &crate::store::User| AuthorizationCode {
        hash: random_hash(),
        client_id: first.id.clone(),
        user_id: user.id,
        redirect_uri: "https://app.example.com/cb".into(),
        scope: ScopeSet::parse("openid").unwrap(),
        nonce: None,
        code_challenge: None,
        amr: Amr::Password,
        auth_time: t0(),
        epoch: 0,
        created_at: t0(),
        expires_at: t0() + Duration::from_secs(60),
    };
    let (pending, redeemed, others) = (code(&user), code(&user), code(&other_user));
    for code in [&pending, &redeemed, &others] {
        grants.save_code(code.clone()).await.unwrap();
    }
    let spender = session();
    grants
        .redeem_code(&redeemed.hash, &spender, t0())
        .await
        .unwrap();
    assert!(grants.revoke_consent(&user.id, &first.id).await.unwrap());
    assert!(!grants.revoke_consent(&user.id, &first.id).await.unwrap());
    assert_eq!(grants.consent(&user.id, &first.id).await.unwrap(), None);
    assert_eq!(
        grants
            .redeem_code(&pending.hash, &session(), t0())
            .await
            .unwrap(),
        Redemption::Unknown
    );
    assert!(matches!(
        grants.redeem_code(&redeemed.hash, &session(), t0()).await.unwrap(),
        Redemption::Replayed { session, .. } if session == spender
    ));
    assert!(matches!(
        grants
            .redeem_code(&others.hash, &session(), t0())
            .await
            .unwrap(),
        Redemption::Redeemed(_)
    ));
    assert!(
        grants
            .consent(&other_user.id, &first.id)
            .await
            .unwrap()
            .is_some(),
        "another user's consent stays"
    );
}

/// Pushed requests: read back with their parameters while usable, neither read nor taken once
/// expired, taken once (of many concurrent takes exactly one wins), gone with their client.
pub async fn pushed_requests_are_read_until_taken_once(
    clients: Arc<dyn ClientStore>,
    grants: Arc<dyn GrantStore>,
) {
    let client = client(clients.as_ref()).await;
    let pushed = |expires_at| crate::oauth::PushedRequest {
        hash: random_hash(),
        client_id: client.id.clone(),
        params: [
            ("client_id", client.id.as_str()),
            ("redirect_uri", "https://app.example.com/cb"),
            ("scope", "openid email"),
            ("state", "ünïcode & \"quotes\""),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect(),
        expires_at,
    };
    let live = pushed(t0() + Duration::from_secs(600));
    grants.push_request(live.clone()).await.unwrap();
    let read = grants.pushed_request(&live.hash, t0()).await.unwrap();
    assert_eq!(read.as_ref(), Some(&live));
    assert_eq!(
        grants.pushed_request(&live.hash, t0()).await.unwrap(),
        read,
        "reading does not use it"
    );
    assert_eq!(
        grants
            .pushed_request(&live.hash, live.expires_at)
            .await
            .unwrap(),
        None,
        "expired at its expiry"
    );
    assert!(
        !grants
            .take_pushed_request(&live.hash, live.expires_at)
            .await
            .unwrap()
    );
    let takes = (0..8).map(|_| {
        let grants = grants.clone();
        let hash = live.hash;
        tokio::spawn(async move { grants.take_pushed_request(&hash, t0()).await.unwrap() })
    });
    let mut won = 0;
    for take in takes {
        won += usize::from(take.await.unwrap());
    }
    assert_eq!(won, 1, "taken exactly once");
    assert_eq!(grants.pushed_request(&live.hash, t0()).await.unwrap(), None);
    assert!(
        !grants
            .take_pushed_request(&random_hash(), t0())
            .await
            .unwrap()
    );

    let orphan = pushed(t0() + Duration::from_secs(600));
    grants.push_request(orphan.clone()).await.unwrap();
    assert!(clients.delete_client(&client.id).await.unwrap());
    assert_eq!(
        grants.pushed_request(&orphan.hash, t0()).await.unwrap(),
        None
    );
}
