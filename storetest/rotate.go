package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/latch-auth/latch"
)

func testRotate(t *testing.T, newStore func(*testing.T) Store) {
	t.Run("Success", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		u := mustUser(t, s, "alice")
		f := mustSession(t, s, u.ID, "sess", at(0), at(24*time.Hour))

		r := rotation(f.token, "next", at(time.Hour))
		got, _, err := s.Rotate(ctx, r)
		checkErr(t, "Rotate", err, nil)
		want := *f.session
		want.LastUsedAt = r.Now
		checkSession(t, got, &want)
		checkSession(t, mustGetSession(t, s, "sess"), &want)

		checkStored(t, s, f.token.SessionID, f.token.Hash, spentBy(f.token, r))
		checkStored(t, s, r.Next.SessionID, r.Next.Hash, &r.Next)

		// The successor rotates in turn; the session's end never moves.
		r2 := rotation(&r.Next, "next2", at(2*time.Hour))
		got, _, err = s.Rotate(ctx, r2)
		checkErr(t, "Rotate of the successor", err, nil)
		want.LastUsedAt = r2.Now
		checkSession(t, got, &want)
		checkStored(t, s, r.Next.SessionID, r.Next.Hash, spentBy(&r.Next, r2))
		checkStored(t, s, r2.Next.SessionID, r2.Next.Hash, &r2.Next)
		checkStored(t, s, f.token.SessionID, f.token.Hash, replacedBefore(f.token, r2))
	})

	t.Run("Spent", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		u := mustUser(t, s, "alice")
		f := mustSession(t, s, u.ID, "sess", at(0), at(24*time.Hour))
		r := rotation(f.token, "next", at(time.Hour))
		if _, _, err := s.Rotate(ctx, r); err != nil {
			t.Fatalf("Rotate: %v", err)
		}

		// Within the grace interval: a duplicate, reported with the record.
		again := rotation(f.token, "other", at(2*time.Hour))
		again.ReuseInterval = 2 * time.Hour
		_, _, err := s.Rotate(ctx, again)
		checkErr(t, "Rotate of a spent token", err, latch.ErrTokenSpent)
		var se *latch.SpentError
		if !errors.As(err, &se) {
			t.Fatalf("Rotate of a spent token: error %v is not a *latch.SpentError", err)
		}
		checkToken(t, se.Token, spentBy(f.token, r))

		// Nothing changed: the second successor is not stored, the
		// session was not marked used, the record still names the first.
		checkStored(t, s, again.Next.SessionID, again.Next.Hash, nil)
		checkStored(t, s, f.token.SessionID, f.token.Hash, spentBy(f.token, r))
		want := *f.session
		want.LastUsedAt = r.Now
		checkSession(t, mustGetSession(t, s, "sess"), &want)
	})

	t.Run("Reused", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name     string
			interval time.Duration
		}{
			{"no grace", 0},
			{"after the grace", time.Hour - time.Microsecond},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := newStore(t)
				ctx := t.Context()
				u := mustUser(t, s, "alice")
				f := mustSession(t, s, u.ID, "sess", at(0), at(24*time.Hour))
				r := rotation(f.token, "next", at(time.Hour))
				if _, _, err := s.Rotate(ctx, r); err != nil {
					t.Fatalf("Rotate: %v", err)
				}
				before := logSeq(t, s)

				again := rotation(f.token, "other", at(2*time.Hour))
				again.ReuseInterval = tt.interval
				_, _, err := s.Rotate(ctx, again)
				checkErr(t, "Rotate of a spent token", err, latch.ErrTokenReused)
				var re *latch.ReuseError
				if !errors.As(err, &re) {
					t.Fatalf("Rotate of a reused token: error %v is not a *latch.ReuseError", err)
				}
				// The family was revoked by that same call, and logged.
				want := *f.session
				want.LastUsedAt = r.Now
				want.RevokedAt, want.RevokeReason = again.Now, latch.ReasonReuse
				checkSession(t, re.Session, &want)
				checkSession(t, mustGetSession(t, s, "sess"), &want)
				checkLog(t, s, before, []latch.RevocationRecord{{SessionID: "sess", UserID: u.ID, At: again.Now}})
				checkStored(t, s, again.Next.SessionID, again.Next.Hash, nil)

				// The thief's branch (the successor) is dead too.
				_, _, err = s.Rotate(ctx, rotation(&r.Next, "next2", at(3*time.Hour)))
				checkErr(t, "Rotate of the successor", err, latch.ErrSessionRevoked)
			})
		}
	})

	// A token older than the one the current token replaced is spent too,
	// and never a duplicate: inside the grace interval only the replaced
	// token gets the current one back.
	t.Run("ReusedOlder", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		u := mustUser(t, s, "alice")
		f := mustSession(t, s, u.ID, "sess", at(0), at(24*time.Hour))
		r1 := rotation(f.token, "next1", at(time.Hour))
		r2 := rotation(&r1.Next, "next2", at(time.Hour+time.Second))
		for _, r := range []latch.Rotation{r1, r2} {
			if _, _, err := s.Rotate(ctx, r); err != nil {
				t.Fatalf("Rotate: %v", err)
			}
		}
		checkStored(t, s, "sess", f.token.Hash, replacedBefore(f.token, r2))
		checkStored(t, s, "sess", r1.Next.Hash, spentBy(&r1.Next, r2))
		checkStored(t, s, "sess", r2.Next.Hash, &r2.Next)

		again := rotation(f.token, "other", at(time.Hour+2*time.Second))
		again.ReuseInterval = time.Hour
		_, _, err := s.Rotate(ctx, again)
		checkErr(t, "Rotate of a token two rotations old", err, latch.ErrTokenReused)
		checkTime(t, "RevokedAt", mustGetSession(t, s, "sess").RevokedAt, again.Now)
	})

	t.Run("NoSpend", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		u := mustUser(t, s, "alice")
		f := mustSession(t, s, u.ID, "sess", at(0), at(24*time.Hour))

		// BLACKLIST_AFTER_ROTATION=False: the old token stays usable.
		for i, name := range []string{"next1", "next2"} {
			r := rotation(f.token, name, at(time.Duration(i+1)*time.Hour))
			r.Spend = false
			got, _, err := s.Rotate(ctx, r)
			checkErr(t, "Rotate without spending", err, nil)
			want := *f.session
			want.LastUsedAt = r.Now
			checkSession(t, got, &want)
			checkStored(t, s, r.Next.SessionID, r.Next.Hash, &r.Next)
		}
	})

	t.Run("Refused", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		u := mustUser(t, s, "alice")
		live := mustSession(t, s, u.ID, "live", at(0), at(24*time.Hour))
		revoked := mustSession(t, s, u.ID, "revoked", at(0), at(24*time.Hour))
		if _, err := s.RevokeSession(ctx, "revoked", latch.ReasonLogout, at(time.Minute)); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
		revoked.session.RevokedAt, revoked.session.RevokeReason = at(time.Minute), latch.ReasonLogout
		expired := mustSession(t, s, u.ID, "expired", at(-2*time.Hour), at(-time.Hour))

		tests := []struct {
			name    string
			f       fixture
			now     time.Time
			wantErr error
		}{
			{"revoked session", revoked, at(time.Hour), latch.ErrSessionRevoked},
			{"expired session", expired, at(time.Hour), latch.ErrSessionRevoked},
			{"at expiry", live, at(24 * time.Hour), latch.ErrSessionRevoked},
			{"after expiry", live, at(25 * time.Hour), latch.ErrSessionRevoked},
			{"unknown session", fixture{token: &latch.RefreshToken{Hash: hashOf("unknown"), SessionID: "missing", ExpiresAt: at(time.Hour)}}, at(time.Hour), latch.ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := rotation(tt.f.token, "next of "+tt.name, tt.now)
				_, _, err := s.Rotate(ctx, r)
				checkErr(t, "Rotate", err, tt.wantErr)
				checkStored(t, s, r.Next.SessionID, r.Next.Hash, nil)
				if tt.f.session != nil {
					checkStored(t, s, tt.f.token.SessionID, tt.f.token.Hash, tt.f.token)
					checkSession(t, mustGetSession(t, s, tt.f.session.ID), tt.f.session)
				}
			})
		}
		// The live session still rotates before its end.
		r := rotation(live.token, "last", at(24*time.Hour-time.Microsecond))
		_, _, err := s.Rotate(ctx, r)
		checkErr(t, "Rotate just before expiry", err, nil)
	})

	t.Run("SpentInRevokedSession", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		u := mustUser(t, s, "alice")
		f := mustSession(t, s, u.ID, "sess", at(0), at(24*time.Hour))
		if _, _, err := s.Rotate(ctx, rotation(f.token, "next", at(time.Hour))); err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		if _, err := s.RevokeSession(ctx, "sess", latch.ReasonReuse, at(2*time.Hour)); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
		// Both answers refuse the token; the contract does not rank them.
		_, _, err := s.Rotate(ctx, rotation(f.token, "other", at(3*time.Hour)))
		if !errors.Is(err, latch.ErrSessionRevoked) && !errors.Is(err, latch.ErrTokenSpent) {
			t.Fatalf("Rotate of a spent token of a revoked session: got error %v, want ErrSessionRevoked or ErrTokenSpent", err)
		}
		checkStored(t, s, "sess", hashOf("other"), nil)
	})
}
