package redis_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-auth/latch/ratelimit"
	"github.com/latch-auth/latch/redis"
)

func mustLimiter(tb testing.TB, tg target, rate ratelimit.Rate) *redis.Limiter {
	tb.Helper()
	l, err := redis.NewLimiter(mustOpen(tb, tg), rate)
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

func TestNewLimiterValidatesRate(t *testing.T) {
	for _, rate := range []ratelimit.Rate{{N: 0, Per: time.Second}, {N: -1, Per: time.Second}, {N: 1, Per: 0}, {N: 1, Per: -time.Second}} {
		if _, err := redis.NewLimiter(nil, rate); err == nil {
			t.Errorf("NewLimiter(%v) succeeded, want an error", rate)
		}
	}
}

func TestLimiterAdmitsNThenRefuses(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		const n = 5
		window := 10 * time.Second
		l := mustLimiter(t, tg, ratelimit.Rate{N: n, Per: window})
		ctx := context.Background()
		key := "test:" + unique()
		start := time.Now()
		for i := range n {
			d, err := l.Allow(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Allowed {
				t.Fatalf("request %d refused: %+v", i+1, d)
			}
		}
		for i := range 3 {
			d, err := l.Allow(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			elapsed := time.Since(start)
			if d.Allowed {
				t.Fatalf("request %d over the limit admitted", n+i+1)
			}
			if d.RetryAfter > window || d.RetryAfter < window-elapsed-50*time.Millisecond {
				t.Errorf("RetryAfter %s after %s, want within (%s, %s]", d.RetryAfter, elapsed, window-elapsed, window)
			}
		}
		// Another key has its own log.
		if d, err := l.Allow(ctx, key+":other"); err != nil || !d.Allowed {
			t.Errorf("another key: %+v, %v; want admitted", d, err)
		}
	})
}

func TestLimiterSlides(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		window := 400 * time.Millisecond
		l := mustLimiter(t, tg, ratelimit.Rate{N: 2, Per: window})
		ctx := context.Background()
		key := "test:" + unique()
		allow := func() ratelimit.Decision {
			t.Helper()
			d, err := l.Allow(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		if !allow().Allowed {
			t.Fatal("first refused")
		}
		time.Sleep(window / 2)
		if !allow().Allowed {
			t.Fatal("second refused")
		}
		d := allow()
		if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > window/2+50*time.Millisecond {
			t.Fatalf("third: %+v, want refused for about %s", d, window/2)
		}
		// Once the first request has left the window, one (only) more.
		time.Sleep(d.RetryAfter + 20*time.Millisecond)
		if d := allow(); !d.Allowed {
			t.Fatalf("after RetryAfter: %+v, want admitted", d)
		}
		if d := allow(); d.Allowed {
			t.Fatal("a third request inside the window was admitted")
		}
	})
}

func TestLimiterSharedAcrossInstances(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		const n, perInstance = 50, 100
		rate := ratelimit.Rate{N: n, Per: time.Hour}
		instances := []*redis.Limiter{mustLimiter(t, tg, rate), mustLimiter(t, tg, rate)}
		key := "test:" + unique()
		var (
			wg       sync.WaitGroup
			admitted atomic.Int64
			failed   atomic.Int64
			start    = make(chan struct{})
		)
		for _, l := range instances {
			for range perInstance {
				wg.Go(func() {
					<-start
					d, err := l.Allow(context.Background(), key)
					if err != nil {
						failed.Add(1)
						t.Error(err)
						return
					}
					if d.Allowed {
						admitted.Add(1)
					}
				})
			}
		}
		close(start)
		wg.Wait()
		if got := admitted.Load(); got != n || failed.Load() != 0 {
			t.Fatalf("admitted %d of %d (%d errors), want exactly %d", got, len(instances)*perInstance, failed.Load(), n)
		}
	})
}

func TestLimiterKeyExpires(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		window := time.Minute
		client := mustOpen(t, tg)
		l, err := redis.NewLimiter(client, ratelimit.Rate{N: 3, Per: window})
		if err != nil {
			t.Fatal(err)
		}
		key := "test:" + unique()
		if _, err := l.Allow(context.Background(), key); err != nil {
			t.Fatal(err)
		}
		ttl, err := client.PTTL(context.Background(), redis.LimiterKey(key)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 || ttl > window {
			t.Fatalf("PTTL %s = %s, want in (0, %s]", redis.LimiterKey(key), ttl, window)
		}
		if got := redis.LimiterKey(key); got != "latch:rl:{"+key+"}" {
			t.Errorf("LimiterKey = %q", got)
		}
	})
}
