-- The rules recommend and operators sign (§ 35a VwVfG): a recommended case waits for a signature,
-- a case signed once for the second under the four-eyes principle.
ALTER TABLE review_case DROP CONSTRAINT review_case_status_check;
ALTER TABLE review_case ADD CONSTRAINT review_case_status_check
    CHECK (status IN ('pending_manual', 'waiting_commission', 'recommended', 'countersign',
                      'approved', 'rejected'));
-- the rules' outcome while it waits for its signature (result, reasons, conditions, data scope)
ALTER TABLE review_case ADD COLUMN recommendation jsonb;
-- the signatures given so far: [{operator_id, decision, reason}]
ALTER TABLE review_case ADD COLUMN signatures jsonb NOT NULL DEFAULT '[]';
DROP INDEX review_case_open;
CREATE INDEX review_case_open ON review_case (pending_since)
    WHERE status NOT IN ('approved', 'rejected');
