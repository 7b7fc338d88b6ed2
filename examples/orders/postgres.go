package orders

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/latch-auth/latch/postgres"
)

// PostgresStore reads the orders table of latch's PostgreSQL database
// (postgres.DB.Pool).
type PostgresStore struct{ Pool *pgxpool.Pool }

var _ Store = PostgresStore{}

// Orders implements Store.
func (s PostgresStore) Orders(ctx context.Context, userID int64) ([]Order, error) {
	var out []Order
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		// The advisory lock serialises concurrent first calls of one user,
		// so the demo orders are seeded once.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('latch.orders'), $1::int)`, int32(userID)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx,
			`INSERT INTO orders (user_id, product, created_at)
			 SELECT $1, p, now() FROM unnest($2::text[]) WITH ORDINALITY AS t(p, i)
			 WHERE NOT EXISTS (SELECT 1 FROM orders WHERE user_id = $1)
			 ORDER BY i`, userID, demoProducts()); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT id, user_id, product, created_at FROM orders WHERE user_id = $1 ORDER BY id`, userID)
		var err error
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Order, error) {
			var o Order
			err := row.Scan(&o.ID, &o.UserID, &o.Product, &o.CreatedAt)
			o.CreatedAt = o.CreatedAt.UTC()
			return o, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("orders: %w", postgres.Classify(err))
	}
	return out, nil
}
