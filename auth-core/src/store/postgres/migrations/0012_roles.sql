-- Expand only: new tables. Roles, the scopes each grants, and the accounts holding them. The
-- previous release neither reads nor writes them.
CREATE TABLE auth_roles (
    name        text COLLATE "C" PRIMARY KEY,
    description text NOT NULL DEFAULT ''
);

CREATE TABLE auth_role_scopes (
    role  text COLLATE "C" NOT NULL REFERENCES auth_roles (name) ON DELETE CASCADE,
    scope text COLLATE "C" NOT NULL,
    PRIMARY KEY (role, scope)
);

CREATE TABLE auth_user_roles (
    user_id    uuid             NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    role       text COLLATE "C" NOT NULL REFERENCES auth_roles (name) ON DELETE CASCADE,
    granted_at timestamptz      NOT NULL,
    PRIMARY KEY (user_id, role)
);
-- A role's holders, for the changes that take a scope from them.
CREATE INDEX auth_user_roles_role_idx ON auth_user_roles (role);
