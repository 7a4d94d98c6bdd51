-- Expand only: a nullable column and an index. The language mails to the account are written in, chosen
-- at sign-up from the request's languages; NULL: the request's, else English. The previous
-- release neither reads nor writes it.
ALTER TABLE auth_users ADD COLUMN locale text;

-- An address an account left is held while the undo link sent to it lives: no other account
-- may take it. Sign-ups and changes of address look it up by this index.
CREATE INDEX auth_intents_undo_target_idx ON auth_intents (target)
    WHERE purpose = 'undo_email_change' AND used_at IS NULL AND voided_at IS NULL;
