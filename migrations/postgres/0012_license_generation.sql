-- A number that changes whenever a stored license changes (revoked, superseded): check-ins
-- cache license records and compare it once per batch, so a change made by any replica is
-- seen by the next check-in on every replica. The row is updated in the changing
-- transaction, so whoever reads the new number also sees the change. Licenses are only ever
-- inserted (new ids, never cached before they exist) or updated; both updates are rare.
CREATE TABLE license_generation (
    id    INTEGER PRIMARY KEY CONSTRAINT license_generation_one_row CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO license_generation (id, value) VALUES (1, 0);

CREATE FUNCTION license_generation_bump() RETURNS trigger AS $$
BEGIN
    UPDATE license_generation SET value = value + 1 WHERE id = 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER licenses_generation AFTER UPDATE OR DELETE ON licenses
    FOR EACH STATEMENT EXECUTE FUNCTION license_generation_bump();
