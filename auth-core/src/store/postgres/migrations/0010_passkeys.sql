-- Expand only: new tables and a column with a default. Passkeys (WebAuthn credentials), each account's opaque user handle,
-- and the state of ceremonies between their two requests. The previous release neither reads
-- nor writes them.
CREATE TABLE auth_passkey_handles (
    user_id uuid PRIMARY KEY REFERENCES auth_users (id) ON DELETE CASCADE,
    handle  uuid NOT NULL UNIQUE
);

CREATE TABLE auth_passkeys (
    -- The credential id the authenticator chose: unique across accounts.
    id              bytea       PRIMARY KEY,
    user_id         uuid        NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    name            text        NOT NULL,
    -- The public key and the policy it was registered under, as webauthn-rs serialises them.
    credential      bytea       NOT NULL,
    sign_count      bigint      NOT NULL CHECK (sign_count BETWEEN 0 AND 4294967295),
    backup_eligible boolean     NOT NULL,
    backup_state    boolean     NOT NULL,
    transports      text[]      NOT NULL,
    aaguid          uuid        NOT NULL,
    created_at      timestamptz NOT NULL,
    last_used_at    timestamptz
);
CREATE INDEX auth_passkeys_user_idx ON auth_passkeys (user_id, created_at);

-- Single use: a finish deletes its row. Rows past their expiry are left to the purge.
CREATE TABLE auth_passkey_ceremonies (
    id         text        COLLATE "C" PRIMARY KEY,
    kind       text        NOT NULL,
    user_id    uuid        REFERENCES auth_users (id) ON DELETE CASCADE,
    binding    text,
    state      bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX auth_passkey_ceremonies_expires_at_idx ON auth_passkey_ceremonies (expires_at);

-- A session opened by a passkey whose signature counter did not increase, accepted by the
-- configuration: perhaps a cloned authenticator. The previous release neither reads nor
-- writes it; its sessions read as not flagged.
ALTER TABLE auth_sessions ADD COLUMN flagged boolean NOT NULL DEFAULT false;
