-- A registration office's own log of the simple registry information it gives through the
-- portal (§ 49 Abs. 6 in connection with § 40 Abs. 1 BMG): who asked (the portal, its
-- Aktenzeichen being the Vorgangsnummer under which the portal's log names the requester), the
-- data given, the time, and the records marked retrievable. Written in the transaction that
-- sends the answer; kept by § 40 Abs. 5. The mirror's table stays empty: its retrievals are
-- logged by protocol_log.
CREATE TABLE auskunftsprotokoll (
    vorgangsnummer     text PRIMARY KEY,
    protokolliert_am   timestamptz NOT NULL,
    anfragende         jsonb NOT NULL,
    auskunftsart       text NOT NULL,
    ergebnisstatus     text,
    nichterstellung    text,
    daten              text[] NOT NULL,
    treffer            jsonb NOT NULL
);
CREATE INDEX auskunftsprotokoll_zeit ON auskunftsprotokoll (protokolliert_am);
