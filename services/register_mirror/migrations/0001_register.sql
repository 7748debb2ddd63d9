-- The state's copy of the registers: one record per person per AGS (NMeldVO 2022 § 23 Abs. 2).
-- `datensatz` is the record as delivered; the other columns are its search forms (DIN 91379
-- normalised, Kölner Phonetik), derived by services.register_mirror.domain.suchspalten.
CREATE TABLE personen (
    gemeindeschluessel text NOT NULL,
    ordnungsmerkmal    text NOT NULL,
    familienname_n     text NOT NULL,
    familienname_p     text NOT NULL,
    fruehere_namen_n   text[] NOT NULL,
    fruehere_namen_p   text[] NOT NULL,
    vornamen_n         text[] NOT NULL,
    vornamen_p         text[] NOT NULL,
    ordensname_n       text,
    kuenstlername_n    text,
    geburtsdatum       text NOT NULL,
    geburtsort_n       text NOT NULL,
    geschlecht         text NOT NULL,
    staatsangehoerigkeiten text[] NOT NULL,
    familienstand      text,
    strassen_n         text[] NOT NULL,
    postleitzahlen     text[] NOT NULL,
    haupt_gemeinde     text,
    sterbedatum        text,
    sterbeort_n        text,
    waffen             boolean NOT NULL,
    sprengstoff        boolean NOT NULL,
    gesperrt           boolean NOT NULL,
    datensatz          jsonb NOT NULL,
    delivery_id        text,
    PRIMARY KEY (gemeindeschluessel, ordnungsmerkmal)
);
CREATE INDEX personen_familienname ON personen (gemeindeschluessel, familienname_n);
CREATE INDEX personen_phonetik ON personen (gemeindeschluessel, familienname_p);
CREATE INDEX personen_fruehere ON personen USING gin (fruehere_namen_n);
CREATE INDEX personen_fruehere_p ON personen USING gin (fruehere_namen_p);
CREATE INDEX personen_muster ON personen (familienname_n text_pattern_ops);
CREATE INDEX personen_geburtsdatum ON personen (geburtsdatum);

-- Identifikationsmerkmale handed out with hit and result lists (§ 39 Abs. 2 BMG): random,
-- usable for 48 hours by the body they were sent to (BMeldDAV § 9), never reused (the key).
CREATE TABLE identifikationsmerkmale (
    merkmal            text PRIMARY KEY,
    gemeindeschluessel text NOT NULL,
    ordnungsmerkmal    text NOT NULL,
    tenant_id          text NOT NULL,
    vorgangsnummer     text NOT NULL,
    issued_at          timestamptz NOT NULL,
    valid_until        timestamptz NOT NULL
);

-- The delivery log (NMeldVO 2022 § 23 Abs. 3): sending office, time, kind, number of records.
CREATE TABLE lieferungen (
    delivery_id        text NOT NULL,
    teil               integer NOT NULL,
    teile              integer NOT NULL,
    absender_ags       text NOT NULL,
    absender_name      text NOT NULL,
    art                text NOT NULL,
    anzahl_datensaetze integer NOT NULL,
    anzahl_entfernt    integer NOT NULL,
    status             text NOT NULL,
    grund              text,
    empfangen_am       timestamptz NOT NULL,
    PRIMARY KEY (delivery_id, teil)
);

-- Parts of a full delivery until the last one has come; then they replace the AGS's records.
CREATE TABLE vollbestand_teile (
    delivery_id        text NOT NULL,
    teil               integer NOT NULL,
    teile              integer NOT NULL,
    gemeindeschluessel text NOT NULL,
    datensaetze        jsonb NOT NULL,
    PRIMARY KEY (delivery_id, teil)
);
