-- auth-core schema, version 1: every table the PostgreSQL backend uses.
--
-- Additive only, like every migration (see README.md): later releases add tables, nullable
-- columns and indexes, and drop nothing the previous release still reads.
--
-- Times are timestamptz, written and compared with the instants the library passes in (its
-- injected clock), never with the database's now(). Session ids are base64url text compared
-- byte-wise (COLLATE "C"), as the memory backend orders them. Secrets are never stored: only
-- their SHA-256 digests (bytea, 32 bytes) and the AES-GCM ciphertext of TOTP secrets.

CREATE TABLE auth_users (
    id            uuid        PRIMARY KEY,
    email         text        NOT NULL,
    password_hash text        NOT NULL,
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL
);
-- The flows normalise emails already; the index makes uniqueness case-insensitive regardless,
-- and serves the lookup by email.
CREATE UNIQUE INDEX auth_users_email_key ON auth_users (lower(email));

CREATE TABLE auth_totp (
    user_id        uuid        PRIMARY KEY REFERENCES auth_users (id) ON DELETE CASCADE,
    key_id         text        NOT NULL,
    nonce          bytea       NOT NULL,
    ciphertext     bytea       NOT NULL,
    algorithm      text        NOT NULL,
    digits         integer     NOT NULL,
    period         bigint      NOT NULL,
    confirmed      boolean     NOT NULL DEFAULT false,
    last_used_step bigint,
    created_at     timestamptz NOT NULL
);

-- Recovery codes belong to the TOTP credential: deleting it deletes them.
CREATE TABLE auth_recovery_codes (
    user_id   uuid  NOT NULL REFERENCES auth_totp (user_id) ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE auth_refresh_families (
    id         uuid        PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    session_id text        COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked    boolean     NOT NULL DEFAULT false
);
CREATE INDEX auth_refresh_families_session_id_idx ON auth_refresh_families (session_id);
CREATE INDEX auth_refresh_families_user_id_idx ON auth_refresh_families (user_id);
CREATE INDEX auth_refresh_families_expires_at_idx ON auth_refresh_families (expires_at);

-- A token is current while spent_at is null; once spent, successor_hash names the token it was
-- exchanged for (the grace period replaces that one on a quick retry).
CREATE TABLE auth_refresh_tokens (
    hash            bytea       PRIMARY KEY,
    family_id       uuid        NOT NULL REFERENCES auth_refresh_families (id) ON DELETE CASCADE,
    issued_at       timestamptz NOT NULL,
    idle_expires_at timestamptz NOT NULL,
    spent_at        timestamptz,
    successor_hash  bytea
);
CREATE INDEX auth_refresh_tokens_family_id_idx ON auth_refresh_tokens (family_id);
CREATE INDEX auth_refresh_tokens_unspent_idle_expires_at_idx
    ON auth_refresh_tokens (idle_expires_at) WHERE spent_at IS NULL;

CREATE TABLE auth_sessions (
    id              text        COLLATE "C" PRIMARY KEY,
    user_id         uuid        NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    amr             text[]      NOT NULL,
    created_at      timestamptz NOT NULL,
    last_used_at    timestamptz NOT NULL,
    idle_expires_at timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL
);
CREATE INDEX auth_sessions_user_id_idx ON auth_sessions (user_id, created_at);
CREATE INDEX auth_sessions_ends_at_idx ON auth_sessions (LEAST(idle_expires_at, expires_at));

-- Failure counters, keyed by account or client address: no foreign key.
CREATE TABLE auth_throttle (
    key               text        PRIMARY KEY,
    failures          bigint      NOT NULL,
    window_started_at timestamptz NOT NULL,
    last_failure_at   timestamptz NOT NULL
);
CREATE INDEX auth_throttle_window_started_at_idx ON auth_throttle (window_started_at);

CREATE TABLE auth_revoked_sessions (
    session_id    text        COLLATE "C" PRIMARY KEY,
    revoked_until timestamptz NOT NULL
);
CREATE INDEX auth_revoked_sessions_revoked_until_idx ON auth_revoked_sessions (revoked_until);

-- Audit events outlive the accounts they name: no foreign key.
CREATE TABLE auth_audit_events (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL,
    name       text        NOT NULL,
    detail     text        NOT NULL,
    user_id    uuid,
    session_id text        COLLATE "C",
    client     inet
);
CREATE INDEX auth_audit_events_user_id_idx ON auth_audit_events (user_id, at);
CREATE INDEX auth_audit_events_at_idx ON auth_audit_events (at);
