-- One row per application (upstream application_id), with the application as delivered and the
-- outcome intake published for it.
CREATE TABLE application (
    application_id            text PRIMARY KEY,
    status                    text NOT NULL
        CHECK (status IN ('accepted', 'incomplete', 'refused')),
    authority_key             text,
    access_type               text,
    only_administrator_change boolean NOT NULL,
    submitted                 jsonb NOT NULL,
    outcome                   jsonb NOT NULL,
    source_event_id           text NOT NULL,
    correlation_id            text NOT NULL,
    received_at               timestamptz NOT NULL,
    decided_at                timestamptz NOT NULL
);

-- One open application per authority and role (seed 000: one application per role). An
-- administrator change runs beside it. Intake checks first under an advisory lock; this index
-- holds the line if two instances ever race.
CREATE UNIQUE INDEX application_one_open_per_role
    ON application (authority_key, access_type)
    WHERE status = 'accepted' AND NOT only_administrator_change;

CREATE TABLE application_status (
    id             bigserial PRIMARY KEY,
    application_id text NOT NULL REFERENCES application (application_id),
    status         text NOT NULL,
    at             timestamptz NOT NULL,
    event_id       text NOT NULL,
    detail         jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX application_status_by_application ON application_status (application_id, id);
