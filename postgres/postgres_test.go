package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/testenv"

	"github.com/jackc/pgx/v5"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/postgres"
	"github.com/latch-auth/latch/sqlite"
	"github.com/latch-auth/latch/storetest"
)

// testURL returns LATCH_TEST_POSTGRES_URL (scripts/testenv.sh sets it).
// Without it the test skips, except in CI, where integration tests must
// run rather than pass by skipping.
func testURL(tb testing.TB) string {
	tb.Helper()
	return testenv.Getenv(tb, "LATCH_TEST_POSTGRES_URL")
}

// connect opens a plain connection to dbURL, closed at the end of tb.
func connect(tb testing.TB, dbURL string) *pgx.Conn {
	tb.Helper()
	conn, err := pgx.Connect(tb.Context(), dbURL)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// newSchema returns the name of a schema unique to tb, dropped (with
// everything in it) when tb ends. It does not create it.
func newSchema(tb testing.TB, dbURL string) string {
	tb.Helper()
	name := "t_" + strings.ToLower(rand.Text())
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{name}.Sanitize()+` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// MustOpen opens a fresh, migrated database in a schema of its own,
// closed and dropped when tb ends.
func MustOpen(tb testing.TB) *postgres.DB {
	tb.Helper()
	dbURL := testURL(tb)
	return mustOpenSchema(tb, dbURL, newSchema(tb, dbURL))
}

func mustOpenSchema(tb testing.TB, dbURL, schema string) *postgres.DB {
	tb.Helper()
	db, err := postgres.OpenSchema(tb.Context(), dbURL, schema)
	if err != nil {
		tb.Fatalf("OpenSchema: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestStore(t *testing.T) {
	testURL(t) // skip (or fail in CI) once, not in every subtest
	storetest.TestStore(t, func(t *testing.T) storetest.Store { return MustOpen(t) })
}

// tables lists the tables in schema.
func tables(tb testing.TB, conn *pgx.Conn, schema string) []string {
	tb.Helper()
	rows, _ := conn.Query(tb.Context(), `SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename`, schema)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Fatalf("list tables: %v", err)
	}
	return names
}

var wantTables = []string{"account_tokens", "goose_db_version", "mail_outbox", "opaque_tokens", "orders", "refresh_tokens", "revocations", "sessions", "users"}

func TestOpenTwice(t *testing.T) {
	t.Parallel()
	dbURL := testURL(t)
	schema := newSchema(t, dbURL)
	first := mustOpenSchema(t, dbURL, schema)
	u := &latch.User{Username: "alice", PasswordHash: "h", IsActive: true}
	if err := first.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}

	second := mustOpenSchema(t, dbURL, schema)
	if err := second.Migrate(t.Context()); err != nil {
		t.Errorf("Migrate of a migrated schema: %v", err)
	}
	if err := second.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	got, err := second.UserByUsername(t.Context(), "alice")
	if err != nil {
		t.Fatalf("UserByUsername through the second DB: %v", err)
	}
	if got.ID != u.ID {
		t.Errorf("UserByUsername ID = %d, want %d", got.ID, u.ID)
	}
	if got, want := tables(t, connect(t, dbURL), schema), wantTables; !slices.Equal(got, want) {
		t.Errorf("tables in %s = %v, want %v", schema, got, want)
	}
}

// Instances starting together on one empty schema migrate it once.
func TestOpenConcurrently(t *testing.T) {
	t.Parallel()
	dbURL := testURL(t)
	schema := newSchema(t, dbURL)
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			db, err := postgres.OpenSchema(t.Context(), dbURL, schema)
			if err == nil {
				db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("OpenSchema %d: %v", i, err)
		}
	}
	var applied int
	err := connect(t, dbURL).QueryRow(t.Context(),
		`SELECT count(*) FROM `+pgx.Identifier{schema, "goose_db_version"}.Sanitize()+` WHERE version_id = 1 AND is_applied`).Scan(&applied)
	if err != nil {
		t.Fatalf("read goose_db_version: %v", err)
	}
	if applied != 1 {
		t.Errorf("migration 1 recorded %d times, want 1", applied)
	}
}

// Open honours a search_path given in the URL.
func TestOpenSearchPathInURL(t *testing.T) {
	t.Parallel()
	dbURL := testURL(t)
	u, err := url.Parse(dbURL)
	if err != nil || u.Scheme == "" {
		t.Skipf("LATCH_TEST_POSTGRES_URL is not a URL: %v", err)
	}
	schema := newSchema(t, dbURL)
	conn := connect(t, dbURL)
	if _, err := conn.Exec(t.Context(), `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := postgres.Open(t.Context(), u.String())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	if got, want := tables(t, conn, schema), wantTables; !slices.Equal(got, want) {
		t.Errorf("tables in %s = %v, want %v", schema, got, want)
	}
}

// Needs no database.
func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	if _, err := postgres.OpenSchema(ctx, "postgres://127.0.0.1:1/db?sslmode=disable", ""); err == nil {
		t.Errorf("OpenSchema with an empty schema succeeded")
	}
	if _, err := postgres.Open(ctx, "postgres://user:secret@127.0.0.1:1/db?connect_timeout=5&sslmode=disable"); err == nil {
		t.Errorf("Open of a closed port succeeded")
	} else if strings.Contains(err.Error(), "secret") {
		t.Errorf("Open error shows the password: %v", err)
	}
	if _, err := postgres.Open(ctx, "postgres://%zz"); err == nil {
		t.Errorf("Open of a malformed URL succeeded")
	}
}

// The PostgreSQL migrations have the versions of SQLite's and create the
// same tables, columns and indexes.
func TestSchemaMatchesSQLite(t *testing.T) {
	t.Parallel()
	dbURL := testURL(t)
	files := func(dir string) []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	if got, want := files("migrations"), files("../sqlite/migrations"); !slices.Equal(got, want) {
		t.Errorf("postgres migrations = %v, sqlite migrations = %v", got, want)
	}

	schema := newSchema(t, dbURL)
	mustOpenSchema(t, dbURL, schema)
	conn := connect(t, dbURL)
	rows, _ := conn.Query(t.Context(),
		`SELECT table_name || '.' || column_name FROM information_schema.columns
		 WHERE table_schema = $1 AND table_name <> 'goose_db_version' ORDER BY table_name, ordinal_position`, schema)
	pgColumns, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("postgres columns: %v", err)
	}
	// Indexes created by CREATE INDEX, not those behind constraints.
	rows, _ = conn.Query(t.Context(),
		`SELECT i.indexname FROM pg_indexes i
		 WHERE i.schemaname = $1 AND i.tablename <> 'goose_db_version'
		   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)`,
		schema)
	pgIndexes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("postgres indexes: %v", err)
	}

	path := filepath.Join(t.TempDir(), "latch.db")
	sdb, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	sdb.Close()
	lite, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	defer lite.Close()
	query := func(q string) []string {
		rows, err := lite.QueryContext(t.Context(), q)
		if err != nil {
			t.Fatalf("sqlite: %v", err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatalf("sqlite: %v", err)
			}
			out = append(out, s)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("sqlite: %v", err)
		}
		return out
	}
	liteColumns := query(`SELECT m.name || '.' || p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT IN ('goose_db_version', 'sqlite_sequence') ORDER BY m.name, p.cid`)
	liteIndexes := query(`SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL`)

	if !slices.Equal(pgColumns, liteColumns) {
		t.Errorf("columns differ:\npostgres %v\nsqlite   %v", pgColumns, liteColumns)
	}
	slices.Sort(pgIndexes)
	slices.Sort(liteIndexes)
	if !slices.Equal(pgIndexes, liteIndexes) {
		t.Errorf("indexes differ:\npostgres %v\nsqlite   %v", pgIndexes, liteIndexes)
	}
}
