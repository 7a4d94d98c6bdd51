-- Expand only: a new table. Registered OAuth clients; the previous release neither reads nor
-- writes it.
CREATE TABLE auth_oauth_clients (
    id            text COLLATE "C" PRIMARY KEY,
    name          text             NOT NULL,
    auth_method   text             NOT NULL
        CHECK (auth_method IN ('client_secret_basic', 'client_secret_post', 'none')),
    -- The SHA-256 digest of a confidential client's secret; NULL for a public client.
    secret_hash   bytea            CHECK (octet_length(secret_hash) = 32),
    redirect_uris text[]           NOT NULL
        CHECK (cardinality(redirect_uris) BETWEEN 1 AND 16
               AND array_position(redirect_uris, NULL) IS NULL),
    grant_types   text[]           NOT NULL CHECK (array_position(grant_types, NULL) IS NULL),
    scopes        text[]           NOT NULL CHECK (array_position(scopes, NULL) IS NULL),
    first_party   boolean          NOT NULL,
    created_at    timestamptz      NOT NULL,
    CHECK ((auth_method = 'none') = (secret_hash IS NULL))
);
