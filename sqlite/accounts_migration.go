package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/internal/emailkey"
)

// accountsMigration is migration 00004 (accounts): unique emails under
// latch.EmailKey, and email_verified. It is written in Go rather than SQL
// because the key is Go's Unicode lower-casing (SQLite's lower() folds
// ASCII only), and because users already sharing an address must be named
// to the operator, not met with a bare constraint error or merged.
func accountsMigration() *goose.Migration {
	return goose.NewGoMigration(4,
		&goose.GoFunc{RunTx: migrateAccountsUp},
		&goose.GoFunc{RunTx: migrateAccountsDown})
}

func migrateAccountsUp(ctx context.Context, tx *sql.Tx) error {
	for _, stmt := range []string{
		`ALTER TABLE users ADD COLUMN email_key TEXT NOT NULL DEFAULT ''`, // latch.EmailKey(email); '' when no email
		`ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0`,
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	owners, err := emailkey.Owners(ctx, tx)
	if err != nil {
		return err
	}
	for _, o := range owners {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET email_key = ? WHERE id = ?`, latch.EmailKey(o.Email), o.UserID); err != nil {
			return fmt.Errorf("user %d: %w", o.UserID, err)
		}
	}
	_, err = tx.ExecContext(ctx, `CREATE UNIQUE INDEX users_email_key ON users (email_key) WHERE email_key <> ''`)
	return err
}

func migrateAccountsDown(ctx context.Context, tx *sql.Tx) error {
	for _, stmt := range []string{
		`DROP INDEX users_email_key`,
		`ALTER TABLE users DROP COLUMN email_verified`,
		`ALTER TABLE users DROP COLUMN email_key`,
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}
