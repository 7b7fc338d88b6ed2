package storetest

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/latch-auth/latch/ratelimit"
)

// TestLimiter is the conformance suite of ratelimit.Limiter backends:
// newLimiter returns a limiter of rate, which may share its backend with
// other tests (the suite uses keys of its own). The rates are hourly, so
// that no window ends during the suite.
func TestLimiter(t *testing.T, newLimiter func(t *testing.T, rate ratelimit.Rate) ratelimit.Limiter) {
	t.Helper()
	ctx := context.Background()
	rate := ratelimit.Rate{N: 5, Per: time.Hour}
	key := func() string { return "suite-" + rand.Text() }

	t.Run("AdmitsNThenRefuses", func(t *testing.T) {
		l, k := newLimiter(t, rate), key()
		for i := range rate.N {
			d, err := l.Allow(ctx, k)
			checkErr(t, "Allow", err, nil)
			if !d.Allowed {
				t.Fatalf("request %d of %d refused", i+1, rate.N)
			}
		}
		d, err := l.Allow(ctx, k)
		checkErr(t, "Allow", err, nil)
		if d.Allowed {
			t.Fatalf("request %d admitted at %v", rate.N+1, rate)
		}
		if d.RetryAfter <= 0 || d.RetryAfter > rate.Per {
			t.Errorf("RetryAfter = %v, want in (0, %v]", d.RetryAfter, rate.Per)
		}
	})

	t.Run("KeysAreApart", func(t *testing.T) {
		l, a, b := newLimiter(t, ratelimit.Rate{N: 1, Per: time.Hour}), key(), key()
		for _, k := range []string{a, b} {
			if d, err := l.Allow(ctx, k); err != nil || !d.Allowed {
				t.Fatalf("first request of %s: %+v, %v", k, d, err)
			}
		}
		if d, _ := l.Allow(ctx, a); d.Allowed {
			t.Fatal("second request of a key admitted at 1/hour")
		}
	})
}

// TestGuard is the conformance suite of ratelimit.Guard backends:
// newGuard returns a guard with policy, which may share its backend with
// other tests (the suite uses accounts of its own).
func TestGuard(t *testing.T, newGuard func(t *testing.T, p ratelimit.GuardPolicy) ratelimit.Guard) {
	t.Helper()
	ctx := context.Background()
	policy := ratelimit.GuardPolicy{Free: 3, Base: time.Minute, Max: time.Hour, Forget: time.Hour}
	account := func() string { return "suite-" + rand.Text() }
	wait := func(t *testing.T, g ratelimit.Guard, a string) time.Duration {
		t.Helper()
		d, err := g.Wait(ctx, a)
		checkErr(t, "Wait", err, nil)
		return d
	}

	t.Run("FreeFailuresThenBackOff", func(t *testing.T) {
		g, a, other := newGuard(t, policy), account(), account()
		for i := range policy.Free {
			if d := wait(t, g, a); d != 0 {
				t.Fatalf("after %d failures (free %d): wait %v, want 0", i, policy.Free, d)
			}
			checkErr(t, "Fail", g.Fail(ctx, a), nil)
		}
		if d := wait(t, g, a); d <= 0 || d > policy.Base {
			t.Fatalf("after %d failures: wait %v, want in (0, %v]", policy.Free, d, policy.Base)
		}
		if d := wait(t, g, other); d != 0 {
			t.Fatalf("another account waits %v", d)
		}
		checkErr(t, "Reset", g.Reset(ctx, a), nil)
		if d := wait(t, g, a); d != 0 {
			t.Fatalf("after Reset: wait %v, want 0", d)
		}
	})

	t.Run("UnknownAccount", func(t *testing.T) {
		g := newGuard(t, policy)
		if d := wait(t, g, account()); d != 0 {
			t.Fatalf("an account never seen waits %v", d)
		}
		checkErr(t, "Reset of an account never seen", g.Reset(ctx, account()), nil)
	})
}
