-- Expand only: new tables and nullable columns. Authorization codes, consent, and the client a
-- session's tokens were granted to; the previous release neither reads nor writes them, and
-- its sessions read back as the server's own.
CREATE TABLE auth_oauth_codes (
    -- The SHA-256 digest of the code.
    hash           bytea            PRIMARY KEY CHECK (octet_length(hash) = 32),
    client_id      text COLLATE "C" NOT NULL REFERENCES auth_oauth_clients (id) ON DELETE CASCADE,
    user_id        uuid             NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    redirect_uri   text             NOT NULL,
    scope          text[]           NOT NULL CHECK (array_position(scope, NULL) IS NULL),
    nonce          text,
    code_challenge text,
    amr            text[]           NOT NULL,
    auth_time      timestamptz      NOT NULL,
    epoch          bigint           NOT NULL,
    created_at     timestamptz      NOT NULL,
    expires_at     timestamptz      NOT NULL,
    -- The session its redemption started; NULL until redeemed.
    redeemed_by    text
);
CREATE INDEX auth_oauth_codes_expires_at_idx ON auth_oauth_codes (expires_at);

CREATE TABLE auth_oauth_consents (
    user_id    uuid             NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    client_id  text COLLATE "C" NOT NULL REFERENCES auth_oauth_clients (id) ON DELETE CASCADE,
    scope      text[]           NOT NULL CHECK (array_position(scope, NULL) IS NULL),
    granted_at timestamptz      NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- What a client registers beyond part one: its access tokens' audience and its ID tokens'
-- algorithm (clients registered before have the server's audience and RS256).
ALTER TABLE auth_oauth_clients
    ADD COLUMN audience     text CHECK (octet_length(audience) BETWEEN 1 AND 256),
    ADD COLUMN id_token_alg text NOT NULL DEFAULT 'RS256'
        CHECK (id_token_alg IN ('RS256', 'ES256', 'EdDSA'));

ALTER TABLE auth_sessions
    ADD COLUMN oauth_client text COLLATE "C",
    ADD COLUMN oauth_scope  text[],
    ADD CONSTRAINT auth_sessions_oauth_grant_check
        CHECK ((oauth_client IS NULL) = (oauth_scope IS NULL));
