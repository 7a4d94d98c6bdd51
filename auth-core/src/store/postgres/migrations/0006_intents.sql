-- Expand only: a new table. One-time intents (an emailed link or code): the digest of the
-- secret (a code's digest is keyed by the intent's id), the purpose, the credentials epoch it
-- was issued under. Used and voided intents keep their row until they expire, when the purge
-- deletes them.
CREATE TABLE auth_intents (
    id          text        COLLATE "C" PRIMARY KEY,
    user_id     uuid        NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    purpose     text        NOT NULL,
    secret_hash bytea       NOT NULL,
    -- A code is named by its intent's id and digest together, a link by its digest alone.
    code        boolean     NOT NULL,
    epoch       bigint      NOT NULL,
    target      text,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    voided_at   timestamptz
);
CREATE UNIQUE INDEX auth_intents_secret_hash_key ON auth_intents (secret_hash);
CREATE INDEX auth_intents_live_idx ON auth_intents (user_id, purpose)
    WHERE used_at IS NULL AND voided_at IS NULL;
CREATE INDEX auth_intents_expires_at_idx ON auth_intents (expires_at);
