-- The tenants as min.tenant.state.v1 last described them (the compacted topic replayed).
CREATE TABLE mandanten (
    tenant_id  text PRIMARY KEY,
    version    integer NOT NULL,
    state      jsonb NOT NULL,
    updated_at timestamptz NOT NULL
);

-- Every query the router has taken on, by its Vorgangsnummer, until its answer or its timeout.
CREATE TABLE vorgaenge (
    vorgangsnummer text PRIMARY KEY,
    query_id       text NOT NULL UNIQUE,
    tenant_id      text NOT NULL,
    land           text,
    zugangsart     text,
    protokollierung text NOT NULL,
    query          jsonb NOT NULL,
    status         text NOT NULL,  -- routed | answered | timed_out | rejected
    routed_at      timestamptz NOT NULL,
    deadline       timestamptz,
    completed_at   timestamptz
);
CREATE INDEX vorgaenge_offen ON vorgaenge (deadline) WHERE status = 'routed';
