package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch-auth/latch"
)

// together runs fn(0..n-1) in n goroutines released at once, and waits.
func together(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

func testConcurrency(t *testing.T, newStore func(*testing.T) Store) {
	// One refresh token yields at most one successor, however many
	// callers present it at once (SPEC §5.2); the others learn which.
	// Several rounds, each spending the previous winner's successor, so
	// that later rounds meet a warm connection pool.
	t.Run("RotateOnce", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		u := mustUser(t, s, "alice")
		f := mustSession(t, s, u.ID, "sess", at(0), at(24*time.Hour))
		const rounds, n = 8, 50
		token := f.token
		for round := range rounds {
			won := rotateOnce(t, s, token, round, n)
			want := *f.session
			want.LastUsedAt = won.Now
			checkSession(t, mustGetSession(t, s, "sess"), &want)
			if t.Failed() {
				t.Fatalf("round %d of %d failed", round+1, rounds)
			}
			token = &won.Next
		}
	})

	// Rotations of different sessions do not get in each other's way.
	t.Run("RotateMany", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		const n = 20
		users := []*latch.User{mustUser(t, s, "alice"), mustUser(t, s, "bob"), mustUser(t, s, "carol")}
		fs := make([]fixture, n)
		for i := range fs {
			fs[i] = mustSession(t, s, users[i%len(users)].ID, fmt.Sprintf("sess-%d", i), at(0), at(24*time.Hour))
		}
		rotations := make([]latch.Rotation, n)
		for i, f := range fs {
			rotations[i] = rotation(f.token, fmt.Sprintf("next-%d", i), at(time.Hour))
		}
		errs := make([]error, n)
		together(n, func(i int) { _, _, errs[i] = s.Rotate(ctx, rotations[i]) })
		for i, err := range errs {
			checkErr(t, fmt.Sprintf("Rotate %d", i), err, nil)
			checkStored(t, s, fs[i].token.SessionID, fs[i].token.Hash, spentBy(fs[i].token, rotations[i]))
			checkStored(t, s, rotations[i].Next.SessionID, rotations[i].Next.Hash, &rotations[i].Next)
		}
	})

	// Rotate racing RevokeSession: the rotation either happened before the
	// revocation or stored nothing at all.
	t.Run("RotateVsRevoke", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		u := mustUser(t, s, "alice")
		const n = 20
		fs := make([]fixture, n)
		rotations := make([]latch.Rotation, n)
		for i := range fs {
			fs[i] = mustSession(t, s, u.ID, fmt.Sprintf("sess-%d", i), at(0), at(24*time.Hour))
			rotations[i] = rotation(fs[i].token, fmt.Sprintf("next-%d", i), at(time.Hour))
		}
		errs := make([]error, 2*n)
		together(2*n, func(i int) {
			if i < n {
				_, _, errs[i] = s.Rotate(ctx, rotations[i])
			} else {
				_, errs[i] = s.RevokeSession(ctx, fs[i-n].session.ID, latch.ReasonAdmin, at(time.Hour))
			}
		})
		for i, f := range fs {
			checkErr(t, fmt.Sprintf("RevokeSession %d", i), errs[n+i], nil)
			sess := mustGetSession(t, s, f.session.ID)
			checkTime(t, "RevokedAt", sess.RevokedAt, at(time.Hour))
			switch err := errs[i]; {
			case err == nil:
				checkStored(t, s, f.token.SessionID, f.token.Hash, spentBy(f.token, rotations[i]))
				checkStored(t, s, rotations[i].Next.SessionID, rotations[i].Next.Hash, &rotations[i].Next)
			case errors.Is(err, latch.ErrSessionRevoked):
				checkStored(t, s, f.token.SessionID, f.token.Hash, f.token)
				checkStored(t, s, rotations[i].Next.SessionID, rotations[i].Next.Hash, nil)
			default:
				t.Errorf("Rotate %d: error %v, want nil or ErrSessionRevoked", i, err)
			}
		}
	})

	// Usernames differing only in case race for one account.
	t.Run("CreateUserOnce", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		const n = 20
		errs := make([]error, n)
		together(n, func(i int) {
			name := []byte("concurrent")
			for j := range name {
				if i&(1<<j) != 0 {
					name[j] -= 'a' - 'A'
				}
			}
			errs[i] = s.CreateUser(ctx, &latch.User{Username: string(name), PasswordHash: "h", IsActive: true})
		})
		created := 0
		for i, err := range errs {
			switch {
			case err == nil:
				created++
			case !errors.Is(err, latch.ErrUsernameTaken):
				t.Errorf("CreateUser %d: error %v, want nil or ErrUsernameTaken", i, err)
			}
		}
		if created != 1 {
			t.Errorf("%d CreateUser calls succeeded, want 1", created)
		}
		got, err := s.UserByUsername(ctx, "CONCURRENT")
		checkErr(t, "UserByUsername", err, nil)
		if !strings.EqualFold(got.Username, "concurrent") {
			t.Errorf("Username = %q, want some case of %q", got.Username, "concurrent")
		}
	})
}

// rotateOnce has n goroutines rotate token at once, checks that exactly
// one succeeded and the others were told of its successor, and returns
// the winning rotation.
func rotateOnce(t *testing.T, s Store, token *latch.RefreshToken, round, n int) latch.Rotation {
	t.Helper()
	ctx := t.Context()
	rotations := make([]latch.Rotation, n)
	for i := range rotations {
		rotations[i] = rotation(token, fmt.Sprintf("next-%d-%d", round, i), at(time.Duration(round+1)*time.Hour+time.Duration(i)*time.Millisecond))
		rotations[i].ReuseInterval = time.Minute // the losers are duplicates, not thieves
	}
	sessions := make([]*latch.Session, n)
	errs := make([]error, n)
	together(n, func(i int) { sessions[i], _, errs[i] = s.Rotate(ctx, rotations[i]) })

	winner := -1
	for i, err := range errs {
		if err != nil {
			continue
		}
		if winner >= 0 {
			t.Errorf("Rotate %d and Rotate %d of one token both succeeded", winner, i)
		}
		winner = i
	}
	if winner < 0 {
		t.Fatalf("no Rotate succeeded; Rotate 0: %v", errs[0])
	}
	won := rotations[winner]
	if sessions[winner] == nil {
		t.Fatalf("Rotate returned a nil session")
	}
	checkTime(t, "LastUsedAt", sessions[winner].LastUsedAt, won.Now)
	failures := 0
	for i, err := range errs {
		if i == winner {
			continue
		}
		var se *latch.SpentError
		if !errors.As(err, &se) || !errors.Is(err, latch.ErrTokenSpent) {
			if failures++; failures <= 5 {
				t.Errorf("Rotate %d: error %v, want a *latch.SpentError", i, err)
			}
			continue
		}
		checkToken(t, se.Token, spentBy(token, won))
	}
	if failures > 5 {
		t.Errorf("... %d Rotate calls in all failed with the wrong error", failures)
	}

	checkStored(t, s, token.SessionID, token.Hash, spentBy(token, won))
	for i, r := range rotations {
		if i == winner {
			checkStored(t, s, r.Next.SessionID, r.Next.Hash, &r.Next)
		} else {
			checkStored(t, s, r.Next.SessionID, r.Next.Hash, nil)
		}
	}
	return won
}
