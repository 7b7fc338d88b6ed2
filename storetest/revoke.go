package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/latch-auth/latch"
)

// revoked returns s as revoked at now for reason.
func revoked(s *latch.Session, reason string, now time.Time) latch.Session {
	r := *s
	r.RevokedAt, r.RevokeReason = now, reason
	return r
}

func testRevoke(t *testing.T, newStore func(*testing.T) Store) {
	t.Run("RevokeSession", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		u := mustUser(t, s, "alice")
		f := mustSession(t, s, u.ID, "sess", at(0), at(24*time.Hour))
		other := mustSession(t, s, u.ID, "other", at(0), at(24*time.Hour))

		got, err := s.RevokeSession(ctx, "sess", latch.ReasonLogout, at(time.Hour))
		checkErr(t, "RevokeSession", err, nil)
		want := revoked(f.session, latch.ReasonLogout, at(time.Hour))
		checkSession(t, got, &want)
		checkSession(t, mustGetSession(t, s, "sess"), &want)
		if got.Active(at(2 * time.Hour)) {
			t.Errorf("revoked session is active")
		}

		// Again: not an error, and the first time and reason stay.
		got, err = s.RevokeSession(ctx, "sess", latch.ReasonAdmin, at(2*time.Hour))
		checkErr(t, "RevokeSession again", err, nil)
		checkSession(t, got, &want)
		checkSession(t, mustGetSession(t, s, "sess"), &want)

		checkSession(t, mustGetSession(t, s, "other"), other.session)
		_, err = s.RevokeSession(ctx, "missing", latch.ReasonLogout, at(time.Hour))
		checkErr(t, "RevokeSession of a missing session", err, latch.ErrNotFound)
	})

	t.Run("RevokeUserSessions", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		u := mustUser(t, s, "alice")
		v := mustUser(t, s, "bob")
		now := at(time.Hour)
		a := mustSession(t, s, u.ID, "a", at(0), at(24*time.Hour))
		b := mustSession(t, s, u.ID, "b", at(0), at(24*time.Hour))
		c := mustSession(t, s, u.ID, "c", at(0), at(24*time.Hour))
		old := mustSession(t, s, u.ID, "old", at(0), at(24*time.Hour))
		if _, err := s.RevokeSession(ctx, "old", latch.ReasonLogout, at(time.Minute)); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
		oldRevoked := revoked(old.session, latch.ReasonLogout, at(time.Minute))
		expired := mustSession(t, s, u.ID, "expired", at(-2*time.Hour), now)
		bobs := mustSession(t, s, v.ID, "bobs", at(0), at(24*time.Hour))

		got, err := s.RevokeUserSessions(ctx, u.ID, "b", latch.ReasonPasswordChange, now)
		checkErr(t, "RevokeUserSessions", err, nil)
		want := []latch.Session{
			revoked(a.session, latch.ReasonPasswordChange, now),
			revoked(c.session, latch.ReasonPasswordChange, now),
		}
		checkSessions(t, got, want, false)
		checkSession(t, mustGetSession(t, s, "a"), &want[0])
		checkSession(t, mustGetSession(t, s, "c"), &want[1])
		checkSession(t, mustGetSession(t, s, "b"), b.session)
		checkSession(t, mustGetSession(t, s, "old"), &oldRevoked)
		checkSession(t, mustGetSession(t, s, "expired"), expired.session)
		checkSession(t, mustGetSession(t, s, "bobs"), bobs.session)

		// Without keep, the kept one goes too; nothing else changes.
		later := at(2 * time.Hour)
		got, err = s.RevokeUserSessions(ctx, u.ID, "", latch.ReasonLogoutAll, later)
		checkErr(t, "RevokeUserSessions without keep", err, nil)
		want = []latch.Session{revoked(b.session, latch.ReasonLogoutAll, later)}
		checkSessions(t, got, want, false)
		checkSession(t, mustGetSession(t, s, "old"), &oldRevoked)

		got, err = s.RevokeUserSessions(ctx, u.ID, "", latch.ReasonLogoutAll, later)
		checkErr(t, "RevokeUserSessions with nothing left", err, nil)
		checkSessions(t, got, nil, false)
		got, err = s.RevokeUserSessions(ctx, v.ID+1000, "", latch.ReasonAdmin, later)
		checkErr(t, "RevokeUserSessions of a missing user", err, nil)
		checkSessions(t, got, nil, false)
		checkSession(t, mustGetSession(t, s, "bobs"), bobs.session)
	})

	t.Run("ChangePassword", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		u := mustUser(t, s, "alice")
		v := mustUser(t, s, "bob")
		now := at(time.Hour)
		kept := mustSession(t, s, u.ID, "kept", at(0), at(24*time.Hour))
		other := mustSession(t, s, u.ID, "other", at(0), at(24*time.Hour))
		bobs := mustSession(t, s, v.ID, "bobs", at(0), at(24*time.Hour))
		before := logSeq(t, s)

		ver, got, err := s.ChangePassword(ctx, latch.PasswordChange{UserID: u.ID, Hash: "argon2id$changed", Keep: "kept", Now: now})
		checkErr(t, "ChangePassword", err, nil)
		wantVer := latch.TokenVersion{UserID: u.ID, Version: 1, KeepSession: "kept", KeepFrom: 0}
		if ver != wantVer {
			t.Errorf("ChangePassword version = %+v, want %+v", ver, wantVer)
		}
		want := []latch.Session{revoked(other.session, latch.ReasonPasswordChange, now)}
		checkSessions(t, got, want, false)
		checkSession(t, mustGetSession(t, s, "other"), &want[0])
		checkSession(t, mustGetSession(t, s, "kept"), kept.session)
		checkSession(t, mustGetSession(t, s, "bobs"), bobs.session)
		stored, err := s.UserByID(ctx, u.ID)
		checkErr(t, "UserByID", err, nil)
		if stored.PasswordHash != "argon2id$changed" {
			t.Errorf("stored hash = %q, want the new one", stored.PasswordHash)
		}
		if latch.UserVersion(stored) != wantVer {
			t.Errorf("stored version = %+v, want %+v", latch.UserVersion(stored), wantVer)
		}
		checkLog(t, s, before, []latch.RevocationRecord{
			{UserID: u.ID, Version: wantVer, At: now},
			{SessionID: "other", UserID: u.ID, At: now},
		})

		// The kept session changing again keeps its floor, as BumpTokenVersion does.
		ver, got, err = s.ChangePassword(ctx, latch.PasswordChange{UserID: u.ID, Hash: "argon2id$again", Keep: "kept", Now: now})
		checkErr(t, "ChangePassword again", err, nil)
		if want := (latch.TokenVersion{UserID: u.ID, Version: 2, KeepSession: "kept", KeepFrom: 0}); ver != want {
			t.Errorf("ChangePassword again: version = %+v, want %+v", ver, want)
		}
		checkSessions(t, got, nil, false)

		// A missing user: nothing changes, nothing is logged.
		before = logSeq(t, s)
		_, _, err = s.ChangePassword(ctx, latch.PasswordChange{UserID: v.ID + 1000, Hash: "argon2id$x", Now: now})
		checkErr(t, "ChangePassword of a missing user", err, latch.ErrNotFound)
		checkLog(t, s, before, nil)
		bob, err := s.UserByID(ctx, v.ID)
		checkErr(t, "UserByID", err, nil)
		if bob.PasswordHash != v.PasswordHash || bob.TokenVersion != 0 {
			t.Errorf("bystander changed: hash %q, version %d", bob.PasswordHash, bob.TokenVersion)
		}
	})

	t.Run("ActiveSessions", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		u := mustUser(t, s, "alice")
		v := mustUser(t, s, "bob")
		now := at(10 * time.Hour)
		mid := mustSession(t, s, u.ID, "mid", at(0), at(24*time.Hour))
		recent := mustSession(t, s, u.ID, "recent", at(0), at(24*time.Hour))
		oldest := mustSession(t, s, u.ID, "oldest", at(-time.Hour), at(24*time.Hour))
		mustSession(t, s, u.ID, "revoked", at(0), at(24*time.Hour))
		mustSession(t, s, u.ID, "expired", at(-time.Hour), now) // ends exactly now
		mustSession(t, s, v.ID, "bobs", at(0), at(24*time.Hour))
		if _, err := s.RevokeSession(ctx, "revoked", latch.ReasonLogout, at(time.Hour)); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
		// Last used: recent, then mid, then oldest.
		for _, x := range []struct {
			f   fixture
			now time.Time
		}{{mid, at(2 * time.Hour)}, {recent, at(3 * time.Hour)}, {oldest, at(30 * time.Minute)}} {
			if _, err := s.Touch(ctx, x.f.session.ID, x.f.token.Hash, x.now); err != nil {
				t.Fatalf("Touch(%s): %v", x.f.session.ID, err)
			}
			x.f.session.LastUsedAt = x.now
		}

		got, err := s.ActiveSessions(ctx, u.ID, now)
		checkErr(t, "ActiveSessions", err, nil)
		checkSessions(t, got, []latch.Session{*recent.session, *mid.session, *oldest.session}, true)

		got, err = s.ActiveSessions(ctx, v.ID+1000, now)
		checkErr(t, "ActiveSessions of a missing user", err, nil)
		checkSessions(t, got, nil, true)
		got, err = s.ActiveSessions(ctx, u.ID, at(24*time.Hour))
		checkErr(t, "ActiveSessions after every end", err, nil)
		checkSessions(t, got, nil, true)
	})
}

func testHousekeeping(t *testing.T, newStore func(*testing.T) Store) {
	t.Run("PurgeExpired", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		u := mustUser(t, s, "alice")
		cutoff := at(10 * time.Hour)

		// Ended before the cutoff: the session and its token go (2 rows).
		ended := mustSession(t, s, u.ID, "ended", at(0), at(5*time.Hour))
		// Live, with a first token that expired and was rotated away: only
		// that token's record goes (1 row); the session still knows it.
		expiredToken := &latch.RefreshToken{Hash: hashOf("live/0"), SessionID: "live", IssuedAt: at(0), ExpiresAt: at(9 * time.Hour)}
		live := fixture{
			session: &latch.Session{ID: "live", UserID: u.ID, CreatedAt: at(0), LastUsedAt: at(0), ExpiresAt: at(24 * time.Hour)},
			token:   expiredToken,
		}
		checkErr(t, "CreateSession", s.CreateSession(ctx, live.session, live.token), nil)
		r := rotation(live.token, "live/1", at(time.Hour))
		r.Next.ExpiresAt = at(24 * time.Hour)
		if _, _, err := s.Rotate(ctx, r); err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		// Revoked but not ended: stays, so its tokens answer "blacklisted".
		revokedLive := mustSession(t, s, u.ID, "revoked", at(0), at(24*time.Hour))
		if _, err := s.RevokeSession(ctx, "revoked", latch.ReasonLogout, at(time.Hour)); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
		// Ends exactly at the cutoff: not before it, stays.
		edge := mustSession(t, s, u.ID, "edge", at(0), cutoff)

		n, err := s.PurgeExpired(ctx, cutoff)
		checkErr(t, "PurgeExpired", err, nil)
		if n != 3 {
			t.Errorf("PurgeExpired = %d, want 3", n)
		}
		_, err = s.Session(ctx, "ended")
		checkErr(t, "Session of a purged session", err, latch.ErrNotFound)
		checkStored(t, s, ended.token.SessionID, ended.token.Hash, nil)
		if _, _, err := s.RefreshToken(ctx, "", expiredToken.Hash); !errors.Is(err, latch.ErrNotFound) {
			t.Errorf("RefreshToken of a purged first token by its hash: %v, want ErrNotFound", err)
		}
		checkStored(t, s, "live", expiredToken.Hash, spentBy(expiredToken, r))
		checkStored(t, s, "live", r.Next.Hash, &r.Next)
		mustGetSession(t, s, "live")
		checkStored(t, s, revokedLive.token.SessionID, revokedLive.token.Hash, revokedLive.token)
		checkStored(t, s, edge.token.SessionID, edge.token.Hash, edge.token)

		n, err = s.PurgeExpired(ctx, cutoff)
		checkErr(t, "PurgeExpired again", err, nil)
		if n != 0 {
			t.Errorf("PurgeExpired again = %d, want 0", n)
		}
	})
}
