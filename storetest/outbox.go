package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latch-auth/latch"
)

// mailStore is what the outbox and account-token tests need.
type mailStore interface {
	Store
	latch.MailOutbox
	latch.AccountTokenStore
}

func asMailStore(t *testing.T, s Store) mailStore {
	t.Helper()
	ms, ok := s.(mailStore)
	if !ok {
		t.Fatalf("%T has no mail outbox or account tokens", s)
	}
	return ms
}

func testOutbox(t *testing.T, newStore func(*testing.T) Store) {
	t.Run("ClaimRetryDelete", func(t *testing.T) {
		t.Parallel()
		s := asMailStore(t, newStore(t))
		ctx := t.Context()
		var ids []int64
		for i, to := range []string{"a@example.com", "b@example.com", "c@example.com"} {
			m := &latch.MailMessage{From: "latch@example.com", To: to, Body: []byte("Subject: " + to + "\r\n\r\nbody\x00\xff"), CreatedAt: at(time.Duration(i) * time.Second)}
			checkErr(t, "EnqueueMail", s.EnqueueMail(ctx, m), nil)
			if m.ID <= 0 {
				t.Fatalf("EnqueueMail set ID %d", m.ID)
			}
			ids = append(ids, m.ID)
		}
		now := at(time.Minute)
		got, err := s.ClaimMail(ctx, now, time.Minute, 2)
		checkErr(t, "ClaimMail", err, nil)
		if len(got) != 2 || got[0].ID != ids[0] || got[1].ID != ids[1] {
			t.Fatalf("ClaimMail(limit 2) = %+v, want the two oldest", got)
		}
		if got[0].To != "a@example.com" || got[0].From != "latch@example.com" || string(got[0].Body) != "Subject: a@example.com\r\n\r\nbody\x00\xff" || got[0].Attempts != 1 {
			t.Errorf("claimed message = %+v", got[0])
		}
		checkTime(t, "CreatedAt", got[0].CreatedAt, at(0))
		// Claimed messages are nobody else's until the lease ends.
		rest, err := s.ClaimMail(ctx, now.Add(30*time.Second), time.Minute, 10)
		checkErr(t, "ClaimMail", err, nil)
		if len(rest) != 1 || rest[0].ID != ids[2] {
			t.Fatalf("second ClaimMail = %+v, want only the third message", rest)
		}
		checkErr(t, "DeleteMail", s.DeleteMail(ctx, ids[0]), nil)
		checkErr(t, "DeleteMail again", s.DeleteMail(ctx, ids[0]), nil)
		checkErr(t, "RetryMail", s.RetryMail(ctx, ids[1], now.Add(10*time.Minute), "smtp: connection refused \xff"), nil)
		// The third one's lease ends (its sender died): it is due again; the
		// second waits for its retry time.
		again, err := s.ClaimMail(ctx, now.Add(2*time.Minute), time.Hour, 10)
		checkErr(t, "ClaimMail", err, nil)
		if len(again) != 1 || again[0].ID != ids[2] || again[0].Attempts != 2 {
			t.Fatalf("ClaimMail after the lease = %+v, want the third message, attempt 2", again)
		}
		later, err := s.ClaimMail(ctx, now.Add(10*time.Minute), time.Minute, 10)
		checkErr(t, "ClaimMail", err, nil)
		if len(later) != 1 || later[0].ID != ids[1] || later[0].Attempts != 2 {
			t.Fatalf("ClaimMail at the retry time = %+v, want the second message, attempt 2", later)
		}
		n, err := s.PruneMail(ctx, at(2*time.Second))
		checkErr(t, "PruneMail", err, nil)
		if n != 1 { // the second; the first is deleted, the third is newer
			t.Errorf("PruneMail = %d, want 1", n)
		}
		left, err := s.ClaimMail(ctx, now.Add(3*time.Hour), time.Minute, 10)
		checkErr(t, "ClaimMail", err, nil)
		if len(left) != 1 || left[0].ID != ids[2] {
			t.Errorf("after PruneMail: %+v, want the third message only", left)
		}
	})
	t.Run("ConcurrentClaims", func(t *testing.T) {
		t.Parallel()
		s := asMailStore(t, newStore(t))
		ctx := t.Context()
		const messages, claimers = 30, 6
		for i := range messages {
			checkErr(t, "EnqueueMail", s.EnqueueMail(ctx, &latch.MailMessage{From: "f@example.com", To: "t@example.com", Body: []byte{byte(i)}, CreatedAt: at(0)}), nil)
		}
		var mu sync.Mutex
		seen := map[int64]int{}
		var wg sync.WaitGroup
		for range claimers {
			wg.Go(func() {
				for {
					got, err := s.ClaimMail(ctx, at(time.Minute), time.Hour, 3)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, m := range got {
						seen[m.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != messages {
			t.Errorf("%d messages claimed, want %d", len(seen), messages)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("message %d claimed %d times", id, n)
			}
		}
	})
}

func testAccountTokens(t *testing.T, newStore func(*testing.T) Store) {
	t.Parallel()
	s := asMailStore(t, newStore(t))
	ctx := t.Context()
	u := &latch.User{Username: "reset", Email: "reset@example.com", PasswordHash: "h", IsActive: true}
	checkErr(t, "CreateUser", s.CreateUser(ctx, u), nil)
	put := func(hash, kind, email string, expires time.Time) {
		t.Helper()
		checkErr(t, "PutAccountToken", s.PutAccountToken(ctx, &latch.AccountToken{Hash: hash, Kind: kind, UserID: u.ID, Email: email, CreatedAt: at(0), ExpiresAt: expires}), nil)
	}
	put(hashOf("r1"), latch.AccountTokenPasswordReset, "", at(time.Hour))
	put(hashOf("r2"), latch.AccountTokenPasswordReset, "", at(time.Hour))
	put(hashOf("e1"), latch.AccountTokenEmail, "new@example.com", at(time.Hour))
	put(hashOf("old"), latch.AccountTokenEmail, "", at(-time.Minute))

	got, err := s.AccountToken(ctx, latch.AccountTokenEmail, hashOf("e1"), at(time.Minute))
	checkErr(t, "AccountToken", err, nil)
	if got.UserID != u.ID || got.Email != "new@example.com" || got.Kind != latch.AccountTokenEmail || got.Hash != hashOf("e1") {
		t.Errorf("AccountToken = %+v", got)
	}
	checkTime(t, "ExpiresAt", got.ExpiresAt, at(time.Hour))
	checkTime(t, "CreatedAt", got.CreatedAt, at(0))
	tests := []struct {
		name, kind, hash string
		now              time.Time
		want             error
	}{
		{"other kind", latch.AccountTokenPasswordReset, hashOf("e1"), at(0), latch.ErrNotFound},
		{"expired", latch.AccountTokenEmail, hashOf("e1"), at(time.Hour), latch.ErrNotFound},
		{"unknown", latch.AccountTokenEmail, hashOf("nope"), at(0), latch.ErrNotFound},
		{"valid", latch.AccountTokenEmail, hashOf("e1"), at(0), nil},
	}
	for _, tt := range tests {
		_, err := s.AccountToken(ctx, tt.kind, tt.hash, tt.now)
		checkErr(t, "AccountToken "+tt.name, err, tt.want)
	}
	// Single use: of many takers, one gets it.
	var wg sync.WaitGroup
	var mu sync.Mutex
	taken := 0
	for range 8 {
		wg.Go(func() {
			_, err := s.TakeAccountToken(ctx, latch.AccountTokenPasswordReset, hashOf("r1"), at(time.Minute))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				taken++
			case !errors.Is(err, latch.ErrNotFound):
				t.Errorf("TakeAccountToken: %v", err)
			}
		})
	}
	wg.Wait()
	if taken != 1 {
		t.Errorf("token taken %d times, want once", taken)
	}
	_, err = s.TakeAccountToken(ctx, latch.AccountTokenEmail, hashOf("old"), at(0))
	checkErr(t, "TakeAccountToken expired", err, latch.ErrNotFound)
	checkErr(t, "DeleteAccountTokens", s.DeleteAccountTokens(ctx, u.ID, latch.AccountTokenPasswordReset, ""), nil)
	_, err = s.AccountToken(ctx, latch.AccountTokenPasswordReset, hashOf("r2"), at(0))
	checkErr(t, "reset token after DeleteAccountTokens", err, latch.ErrNotFound)
	_, err = s.AccountToken(ctx, latch.AccountTokenEmail, hashOf("e1"), at(0))
	checkErr(t, "email key after deleting reset tokens", err, nil)
	n, err := s.PurgeAccountTokens(ctx, at(0))
	checkErr(t, "PurgeAccountTokens", err, nil)
	if n != 1 {
		t.Errorf("PurgeAccountTokens = %d, want 1 (the expired one)", n)
	}
	// All but one: a new key replaces the user's older ones.
	put(hashOf("e2"), latch.AccountTokenEmail, "newer@example.com", at(time.Hour))
	checkErr(t, "DeleteAccountTokens except", s.DeleteAccountTokens(ctx, u.ID, latch.AccountTokenEmail, hashOf("e2")), nil)
	_, err = s.AccountToken(ctx, latch.AccountTokenEmail, hashOf("e1"), at(0))
	checkErr(t, "older email key after DeleteAccountTokens except", err, latch.ErrNotFound)
	_, err = s.AccountToken(ctx, latch.AccountTokenEmail, hashOf("e2"), at(0))
	checkErr(t, "kept email key", err, nil)
}

// testChangePasswordByLink: a password change spends the reset link it
// names in its own transaction, and any change ends the user's other
// reset links but nothing else.
func testChangePasswordByLink(t *testing.T, newStore func(*testing.T) Store) {
	t.Parallel()
	s := asMailStore(t, newStore(t))
	ctx := t.Context()
	u := mustUser(t, s, "alice")
	v := mustUser(t, s, "bob")
	mustSession(t, s, u.ID, "alices", at(0), at(24*time.Hour))
	put := func(name, kind string, user int64, expires time.Time) {
		t.Helper()
		checkErr(t, "PutAccountToken", s.PutAccountToken(ctx, &latch.AccountToken{Hash: hashOf(name), Kind: kind, UserID: user, CreatedAt: at(0), ExpiresAt: expires}), nil)
	}
	put("r1", latch.AccountTokenPasswordReset, u.ID, at(2*time.Hour))
	put("r2", latch.AccountTokenPasswordReset, u.ID, at(2*time.Hour))
	put("expired", latch.AccountTokenPasswordReset, u.ID, at(30*time.Minute))
	put("bobs", latch.AccountTokenPasswordReset, v.ID, at(2*time.Hour))
	put("verify", latch.AccountTokenEmail, u.ID, at(2*time.Hour))
	now := at(time.Hour)
	exists := func(name, kind string) bool {
		t.Helper()
		_, err := s.AccountToken(ctx, kind, hashOf(name), at(0))
		if err != nil && !errors.Is(err, latch.ErrNotFound) {
			t.Fatalf("AccountToken %s: %v", name, err)
		}
		return err == nil
	}
	unchanged := func(what string) {
		t.Helper()
		got, err := s.UserByID(ctx, u.ID)
		checkErr(t, "UserByID", err, nil)
		if got.PasswordHash != u.PasswordHash || got.TokenVersion != 0 {
			t.Errorf("%s changed the user: hash %q, version %d", what, got.PasswordHash, got.TokenVersion)
		}
		if !exists("r1", latch.AccountTokenPasswordReset) || !exists("r2", latch.AccountTokenPasswordReset) {
			t.Errorf("%s spent a reset link", what)
		}
		if !exists("verify", latch.AccountTokenEmail) || !exists("bobs", latch.AccountTokenPasswordReset) {
			t.Errorf("%s took an email key or another user's link", what)
		}
		if active, err := s.ActiveSessions(ctx, u.ID, now); err != nil || len(active) != 1 {
			t.Errorf("%s: active sessions %v, %v; want alices", what, active, err)
		}
	}

	// Links that are not alice's live ones change nothing.
	for _, tt := range []struct{ name, link string }{
		{"an expired link", "expired"},
		{"another user's link", "bobs"},
		{"an unknown link", "nope"},
		{"an email key", "verify"},
	} {
		_, _, err := s.ChangePassword(ctx, latch.PasswordChange{UserID: u.ID, Hash: "argon2id$x", Now: now, ResetToken: hashOf(tt.link)})
		checkErr(t, "ChangePassword with "+tt.name, err, latch.ErrNotFound)
		unchanged(tt.name)
	}

	_, revoked, err := s.ChangePassword(ctx, latch.PasswordChange{UserID: u.ID, Hash: "argon2id$reset", Now: now, ResetToken: hashOf("r1")})
	checkErr(t, "ChangePassword by link", err, nil)
	if len(revoked) != 1 || revoked[0].ID != "alices" {
		t.Errorf("ChangePassword by link revoked %+v, want alices", revoked)
	}
	if exists("r1", latch.AccountTokenPasswordReset) || exists("r2", latch.AccountTokenPasswordReset) {
		t.Error("a reset link outlived the reset")
	}
	if !exists("verify", latch.AccountTokenEmail) || !exists("bobs", latch.AccountTokenPasswordReset) {
		t.Error("the reset took an email key or another user's link")
	}
	// The spent link cannot change the password again.
	_, _, err = s.ChangePassword(ctx, latch.PasswordChange{UserID: u.ID, Hash: "argon2id$again", Now: now, ResetToken: hashOf("r1")})
	checkErr(t, "ChangePassword with a spent link", err, latch.ErrNotFound)
	got, err := s.UserByID(ctx, u.ID)
	checkErr(t, "UserByID", err, nil)
	if got.PasswordHash != "argon2id$reset" {
		t.Errorf("hash %q after the spent link, want the reset's", got.PasswordHash)
	}

	// A change without a link ends the links mailed before it.
	put("r3", latch.AccountTokenPasswordReset, u.ID, at(2*time.Hour))
	_, _, err = s.ChangePassword(ctx, latch.PasswordChange{UserID: u.ID, Hash: "argon2id$changed", Now: now})
	checkErr(t, "ChangePassword", err, nil)
	if exists("r3", latch.AccountTokenPasswordReset) {
		t.Error("a reset link outlived a password change")
	}

	// Of concurrent changes with one link, or with two links of the user,
	// one happens; a change without a link beside them happens too.
	for _, links := range [][]string{{"r4", "r4", "r4", "r4"}, {"r5", "r6", "r5", "r6"}, {"r7", "r7", ""}} {
		for _, l := range slices.Compact(slices.Sorted(slices.Values(links))) {
			if l != "" {
				put(l, latch.AccountTokenPasswordReset, u.ID, at(2*time.Hour))
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, len(links))
		for i, l := range links {
			c := latch.PasswordChange{UserID: u.ID, Hash: "argon2id$race", Now: now}
			if l != "" {
				c.ResetToken = hashOf(l)
			}
			wg.Go(func() { _, _, errs[i] = s.ChangePassword(ctx, c) })
		}
		wg.Wait()
		byLink, plain := 0, 0
		for i, err := range errs {
			switch {
			case err == nil && links[i] == "":
				plain++
			case err == nil:
				byLink++
			case !errors.Is(err, latch.ErrNotFound) || links[i] == "":
				t.Errorf("concurrent ChangePassword %v, %q: %v", links, links[i], err)
			}
		}
		if byLink > 1 || (byLink == 0 && plain == 0) {
			t.Errorf("concurrent changes %v: %d by a link happened, want 1 (or 0 after the change without one)", links, byLink)
		}
		for _, l := range links {
			if l != "" && exists(l, latch.AccountTokenPasswordReset) {
				t.Errorf("concurrent changes %v: link %s outlived them", links, l)
			}
		}
	}
}
