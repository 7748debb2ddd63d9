-- What delivery_monitor knows of each registration office's deliveries (NMeldVO 2022 § 23).
CREATE TABLE office (
    gemeindeschluessel  text PRIMARY KEY,
    name                text NOT NULL,
    land                text NOT NULL,
    last_delivery_at    timestamptz,
    persons             integer,
    full_so_far         integer NOT NULL DEFAULT 0,
    missing_alerted_at  timestamptz
);
CREATE INDEX office_silent ON office (last_delivery_at) WHERE missing_alerted_at IS NULL;
