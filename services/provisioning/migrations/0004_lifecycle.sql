-- The rest of an account's life: deleted users (kept, with their name, for the audit), users'
-- S/MIME certificates (a reset password then goes by encrypted mail).
ALTER TABLE account DROP CONSTRAINT account_status_check;
ALTER TABLE account ADD CONSTRAINT account_status_check
    CHECK (status IN ('active', 'locked', 'replaced', 'deleted'));
