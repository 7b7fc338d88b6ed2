package redis_test

import (
	"context"
	"fmt"
	"log"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-auth/latch/ratelimit"
	"github.com/latch-auth/latch/redis"
)

var window0 = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

func TestCounterAdd(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		client := mustOpen(t, tg)
		c := redis.NewCounter(client)
		ctx := context.Background()
		key := "user:" + unique()
		per := time.Minute
		steps := []struct {
			name  string
			start time.Time
			n     int64
			want  int64
		}{
			{"first", window0, 3, 3},
			{"adds up", window0, 4, 7},
			{"zero reads", window0, 0, 7},
			{"next window is separate", window0.Add(per), 5, 5},
			{"first window unchanged", window0, 0, 7},
		}
		for _, s := range steps {
			got, err := c.Add(ctx, key, s.start, per, s.n)
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if got != s.want {
				t.Fatalf("%s: Add = %d, want %d", s.name, got, s.want)
			}
		}
		k := redis.CounterKey(key, window0)
		if want := "latch:cnt:{" + key + "}:" + strconv.FormatInt(window0.UnixMilli(), 10); k != want {
			t.Errorf("CounterKey = %q, want %q", k, want)
		}
		ttl, err := client.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= per || ttl > 2*per {
			t.Errorf("PTTL %s = %s, want in (%s, %s]", k, ttl, per, 2*per)
		}
		if _, err := c.Add(ctx, key, window0, per, -1); err == nil {
			t.Error("Add(-1) succeeded")
		}
		if _, err := c.Add(ctx, key, window0, time.Microsecond, 1); err == nil {
			t.Error("Add with a 1µs window succeeded")
		}
	})
}

// TestBatchedSharedAcrossInstances is the over-admission test: I latch
// instances (I Batched limiters, each with its own Redis client, sharing
// the Redis Counter) serve concurrent requests of one user. Together they
// must admit at least N (the limit is not undershot) and at most
// N + 2·Batch·(I−1) (ratelimit.Batched's bound), Redis must hold exactly
// the admitted count after Flush, and refusals must carry the time to the
// window's end.
func TestBatchedSharedAcrossInstances(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                string
		instances, n, batch int
		goroutines, each    int
	}{
		{"2 instances, batch 1", 2, 100, 1, 16, 20},
		{"2 instances, batch 5", 2, 200, 5, 32, 20},
		{"2 instances, default batch (1000/hour)", 2, 1000, 0, 32, 50},
		{"3 instances, batch 10", 3, 500, 10, 16, 30},
	}
	forEachTarget(t, func(t *testing.T, tg target) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				// A fixed clock 15 minutes into an hour: the window
				// never rolls over during the test.
				now := window0.Add(15 * time.Minute)
				rate := ratelimit.Rate{N: tt.n, Per: time.Hour}
				var ls []*ratelimit.Batched
				for range tt.instances {
					ls = append(ls, ratelimit.NewBatched(rate, redis.NewCounter(mustOpen(t, tg)), ratelimit.BatchOptions{
						Batch: tt.batch,
						Now:   func() time.Time { return now },
					}))
				}
				key := "user:" + unique()
				var (
					admitted, refused atomic.Int64
					wg                sync.WaitGroup
					start             = make(chan struct{})
				)
				for _, l := range ls {
					for range tt.goroutines {
						wg.Go(func() {
							<-start
							for range tt.each {
								d, err := l.Allow(context.Background(), key)
								switch {
								case err != nil:
									t.Error(err)
									return
								case d.Allowed:
									admitted.Add(1)
								default:
									refused.Add(1)
									if d.RetryAfter != 45*time.Minute {
										t.Errorf("RetryAfter %s, want 45m (to the window's end)", d.RetryAfter)
										return
									}
								}
							}
						})
					}
				}
				close(start)
				wg.Wait()
				flush := func() {
					for _, l := range ls {
						if err := l.Flush(context.Background()); err != nil {
							t.Fatal(err)
						}
					}
				}
				flush()
				// A few more requests, now that the counts are shared:
				// they count in the bound too.
				for _, l := range ls {
					for range 5 {
						if d, err := l.Allow(context.Background(), key); err != nil {
							t.Fatal(err)
						} else if d.Allowed {
							admitted.Add(1)
						}
					}
				}
				flush()
				if refused.Load() == 0 {
					t.Fatal("nothing refused")
				}
				got, bound := admitted.Load(), ls[0].MaxAdmitted(tt.instances)
				t.Logf("%s: admitted %d, refused %d; N %d, batch %d, bound %d", tg.name, got, refused.Load(), tt.n, ls[0].Batch(), bound)
				if got < int64(tt.n) || got > bound {
					t.Fatalf("admitted %d, want within [N=%d, N+2·Batch·(I−1)=%d]", got, tt.n, bound)
				}
				shared, err := redis.NewCounter(mustOpen(t, tg)).Add(context.Background(), key, window0, time.Hour, 0)
				if err != nil {
					t.Fatal(err)
				}
				if shared != got {
					t.Fatalf("Redis count %d, want the %d admitted", shared, got)
				}
			})
		}
	})
}

// BenchmarkBatchedAllowRedis compares, against a real Redis, Batched's
// Allow (no I/O; the Counter is called once per Batch from a goroutine)
// with Limiter's (one round trip per request).
func BenchmarkBatchedAllowRedis(b *testing.B) {
	tg := target{name: "single", url: needEnv(b, "LATCH_TEST_REDIS_URL", false)}
	client := mustOpen(b, tg)
	ctx := context.Background()
	rate := ratelimit.Rate{N: 1 << 40, Per: time.Hour}
	run := func(b *testing.B, l ratelimit.Limiter, keys int) {
		names := make([]string, keys)
		prefix := "bench:" + unique() + ":"
		for i := range names {
			names[i] = prefix + strconv.Itoa(i)
		}
		var failed atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if d, err := l.Allow(ctx, names[i%keys]); err != nil || !d.Allowed {
					failed.Add(1)
				}
				i++
			}
		})
		b.StopTimer()
		if n := failed.Load(); n > 0 {
			b.Fatalf("%d requests refused or failed", n)
		}
	}
	for _, keys := range []int{1, 1000} {
		b.Run(fmt.Sprintf("Batched/batch=100/keys=%d", keys), func(b *testing.B) {
			l := ratelimit.NewBatched(rate, redis.NewCounter(client), ratelimit.BatchOptions{Batch: 100})
			run(b, l, keys)
			if err := l.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
	b.Run("Limiter(1 round trip)/keys=1000", func(b *testing.B) {
		l, err := redis.NewLimiter(client, ratelimit.Rate{N: 1 << 30, Per: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		run(b, l, 1000)
	})
}

// The per-user throttle of a scaled-out deployment: counted in process,
// reconciled with Redis in batches, so that an authenticated request
// costs no round trip.
func ExampleNewCounter() {
	ctx := context.Background()
	client, err := redis.Open(ctx, "redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	rate := ratelimit.Rate{N: 1000, Per: time.Hour}
	user := ratelimit.NewBatched(rate, redis.NewCounter(client), ratelimit.BatchOptions{
		OnError: func(err error) { log.Print(err) },
	})
	defer user.Flush(ctx) // send the last counts at shutdown

	d, err := user.Allow(ctx, "user:42")
	if err == nil && !d.Allowed {
		log.Printf("throttled; retry in %s", d.RetryAfter)
	}
}
