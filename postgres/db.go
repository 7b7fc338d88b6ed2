// Package postgres implements latch's user and session stores on
// PostgreSQL, through pgx v5 (pgxpool). It is the backend for running
// several latch instances against one database.
//
// Open applies the embedded migrations (goose, the same versions as the
// sqlite package's) under a PostgreSQL advisory lock, so instances starting
// together migrate once. OpenSchema keeps every table in a schema of its
// own, which is how the tests give each test a fresh database.
//
// Writes run in READ COMMITTED transactions that lock the rows they decide
// on; a transaction aborted by a serialization failure or a deadlock is
// run again (at most maxAttempts times), so callers never see those.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/latch-auth/latch"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a PostgreSQL database holding latch's tables.
type DB struct {
	pool   conns
	schema string // where the tables live: current_schema() of every connection
	// logLock is the advisory lock that orders appends to the schema's
	// revocation log (see logRevocation).
	logLock int64
	// rotations group-commits checked rotations (see rotator).
	rotations *rotator
}

// Open connects to the database at url (a postgres:// URL or a keyword/value
// string, as pgx parses them; pool settings such as pool_max_conns may be
// given there) and applies pending migrations. The tables live in the first
// existing schema of the search_path, which the URL may set
// (search_path=name). Refreshes use up to two connections of their own,
// beside the pool.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return open(ctx, cfg, "")
}

// OpenSchema is Open with every table in schema, which it creates when
// missing: the search_path of every connection is set to schema alone.
func OpenSchema(ctx context.Context, url, schema string) (*DB, error) {
	if schema == "" {
		return nil, errors.New("postgres: empty schema name")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	return open(ctx, cfg, schema)
}

func open(ctx context.Context, cfg *pgxpool.Config, create string) (*DB, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	db := &DB{pool: conns{pool}}
	if err := db.init(ctx, create); err != nil {
		pool.Close()
		return nil, err
	}
	if db.rotations, err = newRotator(cfg); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) init(ctx context.Context, create string) error {
	if create != "" {
		_, err := db.pool.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{create}.Sanitize())
		// IF NOT EXISTS still races with a concurrent CREATE SCHEMA.
		if err != nil && !isUniqueViolation(err) {
			return fmt.Errorf("postgres: create schema %s: %w", create, err)
		}
	}
	var schema *string
	if err := db.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if schema == nil {
		return errors.New("postgres: no schema of the search_path exists")
	}
	db.schema = *schema
	db.logLock = lockID("latch revocations", db.schema)
	return db.Migrate(ctx)
}

// Migrate applies pending migrations. Concurrent callers on one schema
// (instances starting together) take turns on an advisory lock.
func (db *DB) Migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID("latch migrations", db.schema)), lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	sqlDB := stdlib.OpenDBFromPool(db.pool.Pool)
	defer sqlDB.Close() // leaves the pool open
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys, goose.WithSessionLocker(locker), goose.WithGoMigrations(accountsMigration()))
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate schema %s: %w", db.schema, err)
	}
	return nil
}

// lockID names an advisory lock. Advisory locks are per database: one id
// per purpose and schema.
func lockID(purpose, schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte(purpose + "\x00" + schema))
	return int64(h.Sum64())
}

// Pool returns the connection pool, for an application that keeps tables
// of its own in the same schema (examples/orders).
func (db *DB) Pool() *pgxpool.Pool { return db.pool.Pool }

// Ping checks the database answers, for readiness probes.
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

// Close closes every connection, once the rotations queued so far have
// run. It always returns nil.
func (db *DB) Close() error {
	if db.rotations != nil {
		db.rotations.close()
	}
	db.pool.Close()
	return nil
}

// SQLSTATE codes, see https://www.postgresql.org/docs/current/errcodes-appendix.html.
const (
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func isUniqueViolation(err error) bool { return pgCode(err) == codeUniqueViolation }

// takenError names what a unique violation on the users table was about:
// the email's index or the username's.
func takenError(err error) error {
	var e *pgconn.PgError
	if errors.As(err, &e) && e.ConstraintName == "users_email_key" {
		return latch.ErrEmailTaken
	}
	return latch.ErrUsernameTaken
}

// maxAttempts bounds how often retry runs a transaction.
const maxAttempts = 10

// retryable reports whether err aborted a transaction that may succeed
// when run again.
func retryable(err error) bool {
	code := pgCode(err)
	return code == codeSerializationFailure || code == codeDeadlockDetected
}

// retry runs fn until it returns nil or an error retryable does not
// accept, at most maxAttempts times, waiting a random few milliseconds
// (growing with each attempt) in between.
func retry(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt == maxAttempts || !retryable(err) {
			return err
		}
		wait := time.NewTimer(rand.N(time.Duration(attempt) * 2 * time.Millisecond))
		select {
		case <-ctx.Done():
			wait.Stop()
			return err
		case <-wait.C:
		}
	}
}

// inTx runs fn in a transaction, committed when fn returns nil and retried
// on serialization failures and deadlocks: fn must be safe to run again.
// A lost connection comes out as a *latch.UnavailableError.
func (db *DB) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return classify(retry(ctx, func() error { return pgx.BeginFunc(ctx, db.pool.Pool, fn) }))
}

// Times are timestamptz (microseconds); NULL is the zero time. They are
// returned in UTC, so that every backend answers with equal times.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func usernameKey(username string) string { return strings.ToLower(username) }
