-- Expand only: what the reserved-attempt limits, the credentials epoch and step-up need.
-- Every new column has a default, so code of the previous release keeps working against this
-- schema (it neither reads nor writes them).

-- Single-use ids (second-factor challenges, later emailed links), remembered until they
-- expire (RevocationStore::use_once).
CREATE TABLE auth_used_once (
    id         text        COLLATE "C" PRIMARY KEY,
    used_until timestamptz NOT NULL
);
CREATE INDEX auth_used_once_used_until_idx ON auth_used_once (used_until);

-- The credentials epoch: bumped by a password change, a factor change, "log out everywhere"
-- and disabling. Refresh families carry the epoch of the credentials that opened them; older
-- ones are refused.
ALTER TABLE auth_users ADD COLUMN epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE auth_refresh_families ADD COLUMN epoch bigint NOT NULL DEFAULT 0;

-- When the session's user last authenticated (password, second factor, step-up); a refresh
-- copies it. NULL in rows of the previous release: read as the session's creation.
ALTER TABLE auth_sessions ADD COLUMN auth_time timestamptz;
