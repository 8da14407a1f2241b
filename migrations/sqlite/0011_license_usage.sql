-- Seat usage per license and day, maintained as check-ins arrive, so that the usage report
-- (true-up) reads at most one row per day and one per deployment-day of its range, never the
-- check-in history. Days are whole UTC days since 1970-01-01.

-- Each deployment's peak active users for a license on a day.
CREATE TABLE license_usage_deployments (
    license_id    TEXT NOT NULL CONSTRAINT license_usage_deployments_license_fkey REFERENCES licenses (id),
    day           BIGINT NOT NULL,
    deployment_id TEXT NOT NULL,
    peak_users    BIGINT NOT NULL,
    PRIMARY KEY (license_id, day, deployment_id)
);

-- The sum of those peaks per license and day, and how many deployments reported it: updated
-- by the difference a check-in makes, under this row's lock.
CREATE TABLE license_usage_days (
    license_id  TEXT NOT NULL CONSTRAINT license_usage_days_license_fkey REFERENCES licenses (id),
    day         BIGINT NOT NULL,
    users       BIGINT NOT NULL,
    deployments BIGINT NOT NULL,
    PRIMARY KEY (license_id, day)
);

-- Following a reissue chain forward: the license that supersedes a given one.
CREATE INDEX licenses_supersedes ON licenses (supersedes);

-- Each deployment's usage of a license over all its days: the first and last day it reported
-- it, on how many days, and its highest daily peak. A report whose range covers every one of
-- these reads them (one row per deployment) instead of the deployment-days of its range.
CREATE TABLE license_usage_totals (
    license_id    TEXT NOT NULL CONSTRAINT license_usage_totals_license_fkey REFERENCES licenses (id),
    deployment_id TEXT NOT NULL,
    first_day     BIGINT NOT NULL,
    last_day      BIGINT NOT NULL,
    days          BIGINT NOT NULL,
    peak_users    BIGINT NOT NULL,
    PRIMARY KEY (license_id, deployment_id)
);
