//! [`RoleStore`]: tables `auth_roles`, `auth_role_scopes` (what each grants) and
//! `auth_user_roles` (who holds what).
//!
//! Every change runs in one transaction under an advisory lock of the schema's roles, so
//! changes are serialised: each sees what the ones before it did, no two removals can each
//! count on a scope the other removes, and no grant lands unseen while a removal counts who
//! loses a scope.

use std::time::SystemTime;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use deadpool_postgres::tokio_postgres::Row;
use uuid::Uuid;

use super::{PostgresStore, corrupt, db_error, execute, get, pg_time, query, query_one, query_opt};
use crate::authz::{Role, RoleName, Scope, ScopeSet};
use crate::error::{Error, Result};
use crate::id::UserId;
use crate::store::{RoleChange, RoleStore};

/// Serialises the changes to roles and holdings, per schema: a grant landing while a removal
/// counts the role's holders would be missed by it, its holder keeping the removed scope.
const LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext('auth_roles'), \
                    hashtext(coalesce(current_schema(), '')))";

/// A role's columns with its scopes as an ordered array.
const ROLE_COLUMNS: &str = "r.name, r.description, \
    ARRAY(SELECT s.scope FROM auth_role_scopes s WHERE s.role = r.name ORDER BY s.scope) AS scopes";

fn role_of(row: &Row) -> Result<Role> {
    let name = RoleName::parse(get::<&str>(row, "name")?).map_err(|_| corrupt("role name"))?;
    let scopes = get::<Vec<String>>(row, "scopes")?
        .iter()
        .map(|scope| Scope::parse(scope).map_err(|_| corrupt("scope")))
        .collect::<Result<ScopeSet>>()?;
    Ok(Role {
        name,
        scopes,
        description: get(row, "description")?,
    })
}

async fn scopes_of_role(client: &impl GenericClient, role: &RoleName) -> Result<Option<ScopeSet>> {
    let Some(row) = query_opt(
        client,
        &format!("SELECT {ROLE_COLUMNS} FROM auth_roles r WHERE r.name = $1"),
        &[&role.as_str()],
    )
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(role_of(&row)?.scopes))
}

/// The holders of `role` for whom no other role of theirs grants every scope of `removed`,
/// their epoch moved on.
async fn demote(
    client: &impl GenericClient,
    role: &RoleName,
    removed: &ScopeSet,
) -> Result<Vec<UserId>> {
    if removed.is_empty() {
        return Ok(Vec::new());
    }
    let rows = query(
        client,
        "UPDATE auth_users SET epoch = epoch + 1 WHERE id IN ( \
           SELECT h.user_id FROM auth_user_roles h WHERE h.role = $1 AND EXISTS ( \
             SELECT 1 FROM unnest($2::text[]) AS lost(scope) WHERE NOT EXISTS ( \
               SELECT 1 FROM auth_user_roles o \
               JOIN auth_role_scopes s ON s.role = o.role \
               WHERE o.user_id = h.user_id AND o.role <> $1 AND s.scope = lost.scope))) \
         RETURNING id",
        &[&role.as_str(), &removed.to_strings()],
    )
    .await?;
    let mut demoted = rows
        .iter()
        .map(|row| get::<Uuid>(row, "id").map(UserId::from))
        .collect::<Result<Vec<_>>>()?;
    demoted.sort();
    Ok(demoted)
}

async fn holders(client: &impl GenericClient, role: &RoleName) -> Result<u64> {
    let row = query_one(
        client,
        "SELECT count(*) AS holders FROM auth_user_roles WHERE role = $1",
        &[&role.as_str()],
    )
    .await?;
    super::to_u64(get(&row, "holders")?, "holder count")
}

#[async_trait]
impl RoleStore for PostgresStore {
    async fn put_role(&self, role: &Role) -> Result<RoleChange> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        execute(&tx, LOCK, &[]).await?;
        let before = query_opt(
            &tx,
            &format!("SELECT {ROLE_COLUMNS} FROM auth_roles r WHERE r.name = $1"),
            &[&role.name.as_str()],
        )
        .await?
        .map(|row| role_of(&row))
        .transpose()?;
        let (created, description_changed, old) = match before {
            Some(old) => (false, old.description != role.description, old.scopes),
            None => (true, false, ScopeSet::new()),
        };
        let added = role.scopes.difference(&old);
        let removed = old.difference(&role.scopes);
        let demoted = demote(&tx, &role.name, &removed).await?;
        execute(
            &tx,
            "INSERT INTO auth_roles (name, description) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description",
            &[&role.name.as_str(), &role.description],
        )
        .await?;
        execute(
            &tx,
            "DELETE FROM auth_role_scopes WHERE role = $1 AND scope = ANY($2::text[])",
            &[&role.name.as_str(), &removed.to_strings()],
        )
        .await?;
        execute(
            &tx,
            "INSERT INTO auth_role_scopes (role, scope) SELECT $1, unnest($2::text[])",
            &[&role.name.as_str(), &added.to_strings()],
        )
        .await?;
        let holders = holders(&tx, &role.name).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(RoleChange {
            created,
            description_changed,
            added,
            removed,
            holders,
            demoted,
        })
    }

    async fn delete_role(&self, name: &RoleName) -> Result<Option<RoleChange>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        execute(&tx, LOCK, &[]).await?;
        let Some(removed) = scopes_of_role(&tx, name).await? else {
            return Ok(None);
        };
        let holders = holders(&tx, name).await?;
        let demoted = demote(&tx, name, &removed).await?;
        execute(
            &tx,
            "DELETE FROM auth_roles WHERE name = $1",
            &[&name.as_str()],
        )
        .await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Some(RoleChange {
            created: false,
            description_changed: false,
            added: ScopeSet::new(),
            removed,
            holders,
            demoted,
        }))
    }

    async fn role(&self, name: &RoleName) -> Result<Option<Role>> {
        let client = self.client().await?;
        query_opt(
            &client,
            &format!("SELECT {ROLE_COLUMNS} FROM auth_roles r WHERE r.name = $1"),
            &[&name.as_str()],
        )
        .await?
        .map(|row| role_of(&row))
        .transpose()
    }

    async fn roles(&self) -> Result<Vec<Role>> {
        let client = self.client().await?;
        query(
            &client,
            &format!("SELECT {ROLE_COLUMNS} FROM auth_roles r ORDER BY r.name"),
            &[],
        )
        .await?
        .iter()
        .map(role_of)
        .collect()
    }

    async fn grant_role(&self, user: &UserId, role: &RoleName, now: SystemTime) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        execute(&tx, LOCK, &[]).await?;
        let granted = execute(
            &tx,
            "INSERT INTO auth_user_roles (user_id, role, granted_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, role) DO NOTHING",
            &[&user.as_uuid(), &role.as_str(), &pg_time(now)],
        )
        .await
        .map_err(|error| match error {
            Error::NotFound(_) => Error::NotFound("no such account or role".into()),
            other => other,
        })?;
        tx.commit().await.map_err(db_error)?;
        Ok(granted == 1)
    }

    async fn revoke_role(&self, user: &UserId, role: &RoleName) -> Result<Option<ScopeSet>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        execute(&tx, LOCK, &[]).await?;
        let held = execute(
            &tx,
            "DELETE FROM auth_user_roles WHERE user_id = $1 AND role = $2",
            &[&user.as_uuid(), &role.as_str()],
        )
        .await?;
        if held == 0 {
            return Ok(None);
        }
        let granted = scopes_of_role(&tx, role).await?.unwrap_or_default();
        let lost = granted.difference(&scopes_in(&tx, user).await?);
        if !lost.is_empty() {
            execute(
                &tx,
                "UPDATE auth_users SET epoch = epoch + 1 WHERE id = $1",
                &[&user.as_uuid()],
            )
            .await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(Some(lost))
    }

    async fn roles_of(&self, user: &UserId) -> Result<Vec<Role>> {
        let client = self.client().await?;
        query(
            &client,
            &format!(
                "SELECT {ROLE_COLUMNS} FROM auth_user_roles h \
                 JOIN auth_roles r ON r.name = h.role WHERE h.user_id = $1 ORDER BY r.name"
            ),
            &[&user.as_uuid()],
        )
        .await?
        .iter()
        .map(role_of)
        .collect()
    }

    async fn scopes_of(&self, user: &UserId) -> Result<ScopeSet> {
        let client = self.client().await?;
        scopes_in(&client, user).await
    }
}

/// Every scope `user` holds, read through `client`.
async fn scopes_in(client: &impl GenericClient, user: &UserId) -> Result<ScopeSet> {
    query(
        client,
        "SELECT DISTINCT s.scope FROM auth_user_roles h \
         JOIN auth_role_scopes s ON s.role = h.role WHERE h.user_id = $1",
        &[&user.as_uuid()],
    )
    .await?
    .iter()
    .map(|row| Scope::parse(get::<&str>(row, "scope")?).map_err(|_| corrupt("scope")))
    .collect()
}
