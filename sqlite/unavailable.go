package sqlite

import (
	"errors"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latch-auth/latch"
)

// classify returns err as a *latch.UnavailableError (503 in the HTTP API)
// when SQLite could not do the work for a reason of its own — the file is
// still locked after the busy timeout, the disk is full or failing, memory
// ran out — and any other error (a constraint, no rows) as it is.
func classify(err error) error {
	var e *sqlite.Error
	if err == nil || !errors.As(err, &e) || !unavailableCode(e.Code()) {
		return err
	}
	return &latch.UnavailableError{Store: "sqlite", Err: err}
}

// unavailableCode reports whether an SQLite result code (extended codes
// included) means the database is unavailable rather than the request
// wrong.
func unavailableCode(code int) bool {
	switch code & 0xff { // the primary code of an extended one
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
		sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PROTOCOL:
		return true
	}
	return false
}
