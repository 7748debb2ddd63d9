-- A Vorgang keeps the query (criteria, Kennung) only while it waits for its register; once closed
-- only its keys remain, for recognising a query delivered again, until the sweep deletes them.
ALTER TABLE vorgaenge ALTER COLUMN query DROP NOT NULL;
UPDATE vorgaenge SET query = NULL, verfahren_verantwortlich = NULL WHERE status <> 'routed';
CREATE INDEX vorgaenge_geschlossen ON vorgaenge (completed_at) WHERE status <> 'routed';
