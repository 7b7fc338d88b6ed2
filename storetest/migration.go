package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

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
