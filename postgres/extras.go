package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latch-auth/latch"
)

var (
	_ latch.HandleStore = (*DB)(nil)
	_ latch.OrderStore  = (*DB)(nil)
)

// PutHandle implements latch.HandleStore.
func (db *DB) PutHandle(ctx context.Context, hash, sessionID string, claims []byte, expires time.Time) error {
	if _, err := db.pool.Exec(ctx,
		`INSERT INTO opaque_tokens (hash, session_id, claims, expires_at) VALUES ($1, $2, $3, $4)`,
		hash, sessionID, string(claims), expires); err != nil {
		return fmt.Errorf("put handle: %w", err)
	}
	return nil
}

// Handle implements latch.HandleStore.
func (db *DB) Handle(ctx context.Context, hash string, now time.Time) ([]byte, error) {
	var claims string
	err := db.pool.QueryRow(ctx, `SELECT claims FROM opaque_tokens WHERE hash = $1 AND expires_at > $2`, hash, now).Scan(&claims)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("handle: %w", latch.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("handle: %w", err)
	}
	return []byte(claims), nil
}

// DeleteSessionHandles implements latch.HandleStore.
func (db *DB) DeleteSessionHandles(ctx context.Context, sessionID string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM opaque_tokens WHERE session_id = $1`, sessionID); err != nil {
		return fmt.Errorf("delete handles: %w", err)
	}
	return nil
}

// Orders implements latch.OrderStore.
func (db *DB) Orders(ctx context.Context, userID int64) ([]latch.Order, error) {
	// One statement seeds a user who has no orders, atomically: concurrent
	// first calls cannot seed twice (the advisory lock serialises them).
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('latch.orders'), $1::int)`, int32(userID)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx,
			`INSERT INTO orders (user_id, product, created_at)
			 SELECT $1, p, now() FROM unnest($2::text[]) WITH ORDINALITY AS t(p, i)
			 WHERE NOT EXISTS (SELECT 1 FROM orders WHERE user_id = $1)
			 ORDER BY i`, userID, latch.DemoProducts)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("seed orders: %w", err)
	}
	rows, err := db.pool.Query(ctx, `SELECT id, user_id, product, created_at FROM orders WHERE user_id = $1 ORDER BY id`, userID)
	if err != nil {
		return nil, fmt.Errorf("orders: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (latch.Order, error) {
		var o latch.Order
		err := row.Scan(&o.ID, &o.UserID, &o.Product, &o.CreatedAt)
		o.CreatedAt = o.CreatedAt.UTC()
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("orders: %w", err)
	}
	return out, nil
}
