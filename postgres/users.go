package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latch-auth/latch"
)

var _ latch.UserStore = (*DB)(nil)

const userColumns = `id, username, email, email_verified, password_hash, role, is_active, token_version, version_keep_session, version_keep_from, last_login, created_at`

func scanUser(row pgx.Row) (*latch.User, error) {
	var u latch.User
	var lastLogin *time.Time
	if err := row.Scan(&u.ID, &u.Username, &u.Email, &u.EmailVerified, &u.PasswordHash, &u.Role, &u.IsActive, &u.TokenVersion, &u.VersionKeepSession, &u.VersionKeepFrom, &lastLogin, &u.CreatedAt); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, latch.ErrNotFound
		}
		return nil, err
	}
	u.LastLogin = fromNull(lastLogin)
	u.CreatedAt = u.CreatedAt.UTC()
	return &u, nil
}

// CreateUser implements latch.UserStore.
func (db *DB) CreateUser(ctx context.Context, u *latch.User) error {
	created := u.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	var id int64
	err := db.pool.QueryRow(ctx,
		`INSERT INTO users (username, username_key, email, email_key, email_verified, password_hash, role, is_active, token_version, version_keep_session, version_keep_from, last_login, created_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id, created_at`,
		u.Username, usernameKey(u.Username), u.Email, latch.EmailKey(u.Email), u.EmailVerified, u.PasswordHash, u.Role, u.IsActive, u.TokenVersion, u.VersionKeepSession, u.VersionKeepFrom, nullTime(u.LastLogin), created,
	).Scan(&id, &created)
	if isUniqueViolation(err) {
		return fmt.Errorf("create user: %w", takenError(err))
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	u.ID, u.CreatedAt = id, created.UTC()
	return nil
}

// UserByID implements latch.UserStore.
func (db *DB) UserByID(ctx context.Context, id int64) (*latch.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// UserByUsername implements latch.UserStore.
func (db *DB) UserByUsername(ctx context.Context, username string) (*latch.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE username_key = $1`, usernameKey(username)))
	if err != nil {
		return nil, fmt.Errorf("user by name: %w", err)
	}
	return u, nil
}

// UserByEmail implements latch.UserStore.
func (db *DB) UserByEmail(ctx context.Context, email string) (*latch.User, error) {
	if email == "" {
		return nil, fmt.Errorf("user by email: %w", latch.ErrNotFound)
	}
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email_key = $1`, latch.EmailKey(email)))
	if err != nil {
		return nil, fmt.Errorf("user by email: %w", err)
	}
	return u, nil
}

// UpdateUser implements latch.UserStore.
func (db *DB) UpdateUser(ctx context.Context, id int64, p latch.UserPatch) (*latch.User, error) {
	var nameKey, emailKey *string
	if p.Username != nil {
		k := usernameKey(*p.Username)
		nameKey = &k
	}
	if p.Email != nil {
		k := latch.EmailKey(*p.Email)
		emailKey = &k
	}
	// SET expressions read the row as it was, so email_verified compares
	// the new key with the old one.
	u, err := scanUser(db.pool.QueryRow(ctx,
		`UPDATE users SET
		   username = coalesce($1::text, username),
		   username_key = coalesce($2::text, username_key),
		   email = coalesce($3::text, email),
		   email_verified = CASE WHEN $5::boolean IS NOT NULL THEN $5::boolean WHEN $4::text IS NOT NULL AND $4::text <> email_key THEN FALSE ELSE email_verified END,
		   email_key = coalesce($4::text, email_key),
		   role = coalesce($6::text, role)
		 WHERE id = $7 RETURNING `+userColumns,
		p.Username, nameKey, p.Email, emailKey, p.EmailVerified, p.Role, id))
	if isUniqueViolation(err) {
		return nil, fmt.Errorf("update user %d: %w", id, takenError(err))
	}
	if err != nil {
		return nil, fmt.Errorf("update user %d: %w", id, err)
	}
	return u, nil
}

// SetEmailVerified implements latch.UserStore.
func (db *DB) SetEmailVerified(ctx context.Context, id int64, verified bool) error {
	return db.updateUser(ctx, id, `UPDATE users SET email_verified = $1 WHERE id = $2`, verified)
}

// ListUsers implements latch.UserStore.
func (db *DB) ListUsers(ctx context.Context, q latch.UserQuery) ([]latch.User, int64, error) {
	search := strings.ToLower(q.Search)
	const match = `($1 = '' OR strpos(username_key, $1) > 0 OR strpos(email_key, $1) > 0)
		AND ($2::text = '' OR role = $2) AND ($3::boolean IS NULL OR is_active = $3)`
	var total int64
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE `+match, search, q.Role, q.Active).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	var limit *int64 // NULL: no limit
	if q.Limit > 0 {
		l := int64(q.Limit)
		limit = &l
	}
	rows, err := db.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE `+match+` ORDER BY id LIMIT $4 OFFSET $5`,
		search, q.Role, q.Active, limit, max(q.Offset, 0))
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	users := []latch.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list users: %w", err)
		}
		users = append(users, *u)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	return users, total, nil
}

// DeleteUser implements latch.UserStore. Sessions, refresh records and
// the user's orders go with the row (ON DELETE CASCADE); opaque handles
// are deleted with their sessions by the caller's revocation.
func (db *DB) DeleteUser(ctx context.Context, id int64) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete user %d: %w", id, latch.ErrNotFound)
	}
	return nil
}

// updateUser runs query, whose last parameter is the user's id.
func (db *DB) updateUser(ctx context.Context, id int64, query string, args ...any) error {
	tag, err := db.pool.Exec(ctx, query, append(args, id)...)
	if err != nil {
		return fmt.Errorf("update user %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("update user %d: %w", id, latch.ErrNotFound)
	}
	return nil
}

// SetPasswordHash implements latch.UserStore.
func (db *DB) SetPasswordHash(ctx context.Context, id int64, hash string) error {
	return db.updateUser(ctx, id, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash)
}

// SetLastLogin implements latch.UserStore.
func (db *DB) SetLastLogin(ctx context.Context, id int64, at time.Time) error {
	return db.updateUser(ctx, id, `UPDATE users SET last_login = $1 WHERE id = $2`, nullTime(at))
}

// SetActive implements latch.UserStore.
func (db *DB) SetActive(ctx context.Context, id int64, active bool) error {
	return db.updateUser(ctx, id, `UPDATE users SET is_active = $1 WHERE id = $2`, active)
}

// BumpTokenVersion implements latch.UserStore.
func (db *DB) BumpTokenVersion(ctx context.Context, id int64, keep string, now time.Time) (latch.TokenVersion, error) {
	var v latch.TokenVersion
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		v, err = db.bumpInTx(ctx, tx, id, keep, now)
		return err
	})
	if err != nil {
		return v, fmt.Errorf("bump token version of user %d: %w", id, err)
	}
	return v, nil
}

// bumpInTx bumps the token version of user id in tx and logs it.
func (db *DB) bumpInTx(ctx context.Context, tx pgx.Tx, id int64, keep string, now time.Time) (latch.TokenVersion, error) {
	v := latch.TokenVersion{UserID: id, KeepSession: keep}
	// SET expressions read the row as it was: a bump kept by the same
	// session as the last one keeps that session's floor.
	err := tx.QueryRow(ctx,
		`UPDATE users SET
		   version_keep_from = CASE WHEN $1 <> '' AND version_keep_session = $1 THEN version_keep_from ELSE token_version END,
		   token_version = token_version + 1,
		   version_keep_session = $1
		 WHERE id = $2 RETURNING token_version, version_keep_from`,
		keep, id).Scan(&v.Version, &v.KeepFrom)
	if errors.Is(err, pgx.ErrNoRows) {
		return v, latch.ErrNotFound
	}
	if err != nil {
		return v, err
	}
	return v, db.logRevocation(ctx, tx, latch.RevocationRecord{UserID: id, Version: v, At: now})
}

// ChangePassword implements latch.UserStore.
func (db *DB) ChangePassword(ctx context.Context, c latch.PasswordChange) (latch.TokenVersion, []latch.Session, error) {
	var v latch.TokenVersion
	var revoked []latch.Session
	// It locks many rows, so it may deadlock (and be retried).
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		// The version first: it finds a missing user before anything is
		// written, and every change locks the user's row before any of
		// their tokens' (in another order, a reset and a change of one
		// user would deadlock).
		if v, err = db.bumpInTx(ctx, tx, c.UserID, c.Keep, c.Now); err != nil {
			return err
		}
		if c.ResetToken != "" {
			tag, err := tx.Exec(ctx, `DELETE FROM account_tokens WHERE hash = $1 AND kind = $2 AND user_id = $3 AND expires_at > $4`,
				c.ResetToken, latch.AccountTokenPasswordReset, c.UserID, c.Now)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return fmt.Errorf("reset token: %w", latch.ErrNotFound)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, c.Hash, c.UserID); err != nil {
			return err
		}
		if revoked, err = db.revokeUserInTx(ctx, tx, c.UserID, c.Keep, latch.ReasonPasswordChange, c.Now); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM account_tokens WHERE user_id = $1 AND kind = $2`, c.UserID, latch.AccountTokenPasswordReset)
		return err
	})
	if err != nil {
		return latch.TokenVersion{}, nil, fmt.Errorf("change password of user %d: %w", c.UserID, err)
	}
	return v, revoked, nil
}
