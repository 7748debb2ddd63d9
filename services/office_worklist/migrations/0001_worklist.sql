-- The registration offices' worklists: retrievals handed over for manual processing (§ 34a
-- Abs. 5 Satz 2 BMG), one case per Vorgang and record, as the newest state says.
CREATE TABLE fall (
    case_id            text PRIMARY KEY,
    gemeindeschluessel text NOT NULL,
    status             text NOT NULL CHECK (status IN ('open', 'released', 'answered', 'refused')),
    state              jsonb NOT NULL,
    opened_at          timestamptz NOT NULL,
    overdue_since      timestamptz
);
CREATE INDEX fall_offen ON fall (opened_at) WHERE status IN ('open', 'released');

-- the notices of requests on blocked persons (§ 51 Abs. 3, § 34 Abs. 5 BMG), each once
CREATE TABLE mitteilung (
    notice_id          text PRIMARY KEY,
    gemeindeschluessel text NOT NULL,
    notice             jsonb NOT NULL,
    letter             boolean NOT NULL,  -- false: no address known, the office must send it
    noticed_at         timestamptz NOT NULL
);

-- every clerk's command once
CREATE TABLE bearbeitung_command (
    command_id  text PRIMARY KEY,
    case_id     text NOT NULL,
    outcome     text NOT NULL,
    at          timestamptz NOT NULL
);
