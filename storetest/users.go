package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/latch-auth/latch"
)

func testUsers(t *testing.T, newStore func(*testing.T) Store) {
	t.Run("CreateUser", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		tests := []struct {
			name string
			user latch.User
		}{
			{"minimal", latch.User{Username: "alice", PasswordHash: "h1", IsActive: true}},
			{"all fields", latch.User{
				Username: "Bob.Smith@Example.com", Email: "bob@example.com", EmailVerified: true,
				PasswordHash: "pbkdf2_sha256$870000$salt$hash", Role: "admin", IsActive: true,
				TokenVersion: 3, VersionKeepSession: "sess-imported",
				LastLogin: at(-time.Hour), CreatedAt: at(-48 * time.Hour),
			}},
			{"inactive", latch.User{Username: "carol", PasswordHash: "h3", Role: "user"}},
			{"unicode", latch.User{Username: "Émile", PasswordHash: "h4", IsActive: true}},
		}
		ids := make(map[int64]string)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				u := tt.user
				before := time.Now()
				if err := s.CreateUser(t.Context(), &u); err != nil {
					t.Fatalf("CreateUser: %v", err)
				}
				after := time.Now()
				if u.ID <= 0 {
					t.Errorf("ID = %d, want > 0", u.ID)
				}
				if other, ok := ids[u.ID]; ok {
					t.Errorf("ID = %d, already given to %q", u.ID, other)
				}
				ids[u.ID] = tt.name
				if tt.user.CreatedAt.IsZero() {
					// Set by the store to about now.
					if u.CreatedAt.Before(before.Add(-time.Minute)) || u.CreatedAt.After(after.Add(time.Minute)) {
						t.Errorf("CreatedAt = %v, want about %v", u.CreatedAt, before)
					}
				} else {
					checkTime(t, "CreatedAt", u.CreatedAt, tt.user.CreatedAt)
				}
				got, err := s.UserByID(t.Context(), u.ID)
				if err != nil {
					t.Fatalf("UserByID(%d): %v", u.ID, err)
				}
				want := tt.user
				want.ID = u.ID
				want.CreatedAt = u.CreatedAt // CreateUser returns what it stored
				checkUser(t, got, &want)
			})
		}
	})

	t.Run("UsernameTaken", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		tests := []struct {
			name          string
			first, second string
			taken         bool
		}{
			{"same", "alice", "alice", true},
			{"upper", "alice", "ALICE", true},
			{"mixed", "Alice", "aLiCe", true},
			{"non-ASCII", "émile", "ÉMILE", true},
			{"different", "alice", "alice2", false},
			{"prefix", "alice", "alic", false},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				// Prefixes keep the cases apart in one store.
				prefix := fmt.Sprintf("case%d.", i)
				first := mustUser(t, s, prefix+tt.first)
				second := &latch.User{Username: prefix + tt.second, PasswordHash: "other", IsActive: true}
				err := s.CreateUser(t.Context(), second)
				if !tt.taken {
					checkErr(t, "CreateUser", err, nil)
					return
				}
				checkErr(t, "CreateUser", err, latch.ErrUsernameTaken)
				got, err := s.UserByUsername(t.Context(), prefix+tt.second)
				checkErr(t, "UserByUsername", err, nil)
				checkUser(t, got, first)
			})
		}
	})

	t.Run("UserByUsername", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		alice := mustUser(t, s, "Alice")
		mustUser(t, s, "alicia")
		tests := []struct {
			lookup string
			want   *latch.User // nil: ErrNotFound
		}{
			{"Alice", alice},
			{"alice", alice},
			{"ALICE", alice},
			{"alic", nil},
			{"alice ", nil},
			{"alice%", nil},
			{"_lice", nil},
			{"", nil},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%q", tt.lookup), func(t *testing.T) {
				got, err := s.UserByUsername(t.Context(), tt.lookup)
				if tt.want == nil {
					checkErr(t, "UserByUsername", err, latch.ErrNotFound)
					return
				}
				checkErr(t, "UserByUsername", err, nil)
				checkUser(t, got, tt.want)
			})
		}
	})

	t.Run("UserByID", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		u := mustUser(t, s, "dave")
		got, err := s.UserByID(t.Context(), u.ID)
		checkErr(t, "UserByID", err, nil)
		checkUser(t, got, u)
		for _, id := range []int64{0, -1, u.ID + 1, 1 << 62} {
			_, err := s.UserByID(t.Context(), id)
			checkErr(t, fmt.Sprintf("UserByID(%d)", id), err, latch.ErrNotFound)
		}
	})

	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		tests := []struct {
			name    string
			initial func(u *latch.User) // before CreateUser
			update  func(ctx context.Context, s Store, id int64) error
			want    func(u *latch.User) // the expected change
		}{
			{
				name: "SetPasswordHash",
				update: func(ctx context.Context, s Store, id int64) error {
					return s.SetPasswordHash(ctx, id, "argon2id$new")
				},
				want: func(u *latch.User) { u.PasswordHash = "argon2id$new" },
			},
			{
				name: "SetLastLogin",
				update: func(ctx context.Context, s Store, id int64) error {
					return s.SetLastLogin(ctx, id, at(time.Minute))
				},
				want: func(u *latch.User) { u.LastLogin = at(time.Minute) },
			},
			{
				name:    "SetLastLogin again",
				initial: func(u *latch.User) { u.LastLogin = at(-time.Hour) },
				update: func(ctx context.Context, s Store, id int64) error {
					return s.SetLastLogin(ctx, id, at(time.Hour))
				},
				want: func(u *latch.User) { u.LastLogin = at(time.Hour) },
			},
			{
				name: "SetActive false",
				update: func(ctx context.Context, s Store, id int64) error {
					return s.SetActive(ctx, id, false)
				},
				want: func(u *latch.User) { u.IsActive = false },
			},
			{
				name:    "SetActive true",
				initial: func(u *latch.User) { u.IsActive = false },
				update: func(ctx context.Context, s Store, id int64) error {
					return s.SetActive(ctx, id, true)
				},
				want: func(u *latch.User) { u.IsActive = true },
			},
			{
				name: "SetEmailVerified true",
				update: func(ctx context.Context, s Store, id int64) error {
					return s.SetEmailVerified(ctx, id, true)
				},
				want: func(u *latch.User) { u.EmailVerified = true },
			},
			{
				name:    "SetEmailVerified false",
				initial: func(u *latch.User) { u.EmailVerified = true },
				update: func(ctx context.Context, s Store, id int64) error {
					return s.SetEmailVerified(ctx, id, false)
				},
				want: func(u *latch.User) { u.EmailVerified = false },
			},
			{
				name: "BumpTokenVersion",
				update: func(ctx context.Context, s Store, id int64) error {
					_, err := s.BumpTokenVersion(ctx, id, "", at(0))
					return err
				},
				want: func(u *latch.User) { u.TokenVersion, u.VersionKeepFrom = u.TokenVersion+1, u.TokenVersion },
			},
			{
				name: "BumpTokenVersion keeping a session",
				update: func(ctx context.Context, s Store, id int64) error {
					_, err := s.BumpTokenVersion(ctx, id, "sess-kept", at(0))
					return err
				},
				want: func(u *latch.User) {
					u.TokenVersion, u.VersionKeepSession, u.VersionKeepFrom = u.TokenVersion+1, "sess-kept", u.TokenVersion
				},
			},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := t.Context()
				target := &latch.User{Username: fmt.Sprintf("target%d", i), PasswordHash: "old", Role: "user", IsActive: true, CreatedAt: at(-time.Hour)}
				if tt.initial != nil {
					tt.initial(target)
				}
				if err := s.CreateUser(ctx, target); err != nil {
					t.Fatalf("CreateUser: %v", err)
				}
				bystander := mustUser(t, s, fmt.Sprintf("bystander%d", i))

				checkErr(t, tt.name, tt.update(ctx, s, target.ID), nil)
				want := *target
				tt.want(&want)
				got, err := s.UserByID(ctx, target.ID)
				checkErr(t, "UserByID", err, nil)
				checkUser(t, got, &want)
				got, err = s.UserByID(ctx, bystander.ID)
				checkErr(t, "UserByID", err, nil)
				checkUser(t, got, bystander)

				checkErr(t, tt.name+" of a missing user", tt.update(ctx, s, bystander.ID+1000), latch.ErrNotFound)
			})
		}
	})

	t.Run("BumpTokenVersion", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		u := &latch.User{Username: "erin", PasswordHash: "h", IsActive: true, TokenVersion: 5}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		for _, want := range []latch.TokenVersion{
			{UserID: u.ID, Version: 6, KeepSession: "sess-1", KeepFrom: 5},
			// The same session changing again keeps its floor: its tokens
			// of version 5 and 6 both stay valid.
			{UserID: u.ID, Version: 7, KeepSession: "sess-1", KeepFrom: 5},
			{UserID: u.ID, Version: 8, KeepSession: "", KeepFrom: 7}, // the exemption does not outlive the next bump
			{UserID: u.ID, Version: 9, KeepSession: "sess-2", KeepFrom: 8},
			{UserID: u.ID, Version: 10, KeepSession: "sess-1", KeepFrom: 9}, // a session kept earlier starts over
		} {
			got, err := s.BumpTokenVersion(ctx, u.ID, want.KeepSession, at(0))
			checkErr(t, "BumpTokenVersion", err, nil)
			if got != want {
				t.Errorf("BumpTokenVersion(%q) = %+v, want %+v", want.KeepSession, got, want)
			}
			stored, err := s.UserByID(ctx, u.ID)
			checkErr(t, "UserByID", err, nil)
			if v := latch.UserVersion(stored); v != want {
				t.Errorf("after BumpTokenVersion(%q): stored version %+v, want %+v", want.KeepSession, v, want)
			}
		}
		_, err := s.BumpTokenVersion(ctx, u.ID+1, "", at(0))
		checkErr(t, "BumpTokenVersion of a missing user", err, latch.ErrNotFound)
	})

	testAccounts(t, newStore)
}
