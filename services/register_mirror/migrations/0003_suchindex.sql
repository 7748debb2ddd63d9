-- A Personensuche names the surname and mostly the birth date. At ten million persons a birth
-- date alone matches about 280 records and a common surname in one municipality 150,000, so
-- either index alone makes each search read hundreds of records; with both columns in one
-- index it reads the few that match (bench/README.md). Searches by name alone use its prefix.
DROP INDEX personen_familienname;
DROP INDEX personen_phonetik;
CREATE INDEX personen_familienname ON personen (gemeindeschluessel, familienname_n, geburtsdatum);
CREATE INDEX personen_phonetik ON personen (gemeindeschluessel, familienname_p, geburtsdatum);
