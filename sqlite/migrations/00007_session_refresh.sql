-- +goose Up
-- A session keeps its current refresh token (the newest of its family) and
-- the one that token replaced, so that a rotation is one update of the
-- session's row: any other token of the family is spent, a reuse. Refresh
-- records stay for the first token of each session (found by its hash
-- alone: SimpleJWT's tokens name no session) and for the rows made before.
ALTER TABLE sessions ADD COLUMN refresh_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN refresh_jti TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN refresh_issued_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN refresh_expires_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN replaced_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN replaced_issued_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN replaced_expires_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN replaced_at INTEGER;

UPDATE sessions SET (refresh_hash, refresh_issued_at, refresh_expires_at) = (
    SELECT r.hash, r.issued_at, r.expires_at FROM refresh_tokens r
    WHERE r.session_id = sessions.id AND r.spent_at IS NULL ORDER BY r.issued_at DESC LIMIT 1)
WHERE EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.session_id = sessions.id AND r.spent_at IS NULL);

UPDATE sessions SET (replaced_hash, replaced_issued_at, replaced_expires_at, replaced_at, refresh_jti) = (
    SELECT r.hash, r.issued_at, r.expires_at, r.spent_at, COALESCE(r.successor_jti, '') FROM refresh_tokens r
    WHERE r.session_id = sessions.id AND r.spent_at IS NOT NULL ORDER BY r.spent_at DESC LIMIT 1)
WHERE EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.session_id = sessions.id AND r.spent_at IS NOT NULL);

-- +goose Down
ALTER TABLE sessions DROP COLUMN replaced_at;
ALTER TABLE sessions DROP COLUMN replaced_expires_at;
ALTER TABLE sessions DROP COLUMN replaced_issued_at;
ALTER TABLE sessions DROP COLUMN replaced_hash;
ALTER TABLE sessions DROP COLUMN refresh_expires_at;
ALTER TABLE sessions DROP COLUMN refresh_issued_at;
ALTER TABLE sessions DROP COLUMN refresh_jti;
ALTER TABLE sessions DROP COLUMN refresh_hash;
