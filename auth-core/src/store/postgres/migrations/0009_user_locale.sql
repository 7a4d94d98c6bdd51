-- Expand only: a nullable column. The language mails to the account are written in, chosen
-- at sign-up from the request's languages; NULL: the request's, else English. The previous
-- release neither reads nor writes it.
ALTER TABLE auth_users ADD COLUMN locale text;
