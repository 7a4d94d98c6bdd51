-- A client of the client_credentials grant alone is sent no answers: it registers no redirect
-- URIs. The check on their number now allows none. The previous release never writes such a
-- client but cannot read one (an unknown grant type): while it runs, its requests for that
-- client and its `client list` fail. Register services once no instance of it is left.
ALTER TABLE auth_oauth_clients DROP CONSTRAINT auth_oauth_clients_redirect_uris_check;
ALTER TABLE auth_oauth_clients ADD CONSTRAINT auth_oauth_clients_redirect_uris_check
    CHECK (cardinality(redirect_uris) <= 16 AND array_position(redirect_uris, NULL) IS NULL);
