package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latch-auth/latch"
)

var (
	_ latch.HandleStore = (*DB)(nil)
	_ latch.OrderStore  = (*DB)(nil)
)

// PutHandle implements latch.HandleStore.
func (db *DB) PutHandle(ctx context.Context, hash, sessionID string, claims []byte, expires time.Time) error {
	if _, err := db.write.ExecContext(ctx,
		`INSERT INTO opaque_tokens (hash, session_id, claims, expires_at) VALUES (?, ?, ?, ?)`,
		hash, sessionID, string(claims), expires.UnixMicro()); err != nil {
		return fmt.Errorf("put handle: %w", err)
	}
	return nil
}

// Handle implements latch.HandleStore.
func (db *DB) Handle(ctx context.Context, hash string, now time.Time) ([]byte, error) {
	var claims string
	err := db.read.QueryRowContext(ctx,
		`SELECT claims FROM opaque_tokens WHERE hash = ? AND expires_at > ?`, hash, now.UnixMicro()).Scan(&claims)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("handle: %w", latch.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("handle: %w", err)
	}
	return []byte(claims), nil
}

// DeleteSessionHandles implements latch.HandleStore.
func (db *DB) DeleteSessionHandles(ctx context.Context, sessionID string) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM opaque_tokens WHERE session_id = ?`, sessionID); err != nil {
		return fmt.Errorf("delete handles: %w", err)
	}
	return nil
}

// Orders implements latch.OrderStore.
func (db *DB) Orders(ctx context.Context, userID int64) ([]latch.Order, error) {
	out, err := db.orders(ctx, userID)
	if err != nil || len(out) > 0 {
		return out, err
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("seed orders: %w", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM orders WHERE user_id = ?`, userID).Scan(&n); err != nil {
		return nil, fmt.Errorf("seed orders: %w", err)
	}
	if n == 0 {
		now := time.Now().UnixMicro()
		for _, p := range latch.DemoProducts {
			if _, err := tx.ExecContext(ctx, `INSERT INTO orders (user_id, product, created_at) VALUES (?, ?, ?)`, userID, p, now); err != nil {
				return nil, fmt.Errorf("seed orders: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("seed orders: %w", err)
	}
	return db.orders(ctx, userID)
}

func (db *DB) orders(ctx context.Context, userID int64) ([]latch.Order, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, user_id, product, created_at FROM orders WHERE user_id = ? ORDER BY id`, userID)
	if err != nil {
		return nil, fmt.Errorf("orders: %w", err)
	}
	defer rows.Close()
	var out []latch.Order
	for rows.Next() {
		var o latch.Order
		var created int64
		if err := rows.Scan(&o.ID, &o.UserID, &o.Product, &created); err != nil {
			return nil, fmt.Errorf("orders: %w", err)
		}
		o.CreatedAt = fromMicro(created)
		out = append(out, o)
	}
	return out, rows.Err()
}
