-- The body's kind (is it a § 34 Abs. 4 Satz 1 BMG authority?), the § 34a Abs. 6 authorisation of
-- a user, and the machine procedures a tenant registered (NMeldVO 2022 § 26 Abs. 2).
ALTER TABLE tenant ADD COLUMN authority_kind text;
ALTER TABLE account ADD COLUMN sperrdaten_berechtigt boolean NOT NULL DEFAULT false;

CREATE TABLE abrufverfahren (
    tenant_id               uuid NOT NULL REFERENCES tenant (tenant_id),
    name                    text NOT NULL,
    verantwortliche_person  text NOT NULL,
    certificate_fingerprint text NOT NULL,
    status                  text NOT NULL CHECK (status IN ('active', 'locked')),
    registered_at           timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
