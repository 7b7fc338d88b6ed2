-- +goose Up
-- The same tables as sqlite/migrations/00005_mail.sql. Senders on several
-- instances claim outbox rows with FOR UPDATE SKIP LOCKED and a lease
-- (claimed_until), so that no two send one message.
CREATE TABLE mail_outbox (
    id            BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sender        TEXT        NOT NULL,
    recipient     TEXT        NOT NULL,
    body          BYTEA       NOT NULL,
    attempts      INTEGER     NOT NULL DEFAULT 0,
    next_attempt  TIMESTAMPTZ NOT NULL,
    claimed_until TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
    last_error    TEXT        NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt);

CREATE TABLE account_tokens (
    hash       TEXT        PRIMARY KEY,
    kind       TEXT        NOT NULL,
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT        NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX account_tokens_user ON account_tokens (user_id, kind);
CREATE INDEX account_tokens_expires_at ON account_tokens (expires_at);

-- +goose Down
DROP TABLE account_tokens;
DROP TABLE mail_outbox;
