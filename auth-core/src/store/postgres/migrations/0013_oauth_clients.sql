-- Expand only: a new table. Registered OAuth clients; the previous release neither reads nor
-- writes it.
CREATE TABLE auth_oauth_clients (
    id            text COLLATE "C" PRIMARY KEY,
    name          text             NOT NULL,
    auth_method   text             NOT NULL,
    -- The SHA-256 digest of a confidential client's secret; NULL for a public client.
    secret_hash   bytea            CHECK (octet_length(secret_hash) = 32),
    redirect_uris text[]           NOT NULL,
    grant_types   text[]           NOT NULL,
    scopes        text[]           NOT NULL,
    first_party   boolean          NOT NULL,
    created_at    timestamptz      NOT NULL
);
