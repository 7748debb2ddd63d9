-- Tenants' training requests, recorded for the Verfahrensbetreuung (each request once).
CREATE TABLE training_request (
    request_id     text PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenant (tenant_id),
    user_id        uuid NOT NULL,
    teilnehmende   integer NOT NULL,
    wunsch         text NOT NULL,
    requested_at   timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL
);
