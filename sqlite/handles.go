package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latch-auth/latch"
)

var _ latch.HandleStore = (*DB)(nil)

// PutHandle implements latch.HandleStore.
func (db *DB) PutHandle(ctx context.Context, hash, sessionID string, claims []byte, expires time.Time) error {
	if _, err := db.write.ExecContext(ctx,
		`INSERT INTO opaque_tokens (hash, session_id, claims, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`,
		hash, sessionID, string(claims), expires.UnixMicro()); err != nil {
		return fmt.Errorf("put handle: %w", classify(err))
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
		return nil, fmt.Errorf("handle: %w", classify(err))
	}
	return []byte(claims), nil
}

// DeleteSessionHandles implements latch.HandleStore.
func (db *DB) DeleteSessionHandles(ctx context.Context, sessionID string) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM opaque_tokens WHERE session_id = ?`, sessionID); err != nil {
		return fmt.Errorf("delete handles: %w", classify(err))
	}
	return nil
}
