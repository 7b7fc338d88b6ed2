package sqlite_test

import (
	"testing"

	"github.com/latch-auth/latch/storetest"
)

func TestChangePasswordRollsBack(t *testing.T) {
	db := MustOpen(t)
	storetest.TestChangePasswordRollsBack(t, db, func(t *testing.T, on bool) {
		q := `DROP TRIGGER fail_revoke`
		if on {
			q = `CREATE TRIGGER fail_revoke BEFORE UPDATE OF revoked_at ON sessions BEGIN SELECT RAISE(ABORT, 'injected failure'); END`
		}
		if err := db.ExecForTest(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	})
}
