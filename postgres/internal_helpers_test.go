package postgres

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latch-auth/latch/internal/testenv"
)

// openInternal opens a fresh schema for a test of the package's insides.
func openInternal(t *testing.T) *DB {
	t.Helper()
	return openInternalWith(t, "")
}

// openInternalWith is openInternal with query parameters (a=b&c=d) added
// to the server's URL.
func openInternalWith(t *testing.T, params string) *DB {
	t.Helper()
	dbURL := testenv.Getenv(t, "LATCH_TEST_POSTGRES_URL")
	if params != "" {
		sep := "?"
		if strings.Contains(dbURL, "?") {
			sep = "&"
		}
		dbURL += sep + params
	}
	schema := "t_" + strings.ToLower(rand.Text())
	db, err := OpenSchema(t.Context(), dbURL, schema)
	if err != nil {
		t.Fatalf("OpenSchema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.pool.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema: %v", err)
		}
		db.Close()
	})
	return db
}
