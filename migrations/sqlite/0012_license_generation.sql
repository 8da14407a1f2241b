-- A number that changes whenever a stored license changes (revoked, superseded): check-ins
-- cache license records and compare it once per batch. The row is updated in the changing
-- transaction, so whoever reads the new number also sees the change.
CREATE TABLE license_generation (
    id    INTEGER PRIMARY KEY CONSTRAINT license_generation_one_row CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO license_generation (id, value) VALUES (1, 0);

CREATE TRIGGER licenses_generation_update AFTER UPDATE ON licenses
BEGIN
    UPDATE license_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER licenses_generation_delete AFTER DELETE ON licenses
BEGIN
    UPDATE license_generation SET value = value + 1 WHERE id = 1;
END;
