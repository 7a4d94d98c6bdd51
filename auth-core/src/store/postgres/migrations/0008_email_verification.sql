-- Expand only: a nullable column. When the account's owner proved the address receives mail;
-- NULL until then. Accounts made before verification was required are marked verified by
-- `adopt_email_verification` the first time a server starts with verification required
-- (recorded in auth_data_migrations as 'email_verification_adopted'), not here: an account
-- made while verification is off is not verified, and must not be locked out when it is
-- switched on.
ALTER TABLE auth_users ADD COLUMN email_verified_at timestamptz;
