package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/latch-auth/latch"
)

func testSessions(t *testing.T, newStore func(*testing.T) Store) {
	t.Run("CreateSession", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		u := mustUser(t, s, "alice")
		f := mustSession(t, s, u.ID, "sess-1", at(0), at(24*time.Hour))

		got, err := s.Session(ctx, "sess-1")
		checkErr(t, "Session", err, nil)
		checkSession(t, got, f.session)
		if !got.Active(at(time.Hour)) {
			t.Errorf("new session is not active")
		}

		tok, sess, err := s.RefreshToken(ctx, "sess-1", f.token.Hash)
		checkErr(t, "RefreshToken", err, nil)
		checkToken(t, tok, f.token)
		checkSession(t, sess, f.session)
		// The first token finds its session by its hash alone (SimpleJWT's
		// tokens name no session).
		tok, sess, err = s.RefreshToken(ctx, "", f.token.Hash)
		checkErr(t, "RefreshToken by hash", err, nil)
		checkToken(t, tok, f.token)
		checkSession(t, sess, f.session)

		_, err = s.Session(ctx, "sess-2")
		checkErr(t, "Session of a missing id", err, latch.ErrNotFound)
		_, _, err = s.RefreshToken(ctx, "", hashOf("unknown"))
		checkErr(t, "RefreshToken of an unknown hash", err, latch.ErrNotFound)
		_, _, err = s.RefreshToken(ctx, "sess-2", f.token.Hash)
		checkErr(t, "RefreshToken in a missing session", err, latch.ErrNotFound)
	})

	t.Run("CreateSessionDuplicate", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		u := mustUser(t, s, "alice")
		f := mustSession(t, s, u.ID, "sess-1", at(0), at(24*time.Hour))

		// The same id again fails, and its token is not stored either.
		again := &latch.Session{ID: "sess-1", UserID: u.ID, CreatedAt: at(time.Hour), LastUsedAt: at(time.Hour), ExpiresAt: at(48 * time.Hour)}
		first := &latch.RefreshToken{Hash: hashOf("again"), SessionID: "sess-1", IssuedAt: at(time.Hour), ExpiresAt: at(48 * time.Hour)}
		if err := s.CreateSession(ctx, again, first); err == nil {
			t.Fatalf("CreateSession with a duplicate id succeeded")
		}
		checkStored(t, s, first.SessionID, first.Hash, nil)
		checkSession(t, mustGetSession(t, s, "sess-1"), f.session)
	})

	t.Run("Touch", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		u := mustUser(t, s, "alice")
		live := mustSession(t, s, u.ID, "live", at(0), at(24*time.Hour))
		spent := mustSession(t, s, u.ID, "spent", at(0), at(24*time.Hour))
		r := rotation(spent.token, "spent/1", at(time.Minute))
		if _, _, err := s.Rotate(ctx, r); err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		revoked := mustSession(t, s, u.ID, "revoked", at(0), at(24*time.Hour))
		if _, err := s.RevokeSession(ctx, "revoked", latch.ReasonLogout, at(time.Minute)); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
		expired := mustSession(t, s, u.ID, "expired", at(-2*time.Hour), at(-time.Hour))

		tests := []struct {
			name    string
			sid     string
			hash    string
			session *latch.Session // as stored before
			now     time.Time
			wantErr error
		}{
			{"unspent", "live", live.token.Hash, live.session, at(time.Hour), nil},
			{"spent", "spent", spent.token.Hash, spent.session, at(time.Hour), latch.ErrTokenSpent},
			{"revoked session", "revoked", revoked.token.Hash, revoked.session, at(time.Hour), latch.ErrSessionRevoked},
			{"expired session", "expired", expired.token.Hash, expired.session, at(time.Hour), latch.ErrSessionRevoked},
			{"at expiry", "live", live.token.Hash, live.session, at(24 * time.Hour), latch.ErrSessionRevoked},
			{"unknown session", "missing", hashOf("unknown"), nil, at(time.Hour), latch.ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var before *latch.Session
				if tt.session != nil {
					before = mustGetSession(t, s, tt.session.ID)
				}
				got, err := s.Touch(ctx, tt.sid, tt.hash, tt.now)
				checkErr(t, "Touch", err, tt.wantErr)
				if tt.wantErr == nil {
					want := *before
					want.LastUsedAt = tt.now
					checkSession(t, got, &want)
					checkSession(t, mustGetSession(t, s, want.ID), &want)
					checkStored(t, s, tt.sid, tt.hash, live.token) // still unspent
					return
				}
				if before != nil {
					checkSession(t, mustGetSession(t, s, before.ID), before) // unchanged
				}
			})
		}

		// Touch of a spent token reports the record, as Rotate does.
		_, err := s.Touch(ctx, "spent", spent.token.Hash, at(time.Hour))
		var se *latch.SpentError
		if !errors.As(err, &se) {
			t.Fatalf("Touch of a spent token: error %v is not a *latch.SpentError", err)
		}
		checkToken(t, se.Token, spentBy(spent.token, r))
	})
}
