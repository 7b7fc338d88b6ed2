package auth_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/internal/authtest"
	"github.com/latch-auth/latch/ratelimit"
)

// keyGuard records the account keys it is given and never makes anyone wait.
type keyGuard struct {
	mu   sync.Mutex
	keys []string
}

func (g *keyGuard) record(account string) {
	g.mu.Lock()
	g.keys = append(g.keys, account)
	g.mu.Unlock()
}

func (g *keyGuard) Wait(_ context.Context, account string) (time.Duration, error) {
	g.record(account)
	return 0, nil
}
func (g *keyGuard) Fail(_ context.Context, account string) error  { g.record(account); return nil }
func (g *keyGuard) Reset(_ context.Context, account string) error { g.record(account); return nil }

var _ ratelimit.Guard = (*keyGuard)(nil)

// The failed-login guard keeps its keys for minutes: they must be digests
// of the (folded, normalized) username, never what the client sent.
func TestGuardKeysAreDigests(t *testing.T) {
	g := &keyGuard{}
	env := authtest.New(t, func(o *auth.Options) { o.Guard = g })
	ctx := context.Background()
	for _, name := range []string{"alice", "ALICE", "ａｌｉｃｅ", strings.Repeat("a", 150)} {
		if _, err := env.Service.Login(ctx, name, "wrong", auth.Client{}); err == nil {
			t.Fatalf("login %q with a wrong password succeeded", name)
		}
	}
	if len(g.keys) != 8 {
		t.Fatalf("guard saw %d keys, want 8 (Wait and Fail per login)", len(g.keys))
	}
	for i, k := range g.keys {
		if len(k) != 64 || strings.Trim(k, "0123456789abcdef") != "" {
			t.Errorf("guard key %q is not a SHA-256 hex digest", k)
		}
		if i < 6 && k != g.keys[0] {
			t.Errorf("guard key %d = %q, want %q: alice in any case or width is one account", i, k, g.keys[0])
		}
	}
}

// Usernames no store holds are refused before the guard or a lookup.
func TestLoginRefusesImpossibleUsernames(t *testing.T) {
	g := &keyGuard{}
	env := authtest.New(t, func(o *auth.Options) { o.Guard = g })
	for _, name := range []string{strings.Repeat("a", 151), "ali\x00ce"} {
		_, err := env.Service.Login(context.Background(), name, "pw", auth.Client{})
		var verr *auth.ValidationError
		if !errors.As(err, &verr) || len(verr.Fields) != 1 || verr.Fields[0].Field != "username" {
			t.Errorf("login %.10q: got %v, want a username ValidationError", name, err)
		}
	}
	if len(g.keys) != 0 {
		t.Errorf("the guard saw %d keys, want none", len(g.keys))
	}
}
