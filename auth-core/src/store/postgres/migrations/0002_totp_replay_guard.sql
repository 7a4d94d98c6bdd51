-- Expand only: a new table for the TOTP replay guard (TotpReplayGuard). Nothing existing
-- changes, so code of the previous release keeps working against this schema.
CREATE TABLE auth_totp_replay (
    user_id    uuid        PRIMARY KEY,
    step       bigint      NOT NULL,
    forget_at  timestamptz NOT NULL
);

CREATE INDEX auth_totp_replay_forget_at ON auth_totp_replay (forget_at);
