package sqlite

import (
	"errors"
	"fmt"
	"testing"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latch-auth/latch"
)

func TestUnavailableCode(t *testing.T) {
	tests := []struct {
		name string
		code int
		want bool
	}{
		{"busy", sqlite3.SQLITE_BUSY, true},
		{"busy snapshot (extended)", sqlite3.SQLITE_BUSY_SNAPSHOT, true},
		{"disk I/O", sqlite3.SQLITE_IOERR_WRITE, true},
		{"disk full", sqlite3.SQLITE_FULL, true},
		{"read-only file", sqlite3.SQLITE_READONLY, true},
		{"unique constraint", sqlite3.SQLITE_CONSTRAINT_UNIQUE, false},
		{"syntax", sqlite3.SQLITE_ERROR, false},
	}
	for _, tt := range tests {
		if got := unavailableCode(tt.code); got != tt.want {
			t.Errorf("%s (%d): unavailable %v, want %v", tt.name, tt.code, got, tt.want)
		}
	}
	// Errors that are not SQLite's pass as they are.
	for _, err := range []error{nil, latch.ErrNotFound, fmt.Errorf("x: %w", latch.ErrUsernameTaken)} {
		if got := classify(err); got != err || errors.Is(got, latch.ErrUnavailable) {
			t.Errorf("classify(%v) = %v", err, got)
		}
	}
}
