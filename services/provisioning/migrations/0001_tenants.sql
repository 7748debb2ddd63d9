-- Tenants (Mandanten): one per authority and role.
CREATE TABLE tenant (
    tenant_id                      uuid PRIMARY KEY,
    authority_key                  text NOT NULL,
    authority_name                 text NOT NULL,
    role                           text NOT NULL,
    status                         text NOT NULL CHECK (status IN ('active', 'restricted', 'suspended')),
    status_reason                  text,
    data_scope                     text NOT NULL,
    logging_arrangement            text,
    conditions                     jsonb NOT NULL,
    client_certificate_fingerprint text,
    postal_address                 jsonb NOT NULL,
    application_id                 text NOT NULL,
    version                        integer NOT NULL,
    created_at                     timestamptz NOT NULL,
    updated_at                     timestamptz NOT NULL,
    UNIQUE (authority_key, role)
);

-- Accounts: the Hauptadministrator and the users the administrator creates. Passwords only as
-- Argon2id hashes.
CREATE TABLE account (
    user_id                 uuid PRIMARY KEY,
    tenant_id               uuid NOT NULL REFERENCES tenant (tenant_id),
    username                text NOT NULL UNIQUE,
    kind                    text NOT NULL CHECK (kind IN ('administrator', 'user')),
    status                  text NOT NULL CHECK (status IN ('active', 'locked', 'replaced')),
    first_name              text NOT NULL,
    surname                 text NOT NULL,
    email                   text NOT NULL,
    smime_certificate_pem   text,
    certificate_fingerprint text,
    password_hash           text NOT NULL,
    must_change_password    boolean NOT NULL,
    password_expires_at     timestamptz,
    failed_logins           integer NOT NULL DEFAULT 0,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL
);
CREATE UNIQUE INDEX account_one_current_administrator ON account (tenant_id)
    WHERE kind = 'administrator' AND status <> 'replaced';

-- Every account command, applied or rejected; a command id is applied once.
CREATE TABLE account_command (
    command_id text PRIMARY KEY,
    tenant_id  text NOT NULL,
    action     text NOT NULL,
    actor      text NOT NULL,
    outcome    text NOT NULL,
    at         timestamptz NOT NULL
);

CREATE TABLE tenant_status_history (
    id        bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenant (tenant_id),
    status    text NOT NULL,
    reason    text,
    actor     text NOT NULL,
    at        timestamptz NOT NULL
);
