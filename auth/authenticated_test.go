package auth_test

import (
	"context"
	"sync"
	"testing"

	"github.com/latch-auth/latch/auth"
)

// Authenticated counts the access tokens Authenticate accepted, from any
// number of goroutines, and not the ones it refused.
func TestAuthenticatedCounts(t *testing.T) {
	ctx := context.Background()
	svc := newTestService(t, nil, 0)
	pair, err := svc.Login(ctx, "alice", "correct horse battery", auth.Client{UserAgent: "test", IP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	before := svc.Authenticated()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 250 {
				if _, err := svc.Authenticate(ctx, pair.Access); err != nil {
					t.Error(err)
				}
				if _, err := svc.Authenticate(ctx, "not a token"); err == nil {
					t.Error("a bad token was accepted")
				}
			}
		})
	}
	wg.Wait()
	if n := svc.Authenticated() - before; n != 1000 {
		t.Errorf("Authenticated grew by %d, want 1000", n)
	}
}
