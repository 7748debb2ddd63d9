-- Registrations of requesters (PortalV § 2 Nr. 1), as submitted and as decided.
CREATE TABLE registrierungen (
    registration_id text PRIMARY KEY,
    art             text NOT NULL,
    name            text NOT NULL,
    status          text NOT NULL,  -- unvollstaendig | in_pruefung | zugelassen | abgelehnt
    maengel         jsonb NOT NULL DEFAULT '[]',
    begruendung     text,
    kennung         text UNIQUE,
    registrierung   jsonb NOT NULL,  -- the registration as submitted
    version         integer NOT NULL,
    updated_at      timestamptz NOT NULL
);

-- The portal's own user management (PortalV § 1 Abs. 2): one account per approved requester.
CREATE TABLE konten (
    kennung              text PRIMARY KEY,
    registration_id      text NOT NULL UNIQUE REFERENCES registrierungen,
    password_hash        text NOT NULL,
    must_change_password boolean NOT NULL,
    password_expires_at  timestamptz,
    failed_logins        integer NOT NULL DEFAULT 0,
    antwortschluessel    text NOT NULL,  -- the requester's X25519 public key (hex)
    updated_at           timestamptz NOT NULL
);

-- Requests on their way: what the log will need, until the register has answered. The
-- identification of the person sought is dropped as soon as the answer goes to the log.
CREATE TABLE vorgaenge (
    vorgangsnummer text PRIMARY KEY,
    request_id     text NOT NULL UNIQUE,
    kennung        text NOT NULL,
    land           text,
    anfrage        jsonb,
    status         text NOT NULL,  -- forwarded | answered | refused | timed_out
    forwarded_at   timestamptz,
    deadline       timestamptz,
    closed_at      timestamptz
);
CREATE INDEX vorgaenge_offen ON vorgaenge (deadline) WHERE status = 'forwarded';

-- The private half of each request's answer key (PortalV § 4 Nr. 4): deleted when the
-- requester has fetched the answer, after which no copy of the answer can be opened.
CREATE TABLE anfrageschluessel (
    vorgangsnummer text PRIMARY KEY,
    private_key    bytea NOT NULL,
    created_at     timestamptz NOT NULL
);

-- Released answers waiting for their requester: the box, still sealed for the request's key.
CREATE TABLE postfach (
    vorgangsnummer     text PRIMARY KEY,
    request_id         text NOT NULL,
    kennung            text NOT NULL,
    gemeindeschluessel text NOT NULL,
    ausgang            text NOT NULL,
    ergebnisstatus     text,
    nichterstellung    jsonb,
    antwort            text,
    released_at        timestamptz NOT NULL
);
CREATE INDEX postfach_kennung ON postfach (kennung, released_at);

-- Fees per answer (§ 49 Abs. 3 Nr. 4 BMG): who owes whom how much; never the answer.
CREATE TABLE gebuehren (
    vorgangsnummer     text PRIMARY KEY,
    kennung            text NOT NULL,
    gemeindeschluessel text NOT NULL,
    ergebnisstatus     text NOT NULL,
    tarif              text,
    betrag_cent        integer NOT NULL,
    gebucht_am         timestamptz NOT NULL
);
CREATE INDEX gebuehren_monat ON gebuehren (gebucht_am);

-- Months whose final statements were published.
CREATE TABLE abgerechnete_monate (
    monat      text PRIMARY KEY,
    statements integer NOT NULL,
    created_at timestamptz NOT NULL
);
