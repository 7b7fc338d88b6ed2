-- +goose Up
-- The same table and column as sqlite/migrations/00003_revocation_log.sql.
-- Writers take one transaction-scoped advisory lock before appending, so
-- that seq order is commit order and a reader following seq as a cursor
-- never passes over a record that commits later with a lower seq.
CREATE TABLE revocations (
    seq          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id   TEXT        NOT NULL DEFAULT '', -- a revoked session, or
    user_id      BIGINT      NOT NULL,
    version      BIGINT      NOT NULL DEFAULT 0,  -- the user's new token version
    keep_session TEXT        NOT NULL DEFAULT '',
    keep_from    BIGINT      NOT NULL DEFAULT 0,
    revoked_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX revocations_revoked_at ON revocations (revoked_at);

ALTER TABLE users ADD COLUMN version_keep_from BIGINT NOT NULL DEFAULT 0;
UPDATE users SET version_keep_from = GREATEST(token_version - 1, 0) WHERE version_keep_session <> '';

INSERT INTO revocations (session_id, user_id, revoked_at)
    SELECT id, user_id, revoked_at FROM sessions WHERE revoked_at IS NOT NULL ORDER BY revoked_at;
INSERT INTO revocations (user_id, version, keep_session, keep_from, revoked_at)
    SELECT id, token_version, version_keep_session, version_keep_from, now()
    FROM users WHERE token_version > 0;

-- +goose Down
ALTER TABLE users DROP COLUMN version_keep_from;
DROP TABLE revocations;
