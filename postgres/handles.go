package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latch-auth/latch"
)

var _ latch.HandleStore = (*DB)(nil)

// PutHandle implements latch.HandleStore.
func (db *DB) PutHandle(ctx context.Context, hash, sessionID string, claims []byte, expires time.Time) error {
	if _, err := db.pool.Exec(ctx,
		`INSERT INTO opaque_tokens (hash, session_id, claims, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING`,
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
