// Package sqlite implements latch's user and session stores on SQLite,
// through the pure-Go modernc.org/sqlite driver (no cgo). It is the
// embedded default: one file in the data directory.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latch-auth/latch"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a SQLite database holding latch's tables.
//
// Writes go through a single connection, so SQLite's one-writer rule
// never surfaces as SQLITE_BUSY inside the process; reads use a pool.
type DB struct {
	write *sql.DB
	read  *sql.DB
	// rotations batches refresh-token rotations on the writer.
	rotations *rotator
	stmts     statements
}

// readConns bounds the read pool.
const readConns = 8

// Open opens (creating if needed) the SQLite file at path and applies
// pending migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty path")
	}
	if err := restrictFiles(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxLifetime(0)
	read, err := sql.Open("sqlite", dsn)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	// Idle connections are kept: database/sql keeps two by default, and
	// opening one (its pragmas, its page cache) costs more than a query.
	read.SetMaxOpenConns(readConns)
	read.SetMaxIdleConns(readConns)
	read.SetConnMaxLifetime(0)
	db := &DB{write: write, read: read}
	err = db.Migrate(ctx)
	if err == nil {
		err = db.prepare(ctx)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	db.rotations = newRotator(db)
	return db, nil
}

// restrictFiles creates the database file owner-only (0600), or makes an
// existing one so, before SQLite opens it: the file holds password hashes,
// and SQLite creates the -wal and -shm files with the database file's
// permissions. Without this they would follow the umask (often 0644),
// readable by everyone unless latch made the directory itself.
func restrictFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("sqlite: chmod %s: %w", p, err)
		}
	}
	return nil
}

// Migrate applies pending migrations.
func (db *DB) Migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db.write, fsys, goose.WithGoMigrations(accountsMigration()))
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

// SQL returns the connection latch writes through, for an application that
// keeps tables of its own in the same file (examples/orders). It is the
// only writer: a transaction on it waits for latch's, and latch's for it.
func (db *DB) SQL() *sql.DB { return db.write }

// Ping checks the database answers, for readiness probes.
func (db *DB) Ping(ctx context.Context) error { return db.read.PingContext(ctx) }

// Close closes the database.
func (db *DB) Close() error {
	if db.rotations != nil {
		db.rotations.close()
	}
	return errors.Join(db.stmts.close(), db.read.Close(), db.write.Close())
}

// Times are stored as unix microseconds; NULL is the zero time. They are
// returned in UTC, so that every backend answers with equal times.
func toDB(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromDB(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicro(v.Int64)
}

func fromMicro(us int64) time.Time { return time.UnixMicro(us).UTC() }

// stored returns t as it reads back from the database.
func stored(t time.Time) time.Time { return fromMicro(t.UnixMicro()) }

func usernameKey(username string) string { return strings.ToLower(username) }

func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// takenError names what a unique violation on the users table was about:
// the email's index or the username's.
func takenError(err error) error {
	if strings.Contains(err.Error(), "users.email_key") {
		return latch.ErrEmailTaken
	}
	return latch.ErrUsernameTaken
}
