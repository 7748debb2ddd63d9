-- The partition of one Berlin day, created if missing; its name. Entries of that day written
-- before it existed (in protokoll_rest) move into it, so that the day can be dropped whole.
CREATE OR REPLACE FUNCTION protokoll_tag(d date) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    name text := 'protokoll_' || to_char(d, 'YYYYMMDD');
    von timestamptz := d::timestamp AT TIME ZONE 'Europe/Berlin';
    bis timestamptz := (d + 1)::timestamp AT TIME ZONE 'Europe/Berlin';
BEGIN
    IF to_regclass(name) IS NOT NULL THEN
        RETURN name;
    END IF;
    LOCK TABLE protokoll_rest IN EXCLUSIVE MODE;  -- writers wait while the day moves
    IF to_regclass(name) IS NOT NULL THEN
        RETURN name;  -- another instance created it meanwhile
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE protokoll INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                   name);
    EXECUTE format(
        'WITH moved AS (DELETE FROM protokoll_rest WHERE written_at >= %L AND written_at < %L '
        'RETURNING *) INSERT INTO %I SELECT * FROM moved', von, bis, name);
    EXECUTE format('ALTER TABLE protokoll ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   name, von, bis);
    RETURN name;
END $$;
