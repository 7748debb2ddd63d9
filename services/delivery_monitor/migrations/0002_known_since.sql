-- An office is watched from its first logged delivery on, even when that one was refused: the day
-- then still waits for a delivery that counts.
ALTER TABLE office ADD COLUMN known_since timestamptz;
UPDATE office SET known_since = coalesce(last_delivery_at, now());
ALTER TABLE office ALTER COLUMN known_since SET NOT NULL;
DROP INDEX office_silent;
CREATE INDEX office_silent ON office (coalesce(last_delivery_at, known_since))
    WHERE missing_alerted_at IS NULL;
