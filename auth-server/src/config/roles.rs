//! The roles the server defines at start (`ROLES`, or `ROLES_FILE`): a JSON object from each
//! role's name to `{"scopes": [...], "description": "..."}`.
//!
//! At every start each role named there is set to exactly what it says (its holders that lose
//! a scope by it are signed out, as any removal does); roles made otherwise (`auth-server role
//! set`) are left alone. Who holds a role is not configuration: `auth-server user grant`.

use std::collections::BTreeMap;

use auth_core::authz::{Role, RoleName, ScopeSet};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleEntry {
    scopes: Vec<String>,
    #[serde(default)]
    description: String,
}

/// Reads the configured roles; each problem goes to `problems` under the variable's name.
pub(super) fn read(get: &dyn Fn(&str) -> Option<String>, problems: &mut Vec<String>) -> Vec<Role> {
    let (variable, text) = match (get("ROLES"), get("ROLES_FILE")) {
        (None, None) => return Vec::new(),
        (Some(_), Some(_)) => {
            problems.push("ROLES and ROLES_FILE: set one or the other".to_owned());
            return Vec::new();
        }
        (Some(text), None) => ("ROLES", text),
        (None, Some(path)) => match std::fs::read_to_string(&path) {
            Ok(text) => ("ROLES_FILE", text),
            Err(error) => {
                problems.push(format!("ROLES_FILE: cannot read {path}: {error}"));
                return Vec::new();
            }
        },
    };
    match parse(&text) {
        Ok(roles) => roles,
        Err(problem) => {
            problems.push(format!("{variable}: {problem}"));
            Vec::new()
        }
    }
}

/// The roles of a `ROLES` document, every problem of it in one message.
fn parse(text: &str) -> Result<Vec<Role>, String> {
    let entries: BTreeMap<String, RoleEntry> = serde_json::from_str(text).map_err(|error| {
        format!(
            "not a JSON object of roles, {{\"name\": {{\"scopes\": [...], \"description\": \
             \"...\"}}}}: {error}"
        )
    })?;
    let mut roles = Vec::new();
    let mut problems = Vec::new();
    for (name, entry) in entries {
        let role = RoleName::parse(&name).and_then(|name| {
            let scopes = entry
                .scopes
                .iter()
                .map(|scope| auth_core::authz::Scope::parse(scope))
                .collect::<auth_core::Result<ScopeSet>>()?;
            Role::new(name, scopes, entry.description)
        });
        match role {
            Ok(role) => roles.push(role),
            Err(error) => problems.push(format!("role {name:?}: {}", message(&error))),
        }
    }
    if problems.is_empty() {
        Ok(roles)
    } else {
        Err(problems.join("; "))
    }
}

/// An error's message without its category prefix.
fn message(error: &auth_core::Error) -> String {
    match error {
        auth_core::Error::InvalidRequest(text) | auth_core::Error::InvalidScope(text) => {
            text.clone()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn read_from(vars: &[(&str, &str)]) -> (Vec<Role>, Vec<String>) {
        let get = |name: &str| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        };
        let mut problems = Vec::new();
        let roles = read(&get, &mut problems);
        (roles, problems)
    }

    #[test]
    fn roles_come_from_json_or_a_file() {
        let json = r#"{"admin": {"scopes": ["admin:users", "profile"], "description": "Operators"},
                       "reader": {"scopes": ["orders:read"]}}"#;
        let (roles, problems) = read_from(&[("ROLES", json)]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(roles.len(), 2);
        assert_eq!(roles[0].name.as_str(), "admin");
        assert_eq!(roles[0].scopes.to_string(), "admin:users profile");
        assert_eq!(roles[0].description, "Operators");
        assert_eq!(roles[1].description, "");

        let path = std::env::temp_dir().join(format!("auth-roles-{}.json", std::process::id()));
        std::fs::write(&path, json).unwrap();
        let (from_file, problems) = read_from(&[("ROLES_FILE", path.to_str().unwrap())]);
        std::fs::remove_file(&path).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(from_file, roles);

        assert_eq!(read_from(&[]), (Vec::new(), Vec::new()));
    }

    #[test]
    fn every_bad_role_is_named() {
        let cases = [
            (r#"["admin"]"#, "ROLES: not a JSON object of roles"),
            (
                r#"{"admin": {"scope": ["a"]}}"#,
                "ROLES: not a JSON object of roles",
            ),
            (
                r#"{"Admin": {"scopes": ["a"]}}"#,
                "ROLES: role \"Admin\": \"Admin\" is not a role name",
            ),
            (
                r#"{"admin": {"scopes": ["a b"]}}"#,
                "ROLES: role \"admin\": \"a b\" is not a scope",
            ),
        ];
        for (json, expected) in cases {
            let (roles, problems) = read_from(&[("ROLES", json)]);
            assert!(roles.is_empty());
            assert_eq!(problems.len(), 1, "{json}: {problems:?}");
            assert!(problems[0].starts_with(expected), "{json}: {problems:?}");
        }
        let (_, problems) = read_from(&[("ROLES", "{}"), ("ROLES_FILE", "/x")]);
        assert_eq!(problems, ["ROLES and ROLES_FILE: set one or the other"]);
        let (_, problems) = read_from(&[("ROLES_FILE", "/nonexistent/roles.json")]);
        assert!(problems[0].starts_with("ROLES_FILE: cannot read /nonexistent/roles.json"));
        let (_, problems) = read_from(&[(
            "ROLES",
            r#"{"a": {"scopes": ["x\"y"]}, "b": {"scopes": ["ok"], "description": "a\nb"}}"#,
        )]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("role \"a\""), "{problems:?}");
        assert!(problems[0].contains("role \"b\""), "{problems:?}");
    }
}
