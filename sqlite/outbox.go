package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

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
	m.CreatedAt = stored(m.CreatedAt)
	res, err := db.write.ExecContext(ctx,
		`INSERT INTO mail_outbox (sender, recipient, body, next_attempt, created_at) VALUES (?, ?, ?, ?, ?)`,
		m.From, m.To, m.Body, m.CreatedAt.UnixMicro(), m.CreatedAt.UnixMicro())
	if err != nil {
		return fmt.Errorf("enqueue mail: %w", classify(err))
	}
	m.ID, err = res.LastInsertId()
	return err
}

// ClaimMail implements latch.MailOutbox. SQLite has one writer, so the
// UPDATE … RETURNING is the claim.
func (db *DB) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]latch.MailMessage, error) {
	rows, err := db.write.QueryContext(ctx,
		`UPDATE mail_outbox SET claimed_until = ?, attempts = attempts + 1
		 WHERE id IN (SELECT id FROM mail_outbox WHERE next_attempt <= ? AND claimed_until <= ? ORDER BY id LIMIT ?)
		 RETURNING id, sender, recipient, body, attempts, created_at`,
		now.Add(lease).UnixMicro(), now.UnixMicro(), now.UnixMicro(), limit)
	if err != nil {
		return nil, fmt.Errorf("claim mail: %w", classify(err))
	}
	defer rows.Close()
	var out []latch.MailMessage
	for rows.Next() {
		var m latch.MailMessage
		var created int64
		if err := rows.Scan(&m.ID, &m.From, &m.To, &m.Body, &m.Attempts, &created); err != nil {
			return nil, fmt.Errorf("claim mail: %w", classify(err))
		}
		m.CreatedAt = fromMicro(created)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim mail: %w", classify(err))
	}
	// RETURNING gives no order.
	slices.SortFunc(out, func(a, b latch.MailMessage) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// DeleteMail implements latch.MailOutbox.
func (db *DB) DeleteMail(ctx context.Context, id int64) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM mail_outbox WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete mail: %w", classify(err))
	}
	return nil
}

// RetryMail implements latch.MailOutbox.
func (db *DB) RetryMail(ctx context.Context, id int64, at time.Time, lastErr string) error {
	if _, err := db.write.ExecContext(ctx,
		`UPDATE mail_outbox SET next_attempt = ?, claimed_until = 0, last_error = ? WHERE id = ?`,
		at.UnixMicro(), strings.ToValidUTF8(lastErr, "?"), id); err != nil {
		return fmt.Errorf("retry mail: %w", classify(err))
	}
	return nil
}

// PruneMail implements latch.MailOutbox.
func (db *DB) PruneMail(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM mail_outbox WHERE created_at < ?`, cutoff.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("prune mail: %w", classify(err))
	}
	return res.RowsAffected()
}

// PutAccountToken implements latch.AccountTokenStore.
func (db *DB) PutAccountToken(ctx context.Context, t *latch.AccountToken) error {
	if _, err := db.write.ExecContext(ctx,
		`INSERT INTO account_tokens (hash, kind, user_id, email, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		t.Hash, t.Kind, t.UserID, t.Email, t.CreatedAt.UnixMicro(), t.ExpiresAt.UnixMicro()); err != nil {
		return fmt.Errorf("put account token: %w", classify(err))
	}
	return nil
}

const accountTokenColumns = `hash, kind, user_id, email, created_at, expires_at`

func scanAccountToken(row interface{ Scan(...any) error }) (*latch.AccountToken, error) {
	var t latch.AccountToken
	var created, expires int64
	if err := row.Scan(&t.Hash, &t.Kind, &t.UserID, &t.Email, &created, &expires); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, latch.ErrNotFound
		}
		return nil, classify(err)
	}
	t.CreatedAt, t.ExpiresAt = fromMicro(created), fromMicro(expires)
	return &t, nil
}

// AccountToken implements latch.AccountTokenStore.
func (db *DB) AccountToken(ctx context.Context, kind, hash string, now time.Time) (*latch.AccountToken, error) {
	t, err := scanAccountToken(db.read.QueryRowContext(ctx,
		`SELECT `+accountTokenColumns+` FROM account_tokens WHERE hash = ? AND kind = ? AND expires_at > ?`, hash, kind, now.UnixMicro()))
	if err != nil {
		return nil, fmt.Errorf("account token: %w", err)
	}
	return t, nil
}

// TakeAccountToken implements latch.AccountTokenStore.
func (db *DB) TakeAccountToken(ctx context.Context, kind, hash string, now time.Time) (*latch.AccountToken, error) {
	t, err := scanAccountToken(db.write.QueryRowContext(ctx,
		`DELETE FROM account_tokens WHERE hash = ? AND kind = ? AND expires_at > ? RETURNING `+accountTokenColumns, hash, kind, now.UnixMicro()))
	if err != nil {
		return nil, fmt.Errorf("take account token: %w", err)
	}
	return t, nil
}

// DeleteAccountTokens implements latch.AccountTokenStore.
func (db *DB) DeleteAccountTokens(ctx context.Context, userID int64, kind, except string) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM account_tokens WHERE user_id = ? AND kind = ? AND hash <> ?`, userID, kind, except); err != nil {
		return fmt.Errorf("delete account tokens: %w", classify(err))
	}
	return nil
}

// PurgeAccountTokens implements latch.AccountTokenStore.
func (db *DB) PurgeAccountTokens(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM account_tokens WHERE expires_at < ?`, cutoff.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("purge account tokens: %w", classify(err))
	}
	return res.RowsAffected()
}
