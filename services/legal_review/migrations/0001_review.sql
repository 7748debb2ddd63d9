-- One review case per accepted application.
CREATE TABLE review_case (
    application_id  text PRIMARY KEY,
    status          text NOT NULL
        CHECK (status IN ('pending_manual', 'waiting_commission', 'approved', 'rejected')),
    application     jsonb NOT NULL,
    reasons         jsonb NOT NULL,
    received_at     timestamptz NOT NULL,
    pending_since   timestamptz,
    decided_at      timestamptz,
    decided_by      text,
    reminded_at     timestamptz,
    escalated_at    timestamptz
);
CREATE INDEX review_case_open ON review_case (pending_since)
    WHERE status IN ('pending_manual', 'waiting_commission');

-- Commissions for the operator to log a security authority's retrievals; they may arrive before
-- the application they belong to.
CREATE TABLE logging_commission (
    application_id  text PRIMARY KEY,
    reference       text NOT NULL,
    commissioned_at timestamptz NOT NULL,
    recorded_by     text NOT NULL,
    received_at     timestamptz NOT NULL
);

-- Every manual decision an operator sent, applied or not.
CREATE TABLE manual_decision (
    id             bigserial PRIMARY KEY,
    application_id text NOT NULL,
    operator_id    text NOT NULL,
    decision       text NOT NULL,
    reason         text NOT NULL,
    outcome        text NOT NULL,
    at             timestamptz NOT NULL
);
