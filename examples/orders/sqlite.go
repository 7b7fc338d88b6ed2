package orders

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// SQLiteStore reads the orders table of latch's SQLite database
// (sqlite.DB.SQL).
type SQLiteStore struct{ DB *sql.DB }

var _ Store = SQLiteStore{}

// Orders implements Store.
func (s SQLiteStore) Orders(ctx context.Context, userID int64) ([]Order, error) {
	// One IMMEDIATE transaction (latch's writer connection): concurrent
	// first calls cannot seed twice.
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("orders: %w", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM orders WHERE user_id = ?`, userID).Scan(&n); err != nil {
		return nil, fmt.Errorf("orders: %w", err)
	}
	if n == 0 {
		now := time.Now().UnixMicro()
		for _, p := range demoProducts() {
			if _, err := tx.ExecContext(ctx, `INSERT INTO orders (user_id, product, created_at) VALUES (?, ?, ?)`, userID, p, now); err != nil {
				return nil, fmt.Errorf("seed orders: %w", err)
			}
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, user_id, product, created_at FROM orders WHERE user_id = ? ORDER BY id`, userID)
	if err != nil {
		return nil, fmt.Errorf("orders: %w", err)
	}
	var out []Order
	for rows.Next() {
		var o Order
		var created int64
		if err := rows.Scan(&o.ID, &o.UserID, &o.Product, &created); err != nil {
			rows.Close()
			return nil, fmt.Errorf("orders: %w", err)
		}
		o.CreatedAt = time.UnixMicro(created).UTC()
		out = append(out, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("orders: %w", err)
	}
	return out, tx.Commit()
}
