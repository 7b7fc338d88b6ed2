package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latch-auth/latch"
)

// checked is rotation with a Rotation.Check for user, version ver.
func checked(old *latch.RefreshToken, next string, now time.Time, user, ver int64) latch.Rotation {
	r := rotation(old, next, now)
	r.Check = &latch.RotationCheck{UserID: user, Version: ver}
	return r
}

func testRotateChecked(t *testing.T, newStore func(*testing.T) Store) {
	t.Run("Success", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		u := mustUser(t, s, "alice")
		f := mustSession(t, s, u.ID, "sess", at(0), at(24*time.Hour))
		r := checked(f.token, "next", at(time.Hour), u.ID, 0)
		r.Next.ExpiresAt = at(48 * time.Hour) // past the session's end: capped
		gotS, gotU, err := s.Rotate(t.Context(), r)
		checkErr(t, "Rotate", err, nil)
		want := *f.session
		want.LastUsedAt = r.Now
		checkSigned(t, gotS, gotU, &want, u)
		checkSession(t, mustGetSession(t, s, "sess"), &want)
		r.Next.ExpiresAt = f.session.ExpiresAt
		checkStored(t, s, f.token.SessionID, f.token.Hash, spentBy(f.token, r))
		checkStored(t, s, r.Next.SessionID, r.Next.Hash, &r.Next)
		active, err := s.ActiveSessions(t.Context(), u.ID, at(2*time.Hour))
		checkErr(t, "ActiveSessions", err, nil)
		checkSessions(t, active, []latch.Session{want}, true)
	})

	// A failed check changes nothing and says so; the caller finds out why.
	t.Run("Refused", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name  string
			setup func(t *testing.T, s Store, u *latch.User, r *latch.Rotation)
		}{
			{"another user", func(t *testing.T, s Store, u *latch.User, r *latch.Rotation) {
				r.Check.UserID = mustUser(t, s, "bob").ID
			}},
			{"inactive user", func(t *testing.T, s Store, u *latch.User, r *latch.Rotation) {
				checkErr(t, "SetActive", s.SetActive(t.Context(), u.ID, false), nil)
			}},
			{"old token version", func(t *testing.T, s Store, u *latch.User, r *latch.Rotation) {
				_, err := s.BumpTokenVersion(t.Context(), u.ID, "", at(time.Minute))
				checkErr(t, "BumpTokenVersion", err, nil)
			}},
			{"idle", func(t *testing.T, s Store, u *latch.User, r *latch.Rotation) {
				r.Check.IdleTimeout = time.Hour - time.Microsecond // last used at 0, now at 1h
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				s := newStore(t)
				u := mustUser(t, s, "alice")
				f := mustSession(t, s, u.ID, "sess", at(0), at(24*time.Hour))
				r := checked(f.token, "next", at(time.Hour), u.ID, 0)
				tt.setup(t, s, u, &r)
				_, gotU, err := s.Rotate(t.Context(), r)
				checkErr(t, "Rotate", err, latch.ErrRotationCheck)
				if gotU != nil {
					t.Errorf("Rotate refused, yet returned user %d", gotU.ID)
				}
				checkStored(t, s, f.token.SessionID, f.token.Hash, f.token)
				checkStored(t, s, r.Next.SessionID, r.Next.Hash, nil)
				checkSession(t, mustGetSession(t, s, "sess"), f.session)
			})
		}
	})

	// What passes the check: the session that changed the password keeps
	// its older version; a session used within the idle timeout.
	t.Run("Allowed", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		u := mustUser(t, s, "alice")
		f := mustSession(t, s, u.ID, "sess", at(0), at(24*time.Hour))
		if _, err := s.BumpTokenVersion(t.Context(), u.ID, "sess", at(time.Minute)); err != nil {
			t.Fatal(err)
		}
		r := checked(f.token, "next", at(time.Hour), u.ID, 0)
		r.Check.IdleTimeout = time.Hour
		_, gotU, err := s.Rotate(t.Context(), r)
		checkErr(t, "Rotate of the kept session at the idle limit", err, nil)
		if gotU == nil || gotU.TokenVersion != 1 {
			t.Errorf("user = %+v, want token version 1", gotU)
		}
		// Idle is measured from the newest token, not the session's start.
		r2 := checked(&r.Next, "next2", at(90*time.Minute), u.ID, 1)
		r2.Check.IdleTimeout = time.Hour
		_, _, err = s.Rotate(t.Context(), r2)
		checkErr(t, "Rotate 30 min after the last one", err, nil)
	})

	// Spent, reused and revoked tokens are told apart as without a check.
	t.Run("Spent", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		u := mustUser(t, s, "alice")
		f := mustSession(t, s, u.ID, "sess", at(0), at(24*time.Hour))
		r := checked(f.token, "next", at(time.Hour), u.ID, 0)
		if _, _, err := s.Rotate(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		again := checked(f.token, "other", at(time.Hour+time.Second), u.ID, 0)
		again.ReuseInterval = time.Minute
		_, _, err := s.Rotate(t.Context(), again)
		var se *latch.SpentError
		if !errors.As(err, &se) {
			t.Fatalf("Rotate in the grace interval: error %v, want a *latch.SpentError", err)
		}
		checkToken(t, se.Token, spentBy(f.token, r))
		checkStored(t, s, again.Next.SessionID, again.Next.Hash, nil)

		thief := checked(f.token, "thief", at(2*time.Hour), u.ID, 0)
		_, _, err = s.Rotate(t.Context(), thief)
		checkErr(t, "Rotate after the grace", err, latch.ErrTokenReused)
		checkTime(t, "RevokedAt", mustGetSession(t, s, "sess").RevokedAt, thief.Now)

		_, _, err = s.Rotate(t.Context(), checked(&r.Next, "late", at(3*time.Hour), u.ID, 0))
		checkErr(t, "Rotate in a revoked session", err, latch.ErrSessionRevoked)
		_, _, err = s.Rotate(t.Context(), checked(&latch.RefreshToken{Hash: hashOf("nobody"), SessionID: "nobody's"}, "x", at(3*time.Hour), u.ID, 0))
		checkErr(t, "Rotate in an unknown session", err, latch.ErrNotFound)
	})

	// Many sessions at once, as a group-committing store packs them: each
	// caller learns its own outcome, one token yields one successor, and
	// a reuse among them revokes its family and nothing else.
	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		u := mustUser(t, s, "alice")
		const sessions, dup = 16, 4
		fs := make([]fixture, sessions)
		for i := range fs {
			fs[i] = mustSession(t, s, u.ID, fmt.Sprintf("sess-%d", i), at(0), at(24*time.Hour))
		}
		// Session 0's first token is already spent: presenting it is theft.
		pre := checked(fs[0].token, "pre", at(time.Minute), u.ID, 0)
		if _, _, err := s.Rotate(t.Context(), pre); err != nil {
			t.Fatal(err)
		}
		n := sessions * dup
		rs := make([]latch.Rotation, n)
		for i := range rs {
			rs[i] = checked(fs[i/dup].token, fmt.Sprintf("next-%d", i), at(time.Hour), u.ID, 0)
			rs[i].ReuseInterval = time.Minute
		}
		errs := make([]error, n)
		together(n, func(i int) { _, _, errs[i] = s.Rotate(t.Context(), rs[i]) })
		for k := range sessions {
			won, reused := 0, 0
			for i := k * dup; i < (k+1)*dup; i++ {
				switch err := errs[i]; {
				case k == 0 && errors.Is(err, latch.ErrTokenReused):
					reused++ // the first to find it spent; the others find the session revoked
				case k == 0:
					checkErr(t, fmt.Sprintf("Rotate %d of the spent token", i), err, latch.ErrSessionRevoked)
				case err == nil:
					won++
					checkStored(t, s, rs[i].Next.SessionID, rs[i].Next.Hash, &rs[i].Next)
				case errors.Is(err, latch.ErrTokenSpent):
					checkStored(t, s, rs[i].Next.SessionID, rs[i].Next.Hash, nil)
				default:
					t.Errorf("Rotate %d: %v", i, err)
				}
			}
			sess := mustGetSession(t, s, fs[k].session.ID)
			if k == 0 {
				if reused != 1 {
					t.Errorf("%d rotations reported the reuse, want 1", reused)
				}
				checkTime(t, "RevokedAt of the reused session", sess.RevokedAt, at(time.Hour))
				continue
			}
			if won != 1 {
				t.Errorf("session %d: %d rotations of one token succeeded, want 1", k, won)
			}
			checkTime(t, "RevokedAt", sess.RevokedAt, time.Time{})
		}
	})
}

// checkSigned checks what a checked rotation returns against the session
// and user it rotated for: what new tokens are signed from, all that
// latch.SessionStore.Rotate promises of them.
func checkSigned(t testing.TB, gotS *latch.Session, gotU *latch.User, wantS *latch.Session, wantU *latch.User) {
	t.Helper()
	if gotS == nil || gotU == nil {
		t.Fatalf("Rotate with a check returned session %v, user %v; want both", gotS, gotU)
	}
	if gotS.ID != wantS.ID || gotS.UserID != wantS.UserID {
		t.Errorf("session ID, UserID = %q, %d; want %q, %d", gotS.ID, gotS.UserID, wantS.ID, wantS.UserID)
	}
	checkTime(t, "session "+wantS.ID+": ExpiresAt", gotS.ExpiresAt, wantS.ExpiresAt)
	got := latch.User{ID: gotU.ID, Username: gotU.Username, Email: gotU.Email, Role: gotU.Role, IsActive: gotU.IsActive, TokenVersion: gotU.TokenVersion}
	want := latch.User{ID: wantU.ID, Username: wantU.Username, Email: wantU.Email, Role: wantU.Role, IsActive: wantU.IsActive, TokenVersion: wantU.TokenVersion}
	if got != want {
		t.Errorf("user = %+v, want %+v", got, want)
	}
}
