package sqlite

import "context"

// ExecForTest runs q on the writer connection: tests of failures the
// database makes (a trigger that refuses a write) set them up with it.
func (db *DB) ExecForTest(ctx context.Context, q string) error {
	_, err := db.write.ExecContext(ctx, q)
	return err
}
