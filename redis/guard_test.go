package redis_test

import (
	"context"
	"log"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch-auth/latch/ratelimit"
	"github.com/latch-auth/latch/redis"
)

// wantWait checks that g.Wait(account) is want minus the little time
// spent since the failure it is counted from.
func wantWait(t *testing.T, g ratelimit.Guard, account string, want time.Duration) {
	t.Helper()
	const slack = 300 * time.Millisecond // round trips since the failure
	got, err := g.Wait(context.Background(), account)
	if err != nil {
		t.Fatal(err)
	}
	if want == 0 && got != 0 || want > 0 && (got > want || got <= want-slack) {
		t.Fatalf("Wait = %s, want %s (less at most %s)", got, want, slack)
	}
}

func mustFail(t *testing.T, g ratelimit.Guard, account string) {
	t.Helper()
	if err := g.Fail(context.Background(), account); err != nil {
		t.Fatal(err)
	}
}

// TestGuardSharedBackoff plays failures alternately on two instances
// (two clients): each sees the other's, the wait grows 1, 2, 4 s up to
// Max, and a success on either resets it.
func TestGuardSharedBackoff(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		p := ratelimit.GuardPolicy{Free: 2, Base: time.Second, Max: 4 * time.Second, Forget: time.Minute}
		a, b := redis.NewGuard(mustOpen(t, tg), p), redis.NewGuard(mustOpen(t, tg), p)
		acct := "user-" + unique()
		steps := []struct {
			fail, check ratelimit.Guard
			want        time.Duration
		}{
			{a, b, 0},
			{b, a, time.Second}, // Free reached
			{a, b, 2 * time.Second},
			{b, a, 4 * time.Second},
			{a, b, 4 * time.Second}, // capped at Max
			{b, b, 4 * time.Second},
		}
		for _, s := range steps {
			mustFail(t, s.fail, acct)
			wantWait(t, s.check, acct, s.want)
		}
		// However many failures, the wait stays at Max.
		client := mustOpen(t, tg)
		if err := client.HSet(context.Background(), redis.GuardKey(acct), "n", 1_000_000).Err(); err != nil {
			t.Fatal(err)
		}
		wantWait(t, a, acct, 4*time.Second)
		wantWait(t, a, acct+"-other", 0)
		if err := a.Reset(context.Background(), acct); err != nil {
			t.Fatal(err)
		}
		wantWait(t, b, acct, 0)
		mustFail(t, b, acct) // counting starts again
		wantWait(t, a, acct, 0)
		mustFail(t, a, acct)
		wantWait(t, b, acct, time.Second)
	})
}

// TestGuardClaimsOpening checks that, once the account backs off, the
// attempt that finds the wait over claims the opening for every instance.
func TestGuardClaimsOpening(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		base := 300 * time.Millisecond
		p := ratelimit.GuardPolicy{Free: 1, Base: base, Max: time.Second, Forget: time.Minute}
		a, b := redis.NewGuard(mustOpen(t, tg), p), redis.NewGuard(mustOpen(t, tg), p)
		acct := "user-" + unique()
		mustFail(t, a, acct)
		wantWait(t, b, acct, base)
		time.Sleep(base + 50*time.Millisecond)
		wantWait(t, b, acct, 0)    // claims the opening
		wantWait(t, a, acct, base) // taken, on the other instance too
		if err := b.Reset(context.Background(), acct); err != nil {
			t.Fatal(err)
		}
		wantWait(t, a, acct, 0)
		wantWait(t, a, acct, 0) // no back-off, no claim
	})
}

// TestGuardForgets checks the expiry of an account's failures: its TTL is
// Forget after the last failure, and once it has passed, the account
// starts afresh.
func TestGuardForgets(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		client := mustOpen(t, tg)
		ctx := context.Background()
		long := redis.NewGuard(client, ratelimit.GuardPolicy{Forget: 10 * time.Minute})
		acct := "user-" + unique()
		mustFail(t, long, acct)
		ttl, err := client.PTTL(ctx, redis.GuardKey(acct)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 10*time.Minute-time.Minute || ttl > 10*time.Minute {
			t.Fatalf("PTTL %s = %s, want about 10m", redis.GuardKey(acct), ttl)
		}
		if got := redis.GuardKey(acct); got != "latch:guard:{"+acct+"}" {
			t.Errorf("GuardKey = %q", got)
		}

		// A short Forget, waited out for real (Redis's clock cannot be
		// injected).
		forget := 400 * time.Millisecond
		short := redis.NewGuard(client, ratelimit.GuardPolicy{Free: 1, Base: 100 * time.Millisecond, Max: 200 * time.Millisecond, Forget: forget})
		acct = "user-" + unique()
		mustFail(t, short, acct)
		mustFail(t, short, acct)
		if w, err := short.Wait(ctx, acct); err != nil || w <= 0 {
			t.Fatalf("Wait = %s, %v; want a wait", w, err)
		}
		time.Sleep(forget + 100*time.Millisecond)
		wantWait(t, short, acct, 0)
		if n, err := client.Exists(ctx, redis.GuardKey(acct)).Result(); err != nil || n != 0 {
			t.Fatalf("EXISTS = %d, %v; want the key gone", n, err)
		}
		mustFail(t, short, acct) // the 1st failure again: Base
		wantWait(t, short, acct, 100*time.Millisecond)
	})
}

// TestGuardConcurrentFailures counts failures recorded concurrently on two
// instances exactly.
func TestGuardConcurrentFailures(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		const perInstance = 50
		p := ratelimit.GuardPolicy{Free: 2 * perInstance, Base: time.Second, Max: time.Hour}
		client := mustOpen(t, tg)
		guards := []*redis.Guard{redis.NewGuard(client, p), redis.NewGuard(mustOpen(t, tg), p)}
		acct := "user-" + unique()
		var wg sync.WaitGroup
		for _, g := range guards {
			for range perInstance {
				wg.Go(func() {
					if err := g.Fail(context.Background(), acct); err != nil {
						t.Error(err)
					}
				})
			}
		}
		wg.Wait()
		n, err := client.HGet(context.Background(), redis.GuardKey(acct), "n").Int()
		if err != nil || n != 2*perInstance {
			t.Fatalf("failures = %d, %v; want %d", n, err, 2*perInstance)
		}
		wantWait(t, guards[0], acct, time.Second)
	})
}

func TestGuardUnreachable(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		client := mustOpen(t, tg)
		g := redis.NewGuard(client, ratelimit.GuardPolicy{})
		_ = client.Close()
		ctx := context.Background()
		if _, err := g.Wait(ctx, "x"); err == nil {
			t.Error("Wait on a closed client succeeded")
		}
		if err := g.Fail(ctx, "x"); err == nil {
			t.Error("Fail on a closed client succeeded")
		}
		if err := g.Reset(ctx, "x"); err == nil {
			t.Error("Reset on a closed client succeeded")
		}
	})
}

// Per-account failed-login limiting shared by every instance.
func ExampleNewGuard() {
	ctx := context.Background()
	client, err := redis.Open(ctx, "redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	guard := redis.NewGuard(client, ratelimit.GuardPolicy{}) // 5 free, then 1 s, 2 s, … up to 1 min
	account := strings.ToLower("Alice")
	if wait, err := guard.Wait(ctx, account); err == nil && wait > 0 {
		log.Printf("429: retry in %s", wait) // the password is not checked
		return
	}
	passwordOK := false // check the password here
	if passwordOK {
		_ = guard.Reset(ctx, account)
	} else {
		_ = guard.Fail(ctx, account)
	}
}
