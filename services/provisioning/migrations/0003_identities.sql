-- Operator accounts (no tenant) beside the tenants' users, the evaluation authorisation, and the
-- sign-in sessions behind refresh tokens.
ALTER TABLE account ALTER COLUMN tenant_id DROP NOT NULL;
ALTER TABLE account DROP CONSTRAINT account_kind_check;
ALTER TABLE account ADD CONSTRAINT account_kind_check
    CHECK (kind IN ('administrator', 'user', 'operator'));
ALTER TABLE account ADD COLUMN operator_role text
    CHECK (operator_role IN ('betrieb', 'datenschutz', 'revision', 'aufsicht'));
ALTER TABLE account ADD CONSTRAINT account_operator_has_no_tenant
    CHECK ((kind = 'operator') = (tenant_id IS NULL)
           AND (kind = 'operator') = (operator_role IS NOT NULL));
ALTER TABLE account ADD COLUMN auswertung_berechtigt boolean NOT NULL DEFAULT false;

-- A refresh token is stored only as its SHA-256; each refresh replaces it (used once).
CREATE TABLE signin_session (
    session_id   uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES account (user_id),
    refresh_hash text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz
);
CREATE INDEX signin_session_user ON signin_session (user_id) WHERE ended_at IS NULL;

-- Refresh tokens already used: presenting one again means it was copied, and ends the account's
-- sessions.
CREATE TABLE refresh_used (
    refresh_hash text PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES account (user_id),
    used_at      timestamptz NOT NULL
);
