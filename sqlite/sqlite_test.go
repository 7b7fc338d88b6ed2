package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/latch-auth/latch/sqlite"
	"github.com/latch-auth/latch/storetest"
)

// MustOpen opens a fresh SQLite database in a temp dir, closed at the end of tb.
func MustOpen(tb testing.TB) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(tb.Context(), filepath.Join(tb.TempDir(), "latch.db"))
	if err != nil {
		tb.Fatalf("sqlite.Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestStore(t *testing.T) {
	storetest.TestStore(t, func(t *testing.T) storetest.Store { return MustOpen(t) })
}

func TestOpenTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latch.db")
	first, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("first Open: %v", err)
	}
	defer first.Close()
	second, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("second Open of the same file: %v", err)
	}
	defer second.Close()
	if err := second.Migrate(t.Context()); err != nil {
		t.Errorf("Migrate of a migrated database: %v", err)
	}
	if err := second.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
