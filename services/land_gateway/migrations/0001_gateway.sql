-- This state's queries sent to another state's gateway, until its answer (the Vorgangsnummer the
-- router waits under, and the query id the answer names).
CREATE TABLE ausgang (
    vorgangsnummer  text PRIMARY KEY,
    query_id        text NOT NULL,
    land            text NOT NULL,
    sent_at         timestamptz NOT NULL,
    answered_at     timestamptz
);

-- Other states' queries taken on here, until their answer went back.
CREATE TABLE eingang (
    query_id     text PRIMARY KEY,
    land         text NOT NULL,
    bezug        text NOT NULL,
    freie_suche  boolean NOT NULL,
    received_at  timestamptz NOT NULL,
    answered_at  timestamptz
);
CREATE INDEX eingang_offen ON eingang (received_at) WHERE answered_at IS NULL;
CREATE INDEX ausgang_beantwortet ON ausgang (answered_at) WHERE answered_at IS NOT NULL;
