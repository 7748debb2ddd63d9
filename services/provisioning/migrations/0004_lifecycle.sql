-- The rest of an account's life: deleted users (kept, with their name, for the audit), users'
-- S/MIME certificates (a reset password then goes by encrypted mail).
ALTER TABLE account DROP CONSTRAINT account_status_check;
ALTER TABLE account ADD CONSTRAINT account_status_check
    CHECK (status IN ('active', 'locked', 'replaced', 'deleted'));

-- the order in which commands were applied, for the audit (several can share a timestamp)
ALTER TABLE account_command ADD COLUMN seq bigserial;
