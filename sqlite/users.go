package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/latch-auth/latch"
)

var _ latch.UserStore = (*DB)(nil)

const userColumns = `id, username, email, email_verified, password_hash, role, is_active, token_version, version_keep_session, version_keep_from, last_login, created_at`

func scanUser(row interface{ Scan(...any) error }) (*latch.User, error) {
	var u latch.User
	var lastLogin sql.NullInt64
	var created int64
	if err := row.Scan(&u.ID, &u.Username, &u.Email, &u.EmailVerified, &u.PasswordHash, &u.Role, &u.IsActive, &u.TokenVersion, &u.VersionKeepSession, &u.VersionKeepFrom, &lastLogin, &created); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, latch.ErrNotFound
		}
		return nil, err
	}
	u.LastLogin = fromDB(lastLogin)
	u.CreatedAt = fromMicro(created)
	return &u, nil
}

// CreateUser implements latch.UserStore.
func (db *DB) CreateUser(ctx context.Context, u *latch.User) error {
	if u.CreatedAt.IsZero() {
		u.CreatedAt = time.Now()
	}
	u.CreatedAt = stored(u.CreatedAt)
	res, err := db.write.ExecContext(ctx,
		`INSERT INTO users (username, username_key, email, email_key, email_verified, password_hash, role, is_active, token_version, version_keep_session, version_keep_from, last_login, created_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.Username, usernameKey(u.Username), u.Email, latch.EmailKey(u.Email), u.EmailVerified, u.PasswordHash, u.Role, u.IsActive, u.TokenVersion, u.VersionKeepSession, u.VersionKeepFrom, toDB(u.LastLogin), u.CreatedAt.UnixMicro())
	if isUniqueViolation(err) {
		return fmt.Errorf("create user: %w", takenError(err))
	}
	if err != nil {
		return fmt.Errorf("create user: %w", classify(err))
	}
	u.ID, err = res.LastInsertId()
	return err
}

// UserByID implements latch.UserStore.
func (db *DB) UserByID(ctx context.Context, id int64) (*latch.User, error) {
	u, err := scanUser(db.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// UserByUsername implements latch.UserStore.
func (db *DB) UserByUsername(ctx context.Context, username string) (*latch.User, error) {
	u, err := scanUser(db.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE username_key = ?`, usernameKey(username)))
	if err != nil {
		return nil, fmt.Errorf("user by name: %w", classify(err))
	}
	return u, nil
}

// UserByEmail implements latch.UserStore.
func (db *DB) UserByEmail(ctx context.Context, email string) (*latch.User, error) {
	if email == "" {
		return nil, fmt.Errorf("user by email: %w", latch.ErrNotFound)
	}
	u, err := scanUser(db.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email_key = ?`, latch.EmailKey(email)))
	if err != nil {
		return nil, fmt.Errorf("user by email: %w", classify(err))
	}
	return u, nil
}

// UpdateUser implements latch.UserStore.
func (db *DB) UpdateUser(ctx context.Context, id int64, p latch.UserPatch) (*latch.User, error) {
	var nameKey, emailKey any
	if p.Username != nil {
		nameKey = usernameKey(*p.Username)
	}
	if p.Email != nil {
		emailKey = latch.EmailKey(*p.Email)
	}
	// SET expressions read the row as it was, so email_verified compares
	// the new key with the old one.
	u, err := scanUser(db.write.QueryRowContext(ctx,
		`UPDATE users SET
		   username = coalesce(?1, username),
		   username_key = coalesce(?2, username_key),
		   email = coalesce(?3, email),
		   email_verified = CASE WHEN ?5 IS NOT NULL THEN ?5 WHEN ?4 IS NOT NULL AND ?4 <> email_key THEN 0 ELSE email_verified END,
		   email_key = coalesce(?4, email_key),
		   role = coalesce(?6, role)
		 WHERE id = ?7 RETURNING `+userColumns,
		orNull(p.Username), nameKey, orNull(p.Email), emailKey, orNull(p.EmailVerified), orNull(p.Role), id))
	if isUniqueViolation(err) {
		return nil, fmt.Errorf("update user %d: %w", id, takenError(err))
	}
	if err != nil {
		return nil, fmt.Errorf("update user %d: %w", id, classify(err))
	}
	return u, nil
}

// orNull is *p, or NULL when p is nil.
func orNull[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// SetEmailVerified implements latch.UserStore.
func (db *DB) SetEmailVerified(ctx context.Context, id int64, verified bool) error {
	return db.updateUser(ctx, id, `UPDATE users SET email_verified = ? WHERE id = ?`, verified)
}

// ListUsers implements latch.UserStore.
func (db *DB) ListUsers(ctx context.Context, q latch.UserQuery) ([]latch.User, int64, error) {
	search := strings.ToLower(q.Search)
	const match = `(?1 = '' OR instr(username_key, ?1) > 0 OR instr(email_key, ?1) > 0)
		AND (?2 = '' OR role = ?2) AND (?3 IS NULL OR is_active = ?3)`
	var total int64
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE `+match, search, q.Role, q.Active).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("list users: %w", classify(err))
	}
	limit := int64(q.Limit)
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE `+match+` ORDER BY id LIMIT ?4 OFFSET ?5`,
		search, q.Role, q.Active, limit, max(q.Offset, 0))
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", classify(err))
	}
	defer rows.Close()
	users := []latch.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list users: %w", classify(err))
		}
		users = append(users, *u)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list users: %w", classify(err))
	}
	return users, total, nil
}

// DeleteUser implements latch.UserStore. Sessions, refresh records and
// the user's orders go with the row (ON DELETE CASCADE); opaque handles
// are deleted with their sessions by the caller's revocation.
func (db *DB) DeleteUser(ctx context.Context, id int64) error {
	res, err := db.write.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete user %d: %w", id, classify(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete user %d: %w", id, latch.ErrNotFound)
	}
	return nil
}

func (db *DB) updateUser(ctx context.Context, id int64, query string, args ...any) error {
	res, err := db.write.ExecContext(ctx, query, append(args, id)...)
	if err != nil {
		return fmt.Errorf("update user %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update user %d: %w", id, latch.ErrNotFound)
	}
	return nil
}

// SetPasswordHash implements latch.UserStore.
func (db *DB) SetPasswordHash(ctx context.Context, id int64, hash string) error {
	return db.updateUser(ctx, id, `UPDATE users SET password_hash = ? WHERE id = ?`, hash)
}

// SetLastLogin implements latch.UserStore.
func (db *DB) SetLastLogin(ctx context.Context, id int64, at time.Time) error {
	return db.updateUser(ctx, id, `UPDATE users SET last_login = ? WHERE id = ?`, at.UnixMicro())
}

// SetActive implements latch.UserStore.
func (db *DB) SetActive(ctx context.Context, id int64, active bool) error {
	return db.updateUser(ctx, id, `UPDATE users SET is_active = ? WHERE id = ?`, active)
}

// BumpTokenVersion implements latch.UserStore.
func (db *DB) BumpTokenVersion(ctx context.Context, id int64, keep string, now time.Time) (latch.TokenVersion, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return latch.TokenVersion{}, fmt.Errorf("bump token version of user %d: %w", id, err)
	}
	defer tx.Rollback()
	v, err := bumpInTx(ctx, tx, id, keep, now)
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return v, fmt.Errorf("bump token version of user %d: %w", id, err)
	}
	return v, nil
}

// bumpInTx bumps the token version of user id in tx and logs it.
func bumpInTx(ctx context.Context, tx *sql.Tx, id int64, keep string, now time.Time) (latch.TokenVersion, error) {
	v := latch.TokenVersion{UserID: id, KeepSession: keep}
	// SET expressions read the row as it was: a bump kept by the same
	// session as the last one keeps that session's floor.
	err := tx.QueryRowContext(ctx,
		`UPDATE users SET
		   version_keep_from = CASE WHEN ?1 <> '' AND version_keep_session = ?1 THEN version_keep_from ELSE token_version END,
		   token_version = token_version + 1,
		   version_keep_session = ?1
		 WHERE id = ?2 RETURNING token_version, version_keep_from`,
		keep, id).Scan(&v.Version, &v.KeepFrom)
	if errors.Is(err, sql.ErrNoRows) {
		return v, latch.ErrNotFound
	}
	if err != nil {
		return v, err
	}
	return v, logRevocation(ctx, tx, latch.RevocationRecord{UserID: id, Version: v, At: now})
}

// ChangePassword implements latch.UserStore.
func (db *DB) ChangePassword(ctx context.Context, c latch.PasswordChange) (latch.TokenVersion, []latch.Session, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return latch.TokenVersion{}, nil, fmt.Errorf("change password of user %d: %w", c.UserID, err)
	}
	defer tx.Rollback()
	// The version first: it finds a missing user before anything is
	// written (and the user comes before their tokens, as on PostgreSQL).
	v, err := bumpInTx(ctx, tx, c.UserID, c.Keep, c.Now)
	if err == nil && c.ResetToken != "" {
		err = spendResetToken(ctx, tx, c)
	}
	var revoked []latch.Session
	if err == nil {
		_, err = tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, c.Hash, c.UserID)
	}
	if err == nil {
		revoked, err = revokeUserInTx(ctx, tx, c.UserID, c.Keep, latch.ReasonPasswordChange, c.Now)
	}
	if err == nil {
		_, err = tx.ExecContext(ctx, `DELETE FROM account_tokens WHERE user_id = ? AND kind = ?`, c.UserID, latch.AccountTokenPasswordReset)
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return latch.TokenVersion{}, nil, fmt.Errorf("change password of user %d: %w", c.UserID, classify(err))
	}
	return v, revoked, nil
}

// spendResetToken deletes the reset token a password change spends, or
// returns ErrNotFound when it is not the user's live one.
func spendResetToken(ctx context.Context, tx *sql.Tx, c latch.PasswordChange) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM account_tokens WHERE hash = ? AND kind = ? AND user_id = ? AND expires_at > ?`,
		c.ResetToken, latch.AccountTokenPasswordReset, c.UserID, c.Now.UnixMicro())
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("reset token: %w", latch.ErrNotFound)
	}
	return nil
}
