// Package storetest is the conformance suite every latch store backend
// runs, in the manner of testing/fstest: a backend's own test calls
// TestStore with a constructor for fresh, empty, migrated stores.
//
//	func TestStore(t *testing.T) {
//		storetest.TestStore(t, func(t *testing.T) storetest.Store {
//			db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "latch.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { db.Close() })
//			return db
//		})
//	}
//
// The suite checks every method of latch.UserStore and latch.SessionStore
// with the errors their documentation promises, and that Rotate lets at
// most one of many concurrent callers spend a refresh token.
//
// TestChangePasswordRollsBack is separate: a backend calls it with a way
// to make its database refuse a write, which only the backend knows.
//
// Stores keep times to the microsecond and return them in UTC; the suite
// feeds times with nanoseconds in a non-UTC zone and expects them back
// truncated to microseconds, in UTC.
package storetest

import (
	"testing"

	"github.com/latch-auth/latch"
)

// Store is what a backend provides: users and sessions in one database.
type Store interface {
	latch.UserStore
	latch.SessionStore
	latch.RevocationLog
}

// TestStore runs the whole suite. newStore must return a fresh, empty,
// migrated store on every call and arrange for its cleanup with t.Cleanup;
// every subtest gets its own store and runs in parallel with the others.
func TestStore(t *testing.T, newStore func(t *testing.T) Store) {
	t.Helper()
	t.Run("Users", func(t *testing.T) { testUsers(t, newStore) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, newStore) })
	t.Run("Rotate", func(t *testing.T) { testRotate(t, newStore) })
	t.Run("RotateChecked", func(t *testing.T) { testRotateChecked(t, newStore) })
	t.Run("Revoke", func(t *testing.T) { testRevoke(t, newStore) })
	t.Run("RevocationLog", func(t *testing.T) { testRevocationLog(t, newStore) })
	t.Run("Housekeeping", func(t *testing.T) { testHousekeeping(t, newStore) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, newStore) })
	t.Run("Handles", func(t *testing.T) { testHandles(t, newStore) })
	t.Run("Outbox", func(t *testing.T) { testOutbox(t, newStore) })
	t.Run("AccountTokens", func(t *testing.T) { testAccountTokens(t, newStore) })
	t.Run("ChangePasswordByLink", func(t *testing.T) { testChangePasswordByLink(t, newStore) })
}
