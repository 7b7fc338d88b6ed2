-- +goose Up
-- Seed 000's example resource.
CREATE TABLE orders (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    product    TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX orders_user_id ON orders (user_id);

-- Opaque token handles (LATCH_TOKEN_FORMAT=opaque), known by their SHA-256.
CREATE TABLE opaque_tokens (
    hash       TEXT    PRIMARY KEY,
    session_id TEXT    NOT NULL,
    claims     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX opaque_tokens_session_id ON opaque_tokens (session_id);
CREATE INDEX opaque_tokens_expires_at ON opaque_tokens (expires_at);

-- +goose Down
DROP TABLE opaque_tokens;
DROP TABLE orders;
