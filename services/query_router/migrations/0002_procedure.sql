-- The person responsible for a machine procedure, for the § 40 log of its queries.
ALTER TABLE vorgaenge ADD COLUMN verfahren_verantwortlich text;
