//! Conformance of [`RoleStore`]: roles, their holders, and the epoch of whoever loses a scope.

use std::sync::Arc;

use super::{new_user, t0};
use crate::authz::{Role, RoleName, ScopeSet};
use crate::error::Error;
use crate::id::UserId;
use crate::store::{RoleStore, UserStore};

/// A role with a name no other check uses, granting `scopes` (space-separated).
fn role(tag: &str, scopes: &str) -> Role {
    let name = format!("{tag}-{}", uuid::Uuid::new_v4().simple());
    Role::new(
        RoleName::parse(&name).unwrap(),
        ScopeSet::parse(scopes).unwrap(),
        "",
    )
    .unwrap()
}

fn scopes(scopes: &str) -> ScopeSet {
    ScopeSet::parse(scopes).unwrap()
}

async fn epoch(users: &dyn UserStore, user: &UserId) -> u64 {
    users.user_by_id(user).await.unwrap().unwrap().epoch
}

/// Roles: created, read back with their scopes and description, listed by name, changed
/// (what was added and removed said), unchanged when put again as they are, and deleted once.
pub async fn roles_are_defined_listed_and_deleted(roles: Arc<dyn RoleStore>) {
    let mut reader = role("reader", "orders:read profile");
    let created = roles.put_role(&reader).await.unwrap();
    assert!(created.created && created.changed());
    assert_eq!(created.added, scopes("orders:read profile"));
    assert!(created.removed.is_empty() && created.demoted.is_empty());
    assert_eq!(created.holders, 0);
    assert_eq!(
        roles.role(&reader.name).await.unwrap().as_ref(),
        Some(&reader)
    );

    let again = roles.put_role(&reader).await.unwrap();
    assert!(
        !again.changed(),
        "putting a role as it is changes nothing: {again:?}"
    );

    reader.description = "Reads orders".into();
    reader.scopes = scopes("orders:read orders:list");
    let changed = roles.put_role(&reader).await.unwrap();
    assert!(!changed.created && changed.description_changed);
    assert_eq!(changed.added, scopes("orders:list"));
    assert_eq!(changed.removed, scopes("profile"));
    assert_eq!(
        roles.role(&reader.name).await.unwrap().as_ref(),
        Some(&reader)
    );

    let other = role("other", "");
    roles.put_role(&other).await.unwrap();
    let listed = roles.roles().await.unwrap();
    let names: Vec<&RoleName> = listed.iter().map(|role| &role.name).collect();
    assert!(
        names.windows(2).all(|pair| pair[0] < pair[1]),
        "roles by name: {names:?}"
    );
    assert!(listed.contains(&reader) && listed.contains(&other));

    let deleted = roles.delete_role(&reader.name).await.unwrap().unwrap();
    assert_eq!(deleted.removed, reader.scopes);
    assert_eq!(roles.role(&reader.name).await.unwrap(), None);
    assert_eq!(roles.delete_role(&reader.name).await.unwrap(), None);
    assert!(!roles.roles().await.unwrap().contains(&reader));
    roles.delete_role(&other.name).await.unwrap();
}

/// Holdings: a user holds the union of their roles' scopes; a grant is once, of a role and an
/// account that exist; whoever loses a scope (a role revoked, a scope taken from a role, a
/// role deleted) held through no other role has their epoch moved on, and no one else does.
pub async fn role_holders_get_scopes_and_lose_them_with_their_epoch(
    users: Arc<dyn UserStore>,
    roles: Arc<dyn RoleStore>,
) {
    let (ada, bob) = (
        new_user(users.as_ref()).await,
        new_user(users.as_ref()).await,
    );
    let mut orders = role("orders", "orders:read orders:write");
    let profile = role("profile", "orders:write profile");
    roles.put_role(&orders).await.unwrap();
    roles.put_role(&profile).await.unwrap();
    assert!(roles.scopes_of(&ada.id).await.unwrap().is_empty());

    assert!(roles.grant_role(&ada.id, &orders.name, t0()).await.unwrap());
    assert!(
        !roles.grant_role(&ada.id, &orders.name, t0()).await.unwrap(),
        "granted twice"
    );
    assert!(
        roles
            .grant_role(&ada.id, &profile.name, t0())
            .await
            .unwrap()
    );
    assert!(roles.grant_role(&bob.id, &orders.name, t0()).await.unwrap());
    assert_eq!(
        roles.scopes_of(&ada.id).await.unwrap(),
        scopes("orders:read orders:write profile")
    );
    let held: Vec<RoleName> = roles
        .roles_of(&ada.id)
        .await
        .unwrap()
        .into_iter()
        .map(|role| role.name)
        .collect();
    let mut expected = vec![orders.name.clone(), profile.name.clone()];
    expected.sort();
    assert_eq!(held, expected);
    assert_eq!(
        epoch(users.as_ref(), &ada.id).await,
        0,
        "grants leave the epoch"
    );

    let unknown = RoleName::parse("no-such-role-anywhere").unwrap();
    assert!(matches!(
        roles.grant_role(&ada.id, &unknown, t0()).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        roles.grant_role(&UserId::new(), &orders.name, t0()).await,
        Err(Error::NotFound(_))
    ));

    // A scope taken from a role: Bob loses orders:write, Ada keeps it through `profile`; both
    // lose nothing else. Only Bob's epoch moves.
    orders.scopes = scopes("orders:read");
    let change = roles.put_role(&orders).await.unwrap();
    assert_eq!(change.removed, scopes("orders:write"));
    assert_eq!(change.demoted, vec![bob.id]);
    assert_eq!(change.holders, 2);
    assert_eq!(epoch(users.as_ref(), &bob.id).await, 1);
    assert_eq!(epoch(users.as_ref(), &ada.id).await, 0);
    assert_eq!(
        roles.scopes_of(&bob.id).await.unwrap(),
        scopes("orders:read")
    );

    // A scope added: no one's epoch moves.
    orders.scopes = scopes("orders:read orders:list");
    assert!(roles.put_role(&orders).await.unwrap().demoted.is_empty());
    assert_eq!(epoch(users.as_ref(), &bob.id).await, 1);

    // A role revoked: what it alone granted is lost, and the epoch moves with it.
    let lost = roles.revoke_role(&ada.id, &orders.name).await.unwrap();
    assert_eq!(lost, Some(scopes("orders:list orders:read")));
    assert_eq!(epoch(users.as_ref(), &ada.id).await, 1);
    assert_eq!(
        roles.revoke_role(&ada.id, &orders.name).await.unwrap(),
        None
    );
    assert_eq!(
        roles.scopes_of(&ada.id).await.unwrap(),
        scopes("orders:write profile")
    );
    // Revoking a role whose scopes another role also grants loses nothing: the epoch stays.
    let twin = role("twin", "profile");
    roles.put_role(&twin).await.unwrap();
    roles.grant_role(&ada.id, &twin.name, t0()).await.unwrap();
    assert_eq!(
        roles.revoke_role(&ada.id, &twin.name).await.unwrap(),
        Some(ScopeSet::new())
    );
    assert_eq!(epoch(users.as_ref(), &ada.id).await, 1);

    // A role deleted: its holders lose what it alone granted.
    let deleted = roles.delete_role(&profile.name).await.unwrap().unwrap();
    assert_eq!(deleted.holders, 1);
    assert_eq!(deleted.demoted, vec![ada.id]);
    assert_eq!(epoch(users.as_ref(), &ada.id).await, 2);
    assert!(roles.scopes_of(&ada.id).await.unwrap().is_empty());
    assert!(roles.roles_of(&ada.id).await.unwrap().is_empty());
    for name in [&orders.name, &twin.name] {
        roles.delete_role(name).await.unwrap();
    }
}

/// Two removals racing, each taking from a user one of two roles' copies of a scope: whichever
/// lands second leaves the user without it, and the user's epoch has moved, every time.
pub async fn racing_removals_never_both_miss_a_lost_scope(
    users: Arc<dyn UserStore>,
    roles: Arc<dyn RoleStore>,
) {
    for _ in 0..20 {
        let user = new_user(users.as_ref()).await;
        let (mut first, mut second) = (role("first", "shared"), role("second", "shared"));
        for role in [&first, &second] {
            roles.put_role(role).await.unwrap();
            roles.grant_role(&user.id, &role.name, t0()).await.unwrap();
        }
        first.scopes = ScopeSet::new();
        second.scopes = ScopeSet::new();
        let (a, b) = (roles.clone(), roles.clone());
        let (one, two) = tokio::join!(
            tokio::spawn(async move { a.put_role(&first).await.map(|_| first) }),
            tokio::spawn(async move { b.put_role(&second).await.map(|_| second) }),
        );
        let (first, second) = (one.unwrap().unwrap(), two.unwrap().unwrap());
        assert!(roles.scopes_of(&user.id).await.unwrap().is_empty());
        assert_eq!(
            epoch(users.as_ref(), &user.id).await,
            1,
            "the user lost `shared` once, and their epoch moved once"
        );
        for role in [&first, &second] {
            roles.delete_role(&role.name).await.unwrap();
        }
    }
}
