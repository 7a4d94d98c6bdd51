-- Expand only: where the backfill to the new email form (NFKC_Casefold local part, IDNA
-- domain) records what it could not do. Rows of earlier releases were stored trimmed and
-- lower-cased; `PostgresStore::migrate` rewrites those whose form changed, after this
-- migration, in batches, and records it in auth_data_migrations so it runs once.

-- An account whose address could not take its new form: another account holds that form
-- (`taken_by`), or the stored text is no address (`normalized` NULL). Left as stored, for an
-- operator to resolve.
CREATE TABLE auth_email_collisions (
    user_id    uuid        PRIMARY KEY REFERENCES auth_users (id) ON DELETE CASCADE,
    email      text        NOT NULL,
    normalized text,
    taken_by   uuid,
    found_at   timestamptz NOT NULL DEFAULT now()
);

-- Backfills that ran to the end, by name.
CREATE TABLE auth_data_migrations (
    name    text        PRIMARY KEY,
    done_at timestamptz NOT NULL DEFAULT now()
);
