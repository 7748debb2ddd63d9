-- Legal review's decision closes an accepted application (and frees the role for a new one).
ALTER TABLE application DROP CONSTRAINT application_status_check;
ALTER TABLE application ADD CONSTRAINT application_status_check
    CHECK (status IN ('accepted', 'incomplete', 'refused', 'approved', 'rejected'));
