//! Roles from the command line (`auth-server role list|set|delete`, `auth-server user
//! grant|revoke|roles`) and from the configuration at start (`ROLES`).
//!
//! Each command runs the library's flows over the server's database, so a change is what an
//! API call would make it: audited with its actor, and a removal ends the sessions of whoever
//! lost a scope (their access tokens are refused by every server within its
//! `REVOCATION_CACHE_TTL`).

use std::process::ExitCode;

use auth_core::authz::{Role, RoleName, Scope, ScopeSet};
use auth_core::event::Actor;
use auth_core::flows::{Authenticator, normalize_email};
use auth_core::store::{RoleChange, RoleStore, User, UserStore};
use serde_json::{Value, json};

use crate::cli::run_printing;
use crate::cli::{
    ActorArgs, RoleDeleteArgs, RoleListArgs, RoleSetArgs, UserLookupArgs, UserRoleArgs,
};
use crate::user::operator_authenticator;

/// Defines each role of the configuration as it says, at start. A failure stops the start:
/// a server must not run with roles other than it was told.
pub(crate) async fn seed(auth: &Authenticator, roles: &[Role]) -> auth_core::Result<()> {
    for role in roles {
        let change = auth.define_role(role, &Actor::Configuration).await?;
        if change.changed() {
            tracing::info!(
                role = %role.name,
                created = change.created,
                added = %change.added,
                removed = %change.removed,
                signed_out = change.demoted.len(),
                "role defined from ROLES"
            );
        }
    }
    Ok(())
}

pub(crate) fn list(args: &RoleListArgs) -> ExitCode {
    run_printing("role list", async {
        let (auth, _) = operator_authenticator(&args.database).await?;
        let roles = auth.roles().await?;
        Ok(Value::Array(roles.iter().map(role_json).collect()))
    })
}

pub(crate) fn set(args: &RoleSetArgs) -> ExitCode {
    run_printing("role set", async {
        let name = RoleName::parse(&args.name)?;
        let scopes = args
            .scopes
            .iter()
            .map(|scope| Scope::parse(scope))
            .collect::<auth_core::Result<ScopeSet>>()?;
        let (auth, store) = operator_authenticator(&args.database).await?;
        let description = match &args.description {
            Some(description) => description.clone(),
            None => RoleStore::role(&store, &name)
                .await?
                .map(|role| role.description)
                .unwrap_or_default(),
        };
        let role = Role::new(name, scopes, description)?;
        let change = auth.define_role(&role, &actor(&args.actor)).await?;
        Ok(json!({
            "role": role.name.as_str(),
            "created": change.created,
            "added": change.added.to_strings(),
            "removed": change.removed.to_strings(),
            "holders": change.holders,
            "signed_out": signed_out(&change),
        }))
    })
}

pub(crate) fn delete(args: &RoleDeleteArgs) -> ExitCode {
    run_printing("role delete", async {
        let name = RoleName::parse(&args.name)?;
        let (auth, _) = operator_authenticator(&args.database).await?;
        let change = auth.delete_role(&name, &actor(&args.actor)).await?;
        Ok(json!({
            "role": name.as_str(),
            "removed": change.removed.to_strings(),
            "holders": change.holders,
            "signed_out": signed_out(&change),
        }))
    })
}

pub(crate) fn grant(args: &UserRoleArgs) -> ExitCode {
    run_printing("user grant", async {
        let role = RoleName::parse(&args.role)?;
        let (auth, store) = operator_authenticator(&args.database).await?;
        let user = account(&store, &args.email).await?.id;
        let granted = auth.grant_role(&user, &role, &actor(&args.actor)).await?;
        Ok(json!({ "user_id": user, "role": role.as_str(), "granted": granted }))
    })
}

pub(crate) fn revoke(args: &UserRoleArgs) -> ExitCode {
    run_printing("user revoke", async {
        let role = RoleName::parse(&args.role)?;
        let (auth, store) = operator_authenticator(&args.database).await?;
        let user = account(&store, &args.email).await?.id;
        let lost = auth.revoke_role(&user, &role, &actor(&args.actor)).await?;
        Ok(json!({
            "user_id": user,
            "role": role.as_str(),
            "lost": lost.to_strings(),
            "signed_out": !lost.is_empty(),
        }))
    })
}

pub(crate) fn user_roles(args: &UserLookupArgs) -> ExitCode {
    run_printing("user roles", async {
        let (auth, store) = operator_authenticator(&args.database).await?;
        let user = account(&store, &args.email).await?;
        let roles = auth.roles_of(&user.id).await?;
        let mut scopes = ScopeSet::new();
        for role in &roles {
            scopes.extend(role.scopes.iter().cloned());
        }
        Ok(json!({
            "user_id": user.id,
            "email": user.email,
            "roles": roles.iter().map(|role| role.name.as_str()).collect::<Vec<_>>(),
            "scopes": scopes.to_strings(),
        }))
    })
}

pub(crate) fn sign_out(args: &UserLookupArgs) -> ExitCode {
    run_printing("user sign-out", async {
        let (auth, store) = operator_authenticator(&args.database).await?;
        let user = account(&store, &args.email).await?;
        auth.sign_out_everywhere(&user.id).await?;
        Ok(json!({ "user_id": user.id, "signed_out": true }))
    })
}

fn role_json(role: &Role) -> Value {
    json!({
        "name": role.name.as_str(),
        "scopes": role.scopes.to_strings(),
        "description": role.description,
    })
}

/// How many accounts a change signed out.
fn signed_out(change: &RoleChange) -> usize {
    change.demoted.len()
}

/// The operator: `--actor` (or `AUTH_ACTOR`), else the login name.
pub(crate) fn actor(args: &ActorArgs) -> Actor {
    let name = args
        .actor
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    Actor::operator(&name)
}

/// The account with `email`; [`auth_core::Error::NotFound`] if there is none.
async fn account(users: &dyn UserStore, email: &str) -> auth_core::Result<User> {
    let email = normalize_email(email)?;
    users
        .user_by_email(&email)
        .await?
        .ok_or_else(|| auth_core::Error::NotFound("no account with this email".into()))
}
