-- The protocol in one partition per day (Berlin time) of writing. Everything written in a year
-- falls due on one day (§ 40 Abs. 5 BMG: by the end of the following calendar year), so the
-- retention drops whole days instead of deleting row by row; a signed cut per chain keeps the rest
-- of the chain verifiable. Rows that find no day partition land in `protokoll_rest` and are deleted
-- row by row.
ALTER TABLE protokoll RENAME TO protokoll_alt;
ALTER TABLE protokoll_alt RENAME CONSTRAINT protokoll_pkey TO protokoll_alt_pkey;
ALTER TABLE protokoll_alt RENAME CONSTRAINT protokoll_vorgangsnummer_key TO protokoll_alt_vorgang;
ALTER INDEX protokoll_written RENAME TO protokoll_alt_written;
ALTER INDEX protokoll_treffer RENAME TO protokoll_alt_treffer;

CREATE TABLE protokoll (
    chain          text NOT NULL,
    seq            bigint NOT NULL,
    vorgangsnummer text NOT NULL,
    tenant_id      text NOT NULL,
    written_at     timestamptz NOT NULL,
    entry          jsonb NOT NULL,
    prev_hash      text NOT NULL,
    entry_hash     text NOT NULL,
    PRIMARY KEY (chain, seq, written_at)
) PARTITION BY RANGE (written_at);
CREATE INDEX protokoll_vorgang ON protokoll (vorgangsnummer);
CREATE INDEX protokoll_treffer ON protokoll USING gin ((entry -> 'treffer') jsonb_path_ops);
CREATE TABLE protokoll_rest PARTITION OF protokoll DEFAULT;

-- The partition of one Berlin day, created if missing; its name.
CREATE FUNCTION protokoll_tag(d date) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    name text := 'protokoll_' || to_char(d, 'YYYYMMDD');
BEGIN
    IF to_regclass(name) IS NULL THEN
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF protokoll FOR VALUES FROM (%L) TO (%L)',
            name,
            d::timestamp AT TIME ZONE 'Europe/Berlin',
            (d + 1)::timestamp AT TIME ZONE 'Europe/Berlin'
        );
    END IF;
    RETURN name;
EXCEPTION
    WHEN duplicate_table THEN
        RETURN name;  -- another instance created it at the same moment
    WHEN check_violation THEN
        RETURN NULL;  -- rows of that day already wait in protokoll_rest: they stay there
END $$;

SELECT protokoll_tag(d)
FROM (SELECT DISTINCT (written_at AT TIME ZONE 'Europe/Berlin')::date AS d FROM protokoll_alt) days;
INSERT INTO protokoll SELECT * FROM protokoll_alt;
DROP TABLE protokoll_alt;
