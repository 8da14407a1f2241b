-- Revocation sequence numbers in commit order: each revoking transaction takes the next number
-- from this one row, whose lock it holds until it commits, so a number is never published
-- before every smaller number is visible (a sequence or identity column hands out numbers at
-- insert time, and a later revocation could commit first).
CREATE TABLE revocation_counter (
    id    INTEGER PRIMARY KEY CONSTRAINT revocation_counter_one_row CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO revocation_counter (id, value) SELECT 1, COALESCE(MAX(sequence), 0) FROM revocations;
