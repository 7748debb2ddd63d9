-- Another state's central body (NMeldVO 2022 § 26 Abs. 1): the state it retrieves for, so that
-- its tenant is "Land NN".
ALTER TABLE tenant ADD COLUMN land text CHECK (land ~ '^[0-9]{2}$');
