package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch"
)

// Legacy is a database as a latch before migration 00004 (unique emails)
// left it, for TestAccountsMigration.
type Legacy interface {
	// Open opens the database as latch does, applying pending migrations.
	Open(t *testing.T) (Store, error)
	// ClearEmails blanks the email of every user but keep, as an operator
	// fixing duplicates would, without migrating.
	ClearEmails(t *testing.T, keep int64)
}

// TestAccountsMigration checks that migration 00004 refuses a database
// whose users share an address in any letter case, naming every user and
// how to fix it, applies nothing then, and keys the emails so that lookups
// ignore letter case once it runs. seed creates a database at migration
// 00003 holding users 1, 2, … (usernames user1, user2, …) with emails.
func TestAccountsMigration(t *testing.T, seed func(t *testing.T, emails []string) Legacy) {
	tests := []struct {
		name   string
		emails []string
		dups   [][]int64
	}{
		{"no users", nil, nil},
		{"distinct", []string{"a@example.com", "b@example.com", "", ""}, nil},
		{"same", []string{"a@example.com", "b@example.com", "a@example.com"}, [][]int64{{1, 3}}},
		{"letter case", []string{"Ann@Example.com", "ann@example.COM", "ANN@EXAMPLE.COM", "x@example.com", "X@example.com"}, [][]int64{{1, 2, 3}, {4, 5}}},
		{"non-ASCII letter case", []string{"émile@example.com", "ÉMILE@example.com"}, [][]int64{{1, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			legacy := seed(t, tt.emails)
			s, err := legacy.Open(t)
			if tt.dups == nil {
				checkErr(t, "Open", err, nil)
				for i, e := range tt.emails {
					if e != "" {
						checkEmailOwner(t, s, strings.ToUpper(e), int64(i+1))
					}
				}
				return
			}
			var dup *latch.DuplicateEmailsError
			if !errors.As(err, &dup) {
				t.Fatalf("Open: %v, want a *latch.DuplicateEmailsError", err)
			}
			var got [][]int64
			for _, g := range dup.Groups {
				var ids []int64
				for _, o := range g {
					ids = append(ids, o.UserID)
					if want := fmt.Sprintf("user %d (user%d, %q)", o.UserID, o.UserID, o.Email); !strings.Contains(err.Error(), want) {
						t.Errorf("error does not name %s: %v", want, err)
					}
				}
				got = append(got, ids)
			}
			if !slices.EqualFunc(got, tt.dups, slices.Equal) {
				t.Errorf("groups = %v, want %v", got, tt.dups)
			}
			if !strings.Contains(err.Error(), "then run latch migrate again") {
				t.Errorf("error does not say how to fix it: %v", err)
			}
			// Nothing was applied: the operator fixes the data and retries.
			legacy.ClearEmails(t, 1)
			s, err = legacy.Open(t)
			checkErr(t, "Open after the fix", err, nil)
			checkEmailOwner(t, s, strings.ToUpper(tt.emails[0]), 1)
		})
	}
}

func checkEmailOwner(t *testing.T, s Store, email string, id int64) {
	t.Helper()
	u, err := s.UserByEmail(t.Context(), email)
	checkErr(t, fmt.Sprintf("UserByEmail(%q)", email), err, nil)
	if u.ID != id {
		t.Errorf("UserByEmail(%q) = user %d, want %d", email, u.ID, id)
	}
}

// LegacyFamilies is a database as a latch before migration 00007 (a row
// per refresh token) left it, for TestFamilyMigration. It holds user 1,
// alice.
type LegacyFamilies interface {
	// Add stores session s of user 1 and its refresh tokens as a latch
	// before 00007 did: a row each, a spent one naming its successor.
	Add(t *testing.T, s *latch.Session, tokens []latch.RefreshToken)
	// Open opens the database as latch does, applying pending migrations.
	Open(t *testing.T) (Store, error)
}

// TestFamilyMigration checks that migration 00007 gives every session its
// newest unspent token as the current one and its last spent token as the
// one that replaced, so that every token works after an upgrade as
// before it: the current one rotates, the replaced one is a duplicate
// within the grace interval, older ones are reuse, and the rows stay
// (a first token still finds its session by its hash alone).
func TestFamilyMigration(t *testing.T, seed func(t *testing.T) LegacyFamilies) {
	l := seed(t)
	day := at(24 * time.Hour)
	sess := &latch.Session{ID: "sess", UserID: 1, CreatedAt: at(0), LastUsedAt: at(0), ExpiresAt: day}
	t0 := latch.RefreshToken{Hash: hashOf("t0"), SessionID: "sess", IssuedAt: at(0), ExpiresAt: day, SpentAt: at(time.Hour),
		Successor: &latch.Successor{JTI: "j1", IssuedAt: at(time.Hour), ExpiresAt: day}}
	t1 := latch.RefreshToken{Hash: hashOf("t1"), SessionID: "sess", IssuedAt: at(time.Hour), ExpiresAt: day, SpentAt: at(2 * time.Hour),
		Successor: &latch.Successor{JTI: "j2", IssuedAt: at(2 * time.Hour), ExpiresAt: day}}
	t2 := latch.RefreshToken{Hash: hashOf("t2"), SessionID: "sess", IssuedAt: at(2 * time.Hour), ExpiresAt: day}
	l.Add(t, sess, []latch.RefreshToken{t0, t1, t2})
	fresh := &latch.Session{ID: "fresh", UserID: 1, CreatedAt: at(0), LastUsedAt: at(0), ExpiresAt: day}
	f0 := latch.RefreshToken{Hash: hashOf("f0"), SessionID: "fresh", IssuedAt: at(0), ExpiresAt: day}
	l.Add(t, fresh, []latch.RefreshToken{f0})

	s, err := l.Open(t)
	checkErr(t, "Open", err, nil)
	checkStored(t, s, "sess", t2.Hash, &t2)
	checkStored(t, s, "sess", t1.Hash, &t1)
	checkStored(t, s, "sess", t0.Hash, &latch.RefreshToken{Hash: t0.Hash, SessionID: "sess", SpentAt: t1.SpentAt})
	checkStored(t, s, "fresh", f0.Hash, &f0)
	if _, got, err := s.RefreshToken(t.Context(), "", t0.Hash); err != nil || got.ID != "sess" {
		t.Errorf("RefreshToken by the hash of a row made before: session %+v, %v; want sess", got, err)
	}
	want := *sess
	want.LastUsedAt = t2.IssuedAt
	checkSession(t, mustGetSession(t, s, "sess"), &want)

	dup := rotation(&t1, "dup", at(3*time.Hour))
	dup.ReuseInterval = 2 * time.Hour
	_, _, err = s.Rotate(t.Context(), dup)
	var se *latch.SpentError
	if !errors.As(err, &se) {
		t.Fatalf("Rotate of the replaced token within the grace interval: %v, want a *latch.SpentError", err)
	}
	checkToken(t, se.Token, &t1)
	_, _, err = s.Rotate(t.Context(), rotation(&f0, "f1", at(3*time.Hour)))
	checkErr(t, "Rotate of a session's only token", err, nil)
	_, _, err = s.Rotate(t.Context(), rotation(&t2, "t3", at(3*time.Hour)))
	checkErr(t, "Rotate of the newest token", err, nil)
	_, _, err = s.Rotate(t.Context(), rotation(&t1, "thief", at(4*time.Hour)))
	checkErr(t, "Rotate of an older token", err, latch.ErrTokenReused)
}
