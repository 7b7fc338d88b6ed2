package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/internal/emailkey"
)

// accountsMigration is migration 00004 (accounts), the same change as
// sqlite's: unique emails under latch.EmailKey, and email_verified. It is
// Go rather than SQL so that both databases key emails exactly as Go does
// (lower() depends on the database's collation here) and so that users
// already sharing an address are named to the operator.
func accountsMigration() *goose.Migration {
	return goose.NewGoMigration(4,
		&goose.GoFunc{RunTx: migrateAccountsUp},
		&goose.GoFunc{RunTx: migrateAccountsDown})
}

func migrateAccountsUp(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx,
		`ALTER TABLE users ADD COLUMN email_key TEXT NOT NULL DEFAULT '', -- latch.EmailKey(email); '' when no email
		                   ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE`); err != nil {
		return err
	}
	owners, err := emailkey.Owners(ctx, tx)
	if err != nil {
		return err
	}
	ids, keys := make([]int64, len(owners)), make([]string, len(owners))
	for i, o := range owners {
		ids[i], keys[i] = o.UserID, latch.EmailKey(o.Email)
	}
	if _, err := tx.ExecContext(ctx,
		`UPDATE users SET email_key = k.key FROM unnest($1::bigint[], $2::text[]) AS k(id, key) WHERE users.id = k.id`,
		ids, keys); err != nil {
		return fmt.Errorf("set email keys: %w", err)
	}
	_, err = tx.ExecContext(ctx, `CREATE UNIQUE INDEX users_email_key ON users (email_key) WHERE email_key <> ''`)
	return err
}

func migrateAccountsDown(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `DROP INDEX users_email_key; ALTER TABLE users DROP COLUMN email_verified, DROP COLUMN email_key`)
	return err
}
