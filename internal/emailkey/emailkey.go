// Package emailkey is the part of migration 00004 (unique emails) that the
// SQLite and PostgreSQL stores share: reading every user's address inside
// the migration's transaction and refusing addresses held twice.
package emailkey

import (
	"context"
	"database/sql"

	"github.com/latch-auth/latch"
)

// Owners returns the users that have an email, in id order, or a
// *latch.DuplicateEmailsError naming every address several of them share
// under latch.EmailKey.
func Owners(ctx context.Context, tx *sql.Tx) ([]latch.EmailOwner, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, username, email FROM users WHERE email <> '' ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var owners []latch.EmailOwner
	for rows.Next() {
		var o latch.EmailOwner
		if err := rows.Scan(&o.UserID, &o.Username, &o.Email); err != nil {
			return nil, err
		}
		owners = append(owners, o)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := latch.FindDuplicateEmails(owners); err != nil {
		return nil, err
	}
	return owners, nil
}
