-- The account's email folded to lowercase by the server (Rust folds every letter; SQLite's
-- lower() folds only ASCII), so that matching an account by its address works alike on both
-- backends. Rows written before this migration are folded by the database as well as it can.
ALTER TABLE accounts ADD COLUMN email_lower TEXT;
UPDATE accounts SET email_lower = lower(email);
CREATE INDEX accounts_email_lower ON accounts (email_lower);
