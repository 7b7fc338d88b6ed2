package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latch-auth/latch"
)

var _ latch.UserStore = (*DB)(nil)

const userColumns = `id, username, email, password_hash, role, is_active, token_version, version_keep_session, last_login, created_at`

func scanUser(row pgx.Row) (*latch.User, error) {
	var u latch.User
	var lastLogin *time.Time
	if err := row.Scan(&u.ID, &u.Username, &u.Email, &u.PasswordHash, &u.Role, &u.IsActive, &u.TokenVersion, &u.VersionKeepSession, &lastLogin, &u.CreatedAt); err != nil {
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
		`INSERT INTO users (username, username_key, email, password_hash, role, is_active, token_version, version_keep_session, last_login, created_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id, created_at`,
		u.Username, usernameKey(u.Username), u.Email, u.PasswordHash, u.Role, u.IsActive, u.TokenVersion, u.VersionKeepSession, nullTime(u.LastLogin), created,
	).Scan(&id, &created)
	if isUniqueViolation(err) {
		return fmt.Errorf("create user: %w", latch.ErrUsernameTaken)
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
func (db *DB) BumpTokenVersion(ctx context.Context, id int64, keep string) (latch.TokenVersion, error) {
	v := latch.TokenVersion{UserID: id, KeepSession: keep}
	err := db.pool.QueryRow(ctx,
		`UPDATE users SET token_version = token_version + 1, version_keep_session = $1 WHERE id = $2 RETURNING token_version`,
		keep, id).Scan(&v.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return v, fmt.Errorf("bump token version of user %d: %w", id, latch.ErrNotFound)
	}
	if err != nil {
		return v, fmt.Errorf("bump token version of user %d: %w", id, err)
	}
	return v, nil
}

// TokenVersions implements latch.UserStore.
func (db *DB) TokenVersions(ctx context.Context) ([]latch.TokenVersion, error) {
	rows, _ := db.pool.Query(ctx, `SELECT id, token_version, version_keep_session FROM users WHERE token_version > 0 ORDER BY id`)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (latch.TokenVersion, error) {
		var v latch.TokenVersion
		err := row.Scan(&v.UserID, &v.Version, &v.KeepSession)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("token versions: %w", err)
	}
	return out, nil
}
