-- The § 40 BMG protocol: append-only, hash-chained per chain ('operator', or 'tenant:<id>' for a
-- security authority's entries kept on commission). Rows are only ever inserted, and deleted at
-- the retention deadline (services.protocol_log.domain.deletion_due).
CREATE TABLE protokoll (
    chain          text NOT NULL,
    seq            bigint NOT NULL,
    vorgangsnummer text NOT NULL UNIQUE,
    tenant_id      text NOT NULL,
    written_at     timestamptz NOT NULL,
    entry          jsonb NOT NULL,
    prev_hash      text NOT NULL,
    entry_hash     text NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE INDEX protokoll_written ON protokoll (written_at);
CREATE INDEX protokoll_treffer ON protokoll USING gin ((entry -> 'treffer') jsonb_path_ops);

CREATE TABLE chain_heads (
    chain      text PRIMARY KEY,
    seq        bigint NOT NULL,
    entry_hash text NOT NULL
);

-- Signed positions of a chain; and signed cuts where expired entries were deleted.
CREATE TABLE checkpoints (
    chain      text NOT NULL,
    seq        bigint NOT NULL,
    entry_hash text NOT NULL,
    signed_at  timestamptz NOT NULL,
    signature  bytea NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE TABLE retention_cuts (
    chain      text NOT NULL,
    seq        bigint NOT NULL,
    entry_hash text NOT NULL,
    deleted    integer NOT NULL,
    cut_at     timestamptz NOT NULL,
    signature  bytea NOT NULL,
    PRIMARY KEY (chain, seq)
);

-- Every release, self-logged ones included, without personal data: the release guard (one
-- release per Vorgangsnummer) and the source of the metrics.
CREATE TABLE releases (
    vorgangsnummer text PRIMARY KEY,
    tenant_id      text NOT NULL,
    kind           text NOT NULL,
    latency_ms     double precision NOT NULL,
    released_at    timestamptz NOT NULL
);
CREATE INDEX releases_minute ON releases (released_at);
CREATE TABLE metrics_published (
    tenant_id text NOT NULL,
    minute    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, minute)
);

-- Pseudonymous retrieval counters for the evaluation rules, in buckets so that a rule costs the
-- same whatever a user's volume: per minute (bursts), per day (usual volume), per person and
-- hour (the same person queried repeatedly).
CREATE TABLE stats_minute (
    user_ref  text NOT NULL,
    minute    timestamptz NOT NULL,
    n         integer NOT NULL,
    PRIMARY KEY (user_ref, minute)
);
CREATE TABLE stats_day (
    user_ref  text NOT NULL,
    day       date NOT NULL,
    n         integer NOT NULL,
    PRIMARY KEY (user_ref, day)
);
CREATE TABLE stats_subject_hour (
    user_ref    text NOT NULL,
    subject_ref text NOT NULL,
    hour        timestamptz NOT NULL,
    n           integer NOT NULL,
    PRIMARY KEY (user_ref, subject_ref, hour)
);

-- Who read the protocol, for which purpose, with which filter, how many entries (§ 40 Abs. 5).
CREATE TABLE read_log (
    read_id   bigserial PRIMARY KEY,
    reader    text NOT NULL,
    purpose   text NOT NULL,
    filter    jsonb NOT NULL,
    entries   integer NOT NULL,
    read_at   timestamptz NOT NULL
);
