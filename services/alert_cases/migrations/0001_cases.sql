-- The data-protection team's cases, opened by evaluation alerts (§ 40 Abs. 5 Satz 3 BMG).
CREATE TABLE fall (
    case_id     text PRIMARY KEY,
    tenant_id   text NOT NULL,
    status      text NOT NULL CHECK (status IN ('open', 'acknowledged', 'closed')),
    state       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX fall_open ON fall (tenant_id) WHERE status <> 'closed';

-- whom to contact per tenant: the administrator the approved application names
CREATE TABLE application_contact (
    application_id  text PRIMARY KEY,
    contact         jsonb NOT NULL
);
CREATE TABLE tenant_application (
    tenant_id       text PRIMARY KEY,
    application_id  text NOT NULL,
    authority_name  text NOT NULL
);

-- every command once
CREATE TABLE case_command (
    command_id  text PRIMARY KEY,
    case_id     text NOT NULL,
    outcome     text NOT NULL,
    at          timestamptz NOT NULL
);
