-- Expand only: what a bounded refresh grace needs. Both columns have defaults, so code of the
-- previous release keeps working against this schema (it neither reads nor writes them).

-- Retries of a spent token within the reuse grace period: each replaces the successor the
-- last one issued; past the limit, a retry is reuse.
ALTER TABLE auth_refresh_tokens ADD COLUMN grace_retries integer NOT NULL DEFAULT 0;
-- A successor a grace retry replaced: presenting it is reuse, as presenting any token that
-- was exchanged already.
ALTER TABLE auth_refresh_tokens ADD COLUMN replaced boolean NOT NULL DEFAULT false;
