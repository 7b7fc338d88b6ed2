-- +goose Up
-- A rotation no longer writes sessions.last_used_at: a session was last
-- used when its newest refresh token was issued (or when a refresh without
-- rotation touched it), read through this index. It also serves every
-- lookup by session the old index did.
CREATE INDEX refresh_tokens_session_issued ON refresh_tokens (session_id, issued_at);
DROP INDEX refresh_tokens_session_id;

-- +goose Down
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
DROP INDEX refresh_tokens_session_issued;
