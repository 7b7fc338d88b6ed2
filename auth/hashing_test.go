package auth_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/password"
)

// breakableHasher hashes for real until broken, then fails every call as
// a password.Process does when its worker cannot answer.
type breakableHasher struct {
	h      *password.Hasher
	broken atomic.Bool
}

var errWorkerGone = errors.New("hashing process failed: worker exited")

func (b *breakableHasher) Hash(pw string) (string, error) {
	if b.broken.Load() {
		return "", errWorkerGone
	}
	return b.h.Hash(pw)
}

func (b *breakableHasher) Verify(encoded, pw string) (bool, bool, error) {
	if b.broken.Load() {
		return false, false, errWorkerGone
	}
	return b.h.Verify(encoded, pw)
}

func (b *breakableHasher) Dummy(pw string) error {
	if b.broken.Load() {
		return errWorkerGone
	}
	return b.h.Dummy(pw)
}

// A password that could not be checked is never a wrong password: while
// hashing fails, every hashing call answers ErrUnavailable (503), for
// known and unknown users alike, and nothing is stored.
func TestHashingFailureIsUnavailable(t *testing.T) {
	h, err := password.NewHasher(password.Params{Memory: 64, Iterations: 1})
	if err != nil {
		t.Fatal(err)
	}
	hasher := &breakableHasher{h: h}
	svc := newTestService(t, hasher, 0)
	ctx := context.Background()
	client := auth.Client{UserAgent: "test", IP: "127.0.0.1"}
	pair, err := svc.Login(ctx, "alice", "correct horse battery", client)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	p, err := svc.Authenticate(ctx, pair.Access)
	if err != nil {
		t.Fatal(err)
	}

	hasher.broken.Store(true)
	calls := []struct {
		name string
		call func() error
	}{
		{"login, right password", func() error { _, err := svc.Login(ctx, "alice", "correct horse battery", client); return err }},
		{"login, wrong password", func() error { _, err := svc.Login(ctx, "alice", "wrong horse battery", client); return err }},
		{"login, unknown user", func() error { _, err := svc.Login(ctx, "nobody", "correct horse battery", client); return err }},
		{"signup", func() error {
			_, err := svc.Signup(ctx, "bob", "another fine passphrase", "bob@example.com")
			return err
		}},
		{"change password", func() error {
			return svc.ChangePassword(ctx, p, "correct horse battery", "a new passphrase here")
		}},
		{"set password", func() error { return svc.SetPassword(ctx, p.UserID, "a new passphrase here", "") }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if !errors.Is(err, latch.ErrUnavailable) || errors.Is(err, latch.ErrInvalidCredentials) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
		})
	}

	hasher.broken.Store(false)
	if _, err := svc.Login(ctx, "alice", "correct horse battery", client); err != nil {
		t.Fatalf("login once hashing works again (the password must be unchanged): %v", err)
	}
	if _, err := svc.Login(ctx, "bob", "another fine passphrase", client); !errors.Is(err, latch.ErrInvalidCredentials) {
		t.Fatalf("bob was signed up while hashing failed: %v", err)
	}
	if _, err := svc.Authenticate(ctx, pair.Access); err != nil {
		t.Fatalf("the session was revoked by a failed password change: %v", err)
	}
}
