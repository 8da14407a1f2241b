-- The revocation list names a revoked license only until its grace period has ended (a license
-- past its grace grants nothing, listed or not): this index finds the revoked licenses still
-- within (or near) their grace without reading every revocation ever made.
CREATE INDEX licenses_revoked_grace ON licenses (grace_ends_at) WHERE status = 'revoked';
