-- +goose Up
-- The mail outbox: rendered messages waiting for the SMTP server. A sender
-- claims a row until claimed_until (a lease), and deletes it once the
-- server has accepted it: the body may hold a reset link, so it is kept
-- no longer than it takes to send. Times are unix microseconds.
CREATE TABLE mail_outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    sender        TEXT    NOT NULL,
    recipient     TEXT    NOT NULL,
    body          BLOB    NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt  INTEGER NOT NULL,
    claimed_until INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt);

-- Password reset tokens and email verification keys: single-use, stored
-- only as their SHA-256.
CREATE TABLE account_tokens (
    hash       TEXT    PRIMARY KEY,
    kind       TEXT    NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX account_tokens_user ON account_tokens (user_id, kind);
CREATE INDEX account_tokens_expires_at ON account_tokens (expires_at);

-- +goose Down
DROP TABLE account_tokens;
DROP TABLE mail_outbox;
