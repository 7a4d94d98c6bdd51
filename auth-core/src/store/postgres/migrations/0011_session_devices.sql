-- Expand only: two nullable columns. Where a session was started (the client's address) and
-- by what (its User-Agent), for the owner's session list. The previous release neither reads
-- nor writes them; its sessions read as from an unknown device.
ALTER TABLE auth_sessions ADD COLUMN client inet, ADD COLUMN user_agent text;
