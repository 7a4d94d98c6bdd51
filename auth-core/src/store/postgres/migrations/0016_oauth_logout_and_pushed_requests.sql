-- Expand only: new columns with defaults and a new table. What a client registers for
-- RP-initiated logout and pushed authorization requests (RFC 9126), and the pushed requests
-- themselves. The previous release reads clients without the new columns (every client then
-- looks like one that registered neither) and never reads the new table: while it runs, a
-- client's pushed request fails on its instances and its require_par is not enforced there.
-- Register clients with either once no instance of it is left.
ALTER TABLE auth_oauth_clients
    ADD COLUMN post_logout_redirect_uris text[] NOT NULL DEFAULT '{}'
        CHECK (cardinality(post_logout_redirect_uris) <= 16
               AND array_position(post_logout_redirect_uris, NULL) IS NULL),
    ADD COLUMN require_par boolean NOT NULL DEFAULT false;

CREATE TABLE auth_oauth_pushed_requests (
    -- The SHA-256 digest of the request_uri's reference.
    hash       bytea            PRIMARY KEY CHECK (octet_length(hash) = 32),
    client_id  text COLLATE "C" NOT NULL REFERENCES auth_oauth_clients (id) ON DELETE CASCADE,
    -- The request's parameters, as one JSON object of strings.
    params     jsonb            NOT NULL CHECK (jsonb_typeof(params) = 'object'),
    expires_at timestamptz      NOT NULL
);
CREATE INDEX auth_oauth_pushed_requests_expires_at_idx ON auth_oauth_pushed_requests (expires_at);
