-- Clients of private_key_jwt: their public keys, inline or by address, and no secret. The
-- checks on the method and the secret are replaced to admit them. The previous release cannot
-- read such a client (an unknown method): while it runs, its requests for that client and its
-- `client list` fail. Register such clients once no instance of it is left.
ALTER TABLE auth_oauth_clients
    -- The JWK Set as registered (checked JSON text, kept byte for byte).
    ADD COLUMN jwks     text CHECK (octet_length(jwks) BETWEEN 2 AND 65536),
    ADD COLUMN jwks_uri text CHECK (octet_length(jwks_uri) BETWEEN 1 AND 2000),
    DROP CONSTRAINT auth_oauth_clients_auth_method_check,
    ADD CONSTRAINT auth_oauth_clients_auth_method_check CHECK (
        auth_method IN ('client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none')),
    DROP CONSTRAINT auth_oauth_clients_check,
    ADD CONSTRAINT auth_oauth_clients_secret_check CHECK (
        (auth_method IN ('client_secret_basic', 'client_secret_post')) = (secret_hash IS NOT NULL)),
    ADD CONSTRAINT auth_oauth_clients_keys_check CHECK (
        CASE WHEN auth_method = 'private_key_jwt' THEN (jwks IS NULL) <> (jwks_uri IS NULL)
             ELSE jwks IS NULL AND jwks_uri IS NULL END);
