-- Inbox: every consumed event id, recorded in the same transaction as the event's effect, so that a
-- redelivered event is recognised and has no second effect.
CREATE TABLE inbox (
    event_id     text PRIMARY KEY,
    topic        text NOT NULL,
    partition    integer NOT NULL,
    "offset"     bigint NOT NULL,
    event_type   text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);

-- Outbox: events an effect must publish, written in the effect's transaction and published after
-- it commits. `published_at` stays NULL until the broker has acknowledged the event (acks=all);
-- the relay publishes whatever a crash left behind, under the same event id.
CREATE TABLE outbox (
    seq             bigserial PRIMARY KEY,
    event_id        uuid NOT NULL UNIQUE,
    source_event_id text,
    topic           text NOT NULL,
    key             text NOT NULL,
    headers         jsonb NOT NULL,
    payload         text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_by_source ON outbox (source_event_id);
