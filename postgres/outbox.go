package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latch-auth/latch"
)

var (
	_ latch.MailOutbox        = (*DB)(nil)
	_ latch.AccountTokenStore = (*DB)(nil)
)

// EnqueueMail implements latch.MailOutbox.
func (db *DB) EnqueueMail(ctx context.Context, m *latch.MailMessage) error {
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now()
	}
	m.CreatedAt = m.CreatedAt.Truncate(time.Microsecond).UTC()
	if err := db.pool.QueryRow(ctx,
		`INSERT INTO mail_outbox (sender, recipient, body, next_attempt, created_at) VALUES ($1, $2, $3, $4, $4) RETURNING id`,
		m.From, m.To, m.Body, m.CreatedAt).Scan(&m.ID); err != nil {
		return fmt.Errorf("enqueue mail: %w", err)
	}
	return nil
}

// ClaimMail implements latch.MailOutbox. SKIP LOCKED lets instances claim
// side by side: each takes rows no other transaction is claiming, and the
// lease keeps them from the others once committed.
func (db *DB) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]latch.MailMessage, error) {
	rows, err := db.pool.Query(ctx,
		`UPDATE mail_outbox SET claimed_until = $1, attempts = attempts + 1
		 WHERE id IN (SELECT id FROM mail_outbox WHERE next_attempt <= $2 AND claimed_until <= $2
		              ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
		 RETURNING id, sender, recipient, body, attempts, created_at`,
		now.Add(lease), now, limit)
	if err != nil {
		return nil, fmt.Errorf("claim mail: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (latch.MailMessage, error) {
		var m latch.MailMessage
		err := row.Scan(&m.ID, &m.From, &m.To, &m.Body, &m.Attempts, &m.CreatedAt)
		m.CreatedAt = m.CreatedAt.UTC()
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim mail: %w", classify(err))
	}
	// RETURNING gives no order.
	slices.SortFunc(out, func(a, b latch.MailMessage) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// DeleteMail implements latch.MailOutbox.
func (db *DB) DeleteMail(ctx context.Context, id int64) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM mail_outbox WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete mail: %w", err)
	}
	return nil
}

// RetryMail implements latch.MailOutbox.
func (db *DB) RetryMail(ctx context.Context, id int64, at time.Time, lastErr string) error {
	if _, err := db.pool.Exec(ctx,
		`UPDATE mail_outbox SET next_attempt = $1, claimed_until = '-infinity', last_error = $2 WHERE id = $3`,
		at, strings.ReplaceAll(strings.ToValidUTF8(lastErr, "?"), "\x00", ""), id); err != nil {
		return fmt.Errorf("retry mail: %w", err)
	}
	return nil
}

// PruneMail implements latch.MailOutbox.
func (db *DB) PruneMail(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM mail_outbox WHERE created_at < $1`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("prune mail: %w", err)
	}
	return tag.RowsAffected(), nil
}

// PutAccountToken implements latch.AccountTokenStore.
func (db *DB) PutAccountToken(ctx context.Context, t *latch.AccountToken) error {
	if _, err := db.pool.Exec(ctx,
		`INSERT INTO account_tokens (hash, kind, user_id, email, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.Hash, t.Kind, t.UserID, t.Email, t.CreatedAt, t.ExpiresAt); err != nil {
		return fmt.Errorf("put account token: %w", err)
	}
	return nil
}

const accountTokenColumns = `hash, kind, user_id, email, created_at, expires_at`

func scanAccountToken(row pgx.Row) (*latch.AccountToken, error) {
	var t latch.AccountToken
	if err := row.Scan(&t.Hash, &t.Kind, &t.UserID, &t.Email, &t.CreatedAt, &t.ExpiresAt); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, latch.ErrNotFound
		}
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	return &t, nil
}

// AccountToken implements latch.AccountTokenStore.
func (db *DB) AccountToken(ctx context.Context, kind, hash string, now time.Time) (*latch.AccountToken, error) {
	t, err := scanAccountToken(db.pool.QueryRow(ctx,
		`SELECT `+accountTokenColumns+` FROM account_tokens WHERE hash = $1 AND kind = $2 AND expires_at > $3`, hash, kind, now))
	if err != nil {
		return nil, fmt.Errorf("account token: %w", err)
	}
	return t, nil
}

// TakeAccountToken implements latch.AccountTokenStore.
func (db *DB) TakeAccountToken(ctx context.Context, kind, hash string, now time.Time) (*latch.AccountToken, error) {
	t, err := scanAccountToken(db.pool.QueryRow(ctx,
		`DELETE FROM account_tokens WHERE hash = $1 AND kind = $2 AND expires_at > $3 RETURNING `+accountTokenColumns, hash, kind, now))
	if err != nil {
		return nil, fmt.Errorf("take account token: %w", err)
	}
	return t, nil
}

// DeleteAccountTokens implements latch.AccountTokenStore.
func (db *DB) DeleteAccountTokens(ctx context.Context, userID int64, kind, except string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM account_tokens WHERE user_id = $1 AND kind = $2 AND hash <> $3`, userID, kind, except); err != nil {
		return fmt.Errorf("delete account tokens: %w", err)
	}
	return nil
}

// PurgeAccountTokens implements latch.AccountTokenStore.
func (db *DB) PurgeAccountTokens(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM account_tokens WHERE expires_at < $1`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("purge account tokens: %w", err)
	}
	return tag.RowsAffected(), nil
}
