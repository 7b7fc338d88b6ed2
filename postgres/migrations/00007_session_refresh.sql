-- +goose Up
-- A session keeps its current refresh token (the newest of its family) and
-- the one that token replaced, so that a rotation is one update of the
-- session's row: any other token of the family is spent, a reuse. Refresh
-- records stay for the first token of each session (found by its hash
-- alone: SimpleJWT's tokens name no session) and for the rows made before.
ALTER TABLE sessions
    ADD COLUMN refresh_hash        TEXT        NOT NULL DEFAULT '',
    ADD COLUMN refresh_jti         TEXT        NOT NULL DEFAULT '',
    ADD COLUMN refresh_issued_at   TIMESTAMPTZ NOT NULL DEFAULT 'epoch',
    ADD COLUMN refresh_expires_at  TIMESTAMPTZ NOT NULL DEFAULT 'epoch',
    ADD COLUMN replaced_hash       TEXT        NOT NULL DEFAULT '',
    ADD COLUMN replaced_issued_at  TIMESTAMPTZ NOT NULL DEFAULT 'epoch',
    ADD COLUMN replaced_expires_at TIMESTAMPTZ NOT NULL DEFAULT 'epoch',
    ADD COLUMN replaced_at         TIMESTAMPTZ;

UPDATE sessions s SET refresh_hash = r.hash, refresh_issued_at = r.issued_at, refresh_expires_at = r.expires_at
FROM (SELECT DISTINCT ON (session_id) session_id, hash, issued_at, expires_at FROM refresh_tokens
      WHERE spent_at IS NULL ORDER BY session_id, issued_at DESC) r
WHERE r.session_id = s.id;

UPDATE sessions s SET replaced_hash = r.hash, replaced_issued_at = r.issued_at, replaced_expires_at = r.expires_at,
    replaced_at = r.spent_at, refresh_jti = COALESCE(r.successor_jti, '')
FROM (SELECT DISTINCT ON (session_id) session_id, hash, issued_at, expires_at, spent_at, successor_jti FROM refresh_tokens
      WHERE spent_at IS NOT NULL ORDER BY session_id, spent_at DESC) r
WHERE r.session_id = s.id;

-- Sessions are updated at every refresh now: room in each page for the
-- new row version lets PostgreSQL update in place (HOT), no index touched.
ALTER TABLE sessions SET (fillfactor = 70);

-- +goose Down
ALTER TABLE sessions RESET (fillfactor);
ALTER TABLE sessions
    DROP COLUMN replaced_at,
    DROP COLUMN replaced_expires_at,
    DROP COLUMN replaced_issued_at,
    DROP COLUMN replaced_hash,
    DROP COLUMN refresh_expires_at,
    DROP COLUMN refresh_issued_at,
    DROP COLUMN refresh_jti,
    DROP COLUMN refresh_hash;
