-- +goose Up
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL,
    username_key  TEXT    NOT NULL UNIQUE, -- lower-cased username: case-insensitive uniqueness
    email         TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL DEFAULT 'user',
    is_active     INTEGER NOT NULL DEFAULT 1,
    token_version INTEGER NOT NULL DEFAULT 0,
    version_keep_session TEXT NOT NULL DEFAULT '',
    last_login    INTEGER,                 -- unix microseconds
    created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    id            TEXT    PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    user_agent    TEXT    NOT NULL DEFAULT '',
    ip            TEXT    NOT NULL DEFAULT '',
    revoked_at    INTEGER,
    revoke_reason TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Refresh tokens are known only by the SHA-256 of their jti.
CREATE TABLE refresh_tokens (
    hash                 TEXT    PRIMARY KEY,
    session_id           TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at            INTEGER NOT NULL,
    expires_at           INTEGER NOT NULL,
    spent_at             INTEGER,
    successor_jti        TEXT,
    successor_issued_at  INTEGER,
    successor_expires_at INTEGER
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

-- +goose Down
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
