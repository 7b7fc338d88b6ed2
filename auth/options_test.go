package auth_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/internal/authtest"
	"github.com/latch-auth/latch/password"
	"github.com/latch-auth/latch/revocation"
	"github.com/latch-auth/latch/sqlite"
)

// A reset spends its link in the password change's transaction, so the
// links must live in the Users store.
func TestAccountTokensAreTheUsersStore(t *testing.T) {
	env := authtest.New(t, nil)
	other, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "other.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	hasher, err := password.NewHasher(password.Params{Memory: 64, Iterations: 1})
	if err != nil {
		t.Fatal(err)
	}
	opts := auth.DefaultOptions()
	opts.Users, opts.Sessions, opts.Tokens, opts.Hasher = env.DB, env.DB, env.Tokens, hasher
	if opts.Revocations, err = revocation.NewManager(revocation.Options{Source: env.DB, Window: auth.RevocationWindow(opts)}); err != nil {
		t.Fatal(err)
	}

	opts.Accounts.Tokens = other
	if _, err := auth.New(opts); err == nil || !strings.Contains(err.Error(), "Accounts.Tokens must be the Users store") {
		t.Errorf("New with another store's account tokens: %v, want a refusal", err)
	}
	opts.Accounts.Tokens = env.DB
	if _, err := auth.New(opts); err != nil {
		t.Errorf("New with the Users store's account tokens: %v", err)
	}
}
