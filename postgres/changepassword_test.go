package postgres

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latch-auth/latch"
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

// TestChangePasswordLockOrder runs resets with two links of one user and a
// change without a link at once, again and again. Every change must lock
// the user's row before any of their tokens: in another order two of them
// deadlock. PostgreSQL would find the deadlock after deadlock_timeout and
// inTx retry, so the test's connections wait an hour for that and give up
// a lock wait after lock_timeout instead: a deadlock fails the change.
func TestChangePasswordLockOrder(t *testing.T) {
	db := openInternalWith(t, "deadlock_timeout=1h&lock_timeout=5s") // runtime parameters
	ctx := t.Context()
	u := &latch.User{Username: "locks", Email: "locks@example.com", PasswordHash: "h", Role: "user", IsActive: true}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for round := range 20 {
		changes := []latch.PasswordChange{{}, {}, {}}
		for i := range changes[:2] {
			sum := sha256.Sum256(fmt.Appendf(nil, "link %d/%d", round, i))
			hash := hex.EncodeToString(sum[:])
			if err := db.PutAccountToken(ctx, &latch.AccountToken{Hash: hash, Kind: latch.AccountTokenPasswordReset, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			changes[i].ResetToken = hash
		}
		var wg sync.WaitGroup
		errs := make([]error, len(changes))
		for i, c := range changes {
			c.UserID, c.Hash, c.Now = u.ID, fmt.Sprintf("argon2id$%d-%d", round, i), now
			wg.Go(func() { _, _, errs[i] = db.ChangePassword(ctx, c) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil && !(i < 2 && errors.Is(err, latch.ErrNotFound)) {
				t.Fatalf("round %d, change %d: %v", round, i, err)
			}
		}
	}
}
