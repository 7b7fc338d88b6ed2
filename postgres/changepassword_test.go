package postgres

import (
	"testing"

	"github.com/latch-auth/latch/storetest"
)

func TestChangePasswordRollsBack(t *testing.T) {
	db := openInternal(t)
	storetest.TestChangePasswordRollsBack(t, db, func(t *testing.T, on bool) {
		qs := []string{`DROP TRIGGER fail_revoke ON sessions`}
		if on {
			qs = []string{
				`CREATE OR REPLACE FUNCTION fail_revoke() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`,
				`CREATE TRIGGER fail_revoke BEFORE UPDATE OF revoked_at ON sessions FOR EACH ROW EXECUTE FUNCTION fail_revoke()`,
			}
		}
		for _, q := range qs {
			if _, err := db.pool.Exec(t.Context(), q); err != nil {
				t.Fatal(err)
			}
		}
	})
}
