package storetest

import (
	"testing"
	"time"

	"github.com/latch-auth/latch"
)

// TestChangePasswordRollsBack checks that UserStore.ChangePassword is one
// transaction. failRevocations(true) must make the database refuse to
// revoke a session (a trigger, say) and failRevocations(false) undo it:
// a change that fails there must leave the hash, the token version, the
// revocation log, the sessions and the reset link it spends as they were,
// and succeed once the database lets it. s must be fresh and keep account
// tokens.
func TestChangePasswordRollsBack(t *testing.T, s Store, failRevocations func(t *testing.T, on bool)) {
	t.Helper()
	ms := asMailStore(t, s)
	ctx := t.Context()
	u := mustUser(t, s, "frank")
	link := &latch.AccountToken{Hash: hashOf("link"), Kind: latch.AccountTokenPasswordReset, UserID: u.ID, CreatedAt: at(0), ExpiresAt: at(2 * time.Hour)}
	checkErr(t, "PutAccountToken", ms.PutAccountToken(ctx, link), nil)
	mustSession(t, s, u.ID, "mine", at(0), at(24*time.Hour))
	mustSession(t, s, u.ID, "other", at(0), at(24*time.Hour))
	now := at(time.Hour)
	change := latch.PasswordChange{UserID: u.ID, Hash: "argon2id$new", Keep: "mine", Now: now, ResetToken: link.Hash}

	failRevocations(t, true)
	if _, _, err := s.ChangePassword(ctx, change); err == nil {
		t.Fatal("ChangePassword succeeded through a failing revocation")
	}
	got, err := s.UserByID(ctx, u.ID)
	checkErr(t, "UserByID", err, nil)
	if got.PasswordHash != u.PasswordHash || got.TokenVersion != 0 {
		t.Errorf("after a failed change: hash %q, version %d; want %q, version 0", got.PasswordHash, got.TokenVersion, u.PasswordHash)
	}
	checkLog(t, s, 0, nil)
	active, err := s.ActiveSessions(ctx, u.ID, now)
	checkErr(t, "ActiveSessions", err, nil)
	if len(active) != 2 {
		t.Errorf("after a failed change %d sessions are active, want 2", len(active))
	}
	_, err = ms.AccountToken(ctx, latch.AccountTokenPasswordReset, link.Hash, now)
	checkErr(t, "the reset link after a failed change", err, nil)

	failRevocations(t, false)
	_, revoked, err := s.ChangePassword(ctx, change)
	checkErr(t, "ChangePassword", err, nil)
	if len(revoked) != 1 || revoked[0].ID != "other" {
		t.Errorf("ChangePassword revoked %+v, want session other", revoked)
	}
	_, err = ms.AccountToken(ctx, latch.AccountTokenPasswordReset, link.Hash, now)
	checkErr(t, "the reset link after the change", err, latch.ErrNotFound)
}
