package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latch-auth/latch"
)

var _ latch.UserStore = (*DB)(nil)

const userColumns = `id, username, email, password_hash, role, is_active, token_version, version_keep_session, version_keep_from, last_login, created_at`

func scanUser(row interface{ Scan(...any) error }) (*latch.User, error) {
	var u latch.User
	var lastLogin sql.NullInt64
	var created int64
	if err := row.Scan(&u.ID, &u.Username, &u.Email, &u.PasswordHash, &u.Role, &u.IsActive, &u.TokenVersion, &u.VersionKeepSession, &u.VersionKeepFrom, &lastLogin, &created); err != nil {
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
		`INSERT INTO users (username, username_key, email, password_hash, role, is_active, token_version, version_keep_session, version_keep_from, last_login, created_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.Username, usernameKey(u.Username), u.Email, u.PasswordHash, u.Role, u.IsActive, u.TokenVersion, u.VersionKeepSession, u.VersionKeepFrom, toDB(u.LastLogin), u.CreatedAt.UnixMicro())
	if isUniqueViolation(err) {
		return fmt.Errorf("create user: %w", latch.ErrUsernameTaken)
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
	v := latch.TokenVersion{UserID: id, KeepSession: keep}
	// SET expressions read the row as it was: a bump kept by the same
	// session as the last one keeps that session's floor.
	err = tx.QueryRowContext(ctx,
		`UPDATE users SET
		   version_keep_from = CASE WHEN ?1 <> '' AND version_keep_session = ?1 THEN version_keep_from ELSE token_version END,
		   token_version = token_version + 1,
		   version_keep_session = ?1
		 WHERE id = ?2 RETURNING token_version, version_keep_from`,
		keep, id).Scan(&v.Version, &v.KeepFrom)
	if errors.Is(err, sql.ErrNoRows) {
		return v, fmt.Errorf("bump token version of user %d: %w", id, latch.ErrNotFound)
	}
	if err == nil {
		err = logRevocation(ctx, tx, latch.RevocationRecord{UserID: id, Version: v, At: now})
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return v, fmt.Errorf("bump token version of user %d: %w", id, err)
	}
	return v, nil
}
