-- +goose Up
-- The revocation log: every session revocation and token-version bump,
-- appended in the same transaction as the change. Instances catch up by
-- seq (assigned here, in commit order: SQLite has one writer), never by a
-- wall clock. Records are pruned once every token they cover has expired.
CREATE TABLE revocations (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id   TEXT    NOT NULL DEFAULT '', -- a revoked session, or
    user_id      INTEGER NOT NULL,
    version      INTEGER NOT NULL DEFAULT 0,  -- the user's new token version
    keep_session TEXT    NOT NULL DEFAULT '',
    keep_from    INTEGER NOT NULL DEFAULT 0,
    revoked_at   INTEGER NOT NULL              -- unix microseconds
);
CREATE INDEX revocations_revoked_at ON revocations (revoked_at);

-- The lowest version the kept session's tokens may carry, so that it
-- survives any number of password changes it makes.
ALTER TABLE users ADD COLUMN version_keep_from INTEGER NOT NULL DEFAULT 0;
UPDATE users SET version_keep_from = MAX(token_version - 1, 0) WHERE version_keep_session <> '';

-- What was revoked before the log existed.
INSERT INTO revocations (session_id, user_id, revoked_at)
    SELECT id, user_id, revoked_at FROM sessions WHERE revoked_at IS NOT NULL ORDER BY revoked_at;
INSERT INTO revocations (user_id, version, keep_session, keep_from, revoked_at)
    SELECT id, token_version, version_keep_session, version_keep_from, CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)
    FROM users WHERE token_version > 0;

-- +goose Down
ALTER TABLE users DROP COLUMN version_keep_from;
DROP TABLE revocations;
