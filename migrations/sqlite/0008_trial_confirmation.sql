-- A trial request proves nothing about its mailbox: the trial license is emailed at once, but
-- the once-per-email slot and the domain limit count only trials whose license has checked in
-- (`confirmed_at`), so requests for addresses nobody owns use up no one's quota. Trials
-- granted before this migration count as confirmed. Trial mail per address and per domain per
-- day is counted from `trials` (by email_key and by email_domain) to bound the mail it sends.

ALTER TABLE trials ADD COLUMN confirmed_at BIGINT;
UPDATE trials SET confirmed_at = requested_at WHERE outcome = 'granted';
CREATE INDEX trials_license ON trials (license_id);
CREATE INDEX trials_email_requested ON trials (email_key, requested_at);
