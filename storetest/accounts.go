package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch"
)

// testAccounts covers what account management needs of a UserStore:
// unique emails, lookups by email, profile updates, listing and deletion.
func testAccounts(t *testing.T, newStore func(*testing.T) Store) {
	t.Run("EmailTaken", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		tests := []struct {
			name          string
			first, second string
			taken         bool
		}{
			{"same", "a@example.com", "a@example.com", true},
			{"upper", "a@example.com", "A@EXAMPLE.COM", true},
			{"mixed", "Ann.Lee@Example.com", "ann.lee@example.COM", true},
			{"non-ASCII", "émile@example.com", "ÉMILE@example.com", true},
			{"different", "a@example.com", "b@example.com", false},
			{"empty twice", "", "", false},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				// Prefixes keep the cases apart in one store.
				prefix := fmt.Sprintf("case%d.", i)
				email := func(e string) string {
					if e == "" {
						return ""
					}
					return prefix + e
				}
				first := &latch.User{Username: prefix + "first", Email: email(tt.first), PasswordHash: "h", IsActive: true}
				checkErr(t, "CreateUser", s.CreateUser(t.Context(), first), nil)
				second := &latch.User{Username: prefix + "second", Email: email(tt.second), PasswordHash: "h", IsActive: true}
				err := s.CreateUser(t.Context(), second)
				if !tt.taken {
					checkErr(t, "CreateUser", err, nil)
					return
				}
				checkErr(t, "CreateUser", err, latch.ErrEmailTaken)
				if _, err := s.UserByUsername(t.Context(), prefix+"second"); err == nil {
					t.Errorf("the refused user was stored")
				}
				got, err := s.UserByEmail(t.Context(), email(tt.second))
				checkErr(t, "UserByEmail", err, nil)
				checkUser(t, got, first)
			})
		}
		// A username clash is still reported as such when the email is free.
		err := s.CreateUser(t.Context(), &latch.User{Username: "case0.first", Email: "free@example.com", PasswordHash: "h"})
		checkErr(t, "CreateUser with a taken username", err, latch.ErrUsernameTaken)
	})

	t.Run("UserByEmail", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		alice := &latch.User{Username: "alice", Email: "Alice@Example.com", PasswordHash: "h", IsActive: true}
		checkErr(t, "CreateUser", s.CreateUser(t.Context(), alice), nil)
		mustUser(t, s, "noemail")
		tests := []struct {
			lookup string
			want   *latch.User // nil: ErrNotFound
		}{
			{"Alice@Example.com", alice},
			{"alice@example.com", alice},
			{"ALICE@EXAMPLE.COM", alice},
			{"alice@example.co", nil},
			{"alice@example.com ", nil},
			{"%@example.com", nil},
			{"alice", nil},
			{"", nil},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%q", tt.lookup), func(t *testing.T) {
				got, err := s.UserByEmail(t.Context(), tt.lookup)
				if tt.want == nil {
					checkErr(t, "UserByEmail", err, latch.ErrNotFound)
					return
				}
				checkErr(t, "UserByEmail", err, nil)
				checkUser(t, got, tt.want)
			})
		}
	})

	t.Run("UpdateUser", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		str := func(v string) *string { return &v }
		yes, no := true, false
		other := &latch.User{Username: "other", Email: "other@example.com", PasswordHash: "h", IsActive: true}
		checkErr(t, "CreateUser", s.CreateUser(t.Context(), other), nil)
		tests := []struct {
			name    string
			patch   latch.UserPatch
			want    func(u *latch.User) // nil: the update fails with err
			wantErr error
		}{
			{"nothing", latch.UserPatch{}, func(u *latch.User) {}, nil},
			{"username", latch.UserPatch{Username: str("Renamed")}, func(u *latch.User) { u.Username = "Renamed" }, nil},
			{"role", latch.UserPatch{Role: str("admin")}, func(u *latch.User) { u.Role = "admin" }, nil},
			{"new email clears verified", latch.UserPatch{Email: str("new@example.com")}, func(u *latch.User) {
				u.Email, u.EmailVerified = "new@example.com", false
			}, nil},
			{"same email in other case keeps verified", latch.UserPatch{Email: str("ME@EXAMPLE.COM")}, func(u *latch.User) {
				u.Email = "ME@EXAMPLE.COM"
			}, nil},
			{"new email verified", latch.UserPatch{Email: str("new@example.com"), EmailVerified: &yes}, func(u *latch.User) {
				u.Email = "new@example.com"
			}, nil},
			{"unverify", latch.UserPatch{EmailVerified: &no}, func(u *latch.User) { u.EmailVerified = false }, nil},
			{"clear email", latch.UserPatch{Email: str("")}, func(u *latch.User) { u.Email, u.EmailVerified = "", false }, nil},
			{"all", latch.UserPatch{Username: str("all"), Email: str("all@example.com"), EmailVerified: &yes, Role: str("staff")}, func(u *latch.User) {
				u.Username, u.Email, u.Role = "all", "all@example.com", "staff"
			}, nil},
			{"username taken", latch.UserPatch{Username: str("OTHER")}, nil, latch.ErrUsernameTaken},
			{"email taken", latch.UserPatch{Email: str("Other@Example.com")}, nil, latch.ErrEmailTaken},
			{"email taken, with a rename", latch.UserPatch{Username: str("fresh"), Email: str("other@example.com")}, nil, latch.ErrEmailTaken},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := t.Context()
				u := &latch.User{
					Username: fmt.Sprintf("user%d", i), Email: "me@example.com", EmailVerified: true,
					PasswordHash: "h", Role: "user", IsActive: true, TokenVersion: 2, CreatedAt: at(-time.Hour),
				}
				checkErr(t, "CreateUser", s.CreateUser(ctx, u), nil)
				// One user of this address at a time: the table's others
				// were given theirs under their own names below.
				t.Cleanup(func() { s.DeleteUser(context.Background(), u.ID) })
				got, err := s.UpdateUser(ctx, u.ID, tt.patch)
				stored, serr := s.UserByID(ctx, u.ID)
				checkErr(t, "UserByID", serr, nil)
				if tt.want == nil {
					checkErr(t, "UpdateUser", err, tt.wantErr)
					checkUser(t, stored, u) // nothing changed
					return
				}
				checkErr(t, "UpdateUser", err, nil)
				want := *u
				tt.want(&want)
				checkUser(t, got, &want)
				checkUser(t, stored, &want)
				if tt.patch.Email != nil && *tt.patch.Email != "" {
					byEmail, err := s.UserByEmail(ctx, strings.ToUpper(*tt.patch.Email))
					checkErr(t, "UserByEmail(new address)", err, nil)
					checkUser(t, byEmail, &want)
				}
			})
		}
		_, err := s.UpdateUser(t.Context(), other.ID+1000, latch.UserPatch{Role: str("admin")})
		checkErr(t, "UpdateUser of a missing user", err, latch.ErrNotFound)
		got, err := s.UserByID(t.Context(), other.ID)
		checkErr(t, "UserByID", err, nil)
		checkUser(t, got, other)
	})

	t.Run("ListUsers", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		var all []*latch.User
		for _, u := range []struct {
			name, email, role string
			inactive          bool
		}{
			{"alice", "alice@example.com", "admin", false},
			{"Bob", "bob@Example.org", "user", true},
			{"carol", "", "user", false},
			{"dave_100", "d@corp.example", "staff", false},
			{"Émile", "emile@example.com", "user", true},
			{"frank%", "frank@corp.example", "staff", false},
		} {
			v := &latch.User{Username: u.name, Email: u.email, PasswordHash: "h", Role: u.role, IsActive: !u.inactive}
			checkErr(t, "CreateUser", s.CreateUser(t.Context(), v), nil)
			all = append(all, v)
		}
		tests := []struct {
			name  string
			query latch.UserQuery
			want  []*latch.User
			total int64
		}{
			{"all", latch.UserQuery{}, all, 6},
			{"first page", latch.UserQuery{Limit: 2}, all[:2], 6},
			{"second page", latch.UserQuery{Offset: 2, Limit: 2}, all[2:4], 6},
			{"last page", latch.UserQuery{Offset: 4, Limit: 4}, all[4:], 6},
			{"past the end", latch.UserQuery{Offset: 10, Limit: 2}, nil, 6},
			{"username", latch.UserQuery{Search: "CAROL"}, all[2:3], 1},
			{"email domain", latch.UserQuery{Search: "example.com"}, []*latch.User{all[0], all[4]}, 2},
			{"email, other case", latch.UserQuery{Search: "EXAMPLE.ORG"}, all[1:2], 1},
			{"non-ASCII", latch.UserQuery{Search: "émi"}, all[4:5], 1},
			{"username or email", latch.UserQuery{Search: "corp"}, []*latch.User{all[3], all[5]}, 2},
			{"search paged", latch.UserQuery{Search: "corp", Offset: 1, Limit: 1}, all[5:6], 2},
			{"underscore is literal", latch.UserQuery{Search: "_1"}, all[3:4], 1},
			{"percent is literal", latch.UserQuery{Search: "%"}, all[5:6], 1},
			{"no match", latch.UserQuery{Search: "zed"}, nil, 0},
			{"role", latch.UserQuery{Role: "staff"}, []*latch.User{all[3], all[5]}, 2},
			{"role, paged", latch.UserQuery{Role: "user", Offset: 1, Limit: 1}, all[2:3], 3},
			{"no such role", latch.UserQuery{Role: "Staff"}, nil, 0},
			{"inactive", latch.UserQuery{Active: new(false)}, []*latch.User{all[1], all[4]}, 2},
			{"active", latch.UserQuery{Active: new(true)}, []*latch.User{all[0], all[2], all[3], all[5]}, 4},
			{"every filter", latch.UserQuery{Search: "example.com", Role: "user", Active: new(false)}, all[4:5], 1},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, total, err := s.ListUsers(t.Context(), tt.query)
				checkErr(t, "ListUsers", err, nil)
				if total != tt.total {
					t.Errorf("total = %d, want %d", total, tt.total)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("got %d users, want %d", len(got), len(tt.want))
				}
				for i := range got {
					checkUser(t, &got[i], tt.want[i])
				}
			})
		}
	})

	t.Run("DeleteUser", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		u := &latch.User{Username: "gone", Email: "gone@example.com", PasswordHash: "h", IsActive: true}
		checkErr(t, "CreateUser", s.CreateUser(ctx, u), nil)
		bystander := mustUser(t, s, "stays")
		f := mustSession(t, s, u.ID, "sess-gone", at(0), at(24*time.Hour))
		kept := mustSession(t, s, bystander.ID, "sess-kept", at(0), at(24*time.Hour))

		checkErr(t, "DeleteUser", s.DeleteUser(ctx, u.ID), nil)
		_, err := s.UserByID(ctx, u.ID)
		checkErr(t, "UserByID of a deleted user", err, latch.ErrNotFound)
		_, err = s.Session(ctx, f.session.ID)
		checkErr(t, "Session of a deleted user", err, latch.ErrNotFound)
		_, _, err = s.RefreshToken(ctx, f.session.ID, f.token.Hash)
		checkErr(t, "RefreshToken of a deleted user", err, latch.ErrNotFound)
		checkSession(t, mustGetSession(t, s, kept.session.ID), kept.session)
		checkErr(t, "DeleteUser again", s.DeleteUser(ctx, u.ID), latch.ErrNotFound)

		// The username and the address are free again.
		again := &latch.User{Username: "GONE", Email: "GONE@example.com", PasswordHash: "h", IsActive: true}
		checkErr(t, "CreateUser with a deleted user's name and email", s.CreateUser(ctx, again), nil)
	})
}
