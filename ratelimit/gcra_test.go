package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGCRA(t *testing.T) {
	ctx := context.Background()
	type step struct {
		after time.Duration // clock advance before the request
		ok    bool
		retry time.Duration // when refused
	}
	tests := []struct {
		name  string
		rate  Rate
		steps []step
	}{
		{"burst of N, then refused until one interval passes", Rate{N: 3, Per: time.Minute}, []step{
			{0, true, 0}, {0, true, 0}, {0, true, 0},
			{0, false, 20 * time.Second},
			{5 * time.Second, false, 15 * time.Second},
			{15 * time.Second, true, 0},
			{0, false, 20 * time.Second},
		}},
		{"steady at the rate is never refused", Rate{N: 2, Per: time.Second}, []step{
			{0, true, 0}, {500 * time.Millisecond, true, 0}, {500 * time.Millisecond, true, 0},
			{500 * time.Millisecond, true, 0}, {500 * time.Millisecond, true, 0},
		}},
		{"an idle key gets its whole burst back", Rate{N: 2, Per: time.Minute}, []step{
			{0, true, 0}, {0, true, 0}, {0, false, 30 * time.Second},
			{time.Hour, true, 0}, {0, true, 0}, {0, false, 30 * time.Second},
		}},
		{"N = 1", Rate{N: 1, Per: time.Hour}, []step{
			{0, true, 0}, {time.Minute, false, 59 * time.Minute}, {59 * time.Minute, true, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: time.Unix(1_000_000, 0)}
			g := NewGCRA(tt.rate, c.now)
			for i, s := range tt.steps {
				c.t = c.t.Add(s.after)
				d, err := g.Allow(ctx, "user-1")
				if err != nil || d.Allowed != s.ok || d.RetryAfter != s.retry {
					t.Fatalf("step %d: got %+v, %v; want allowed %v, RetryAfter %v", i, d, err, s.ok, s.retry)
				}
			}
			if d, _ := g.Allow(ctx, "user-2"); !d.Allowed {
				t.Fatal("another key was throttled")
			}
		})
	}
}

func TestGCRAConcurrentAdmitsExactlyTheBurst(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)} // frozen: no interval ever passes
	g := NewGCRA(Rate{N: 50, Per: time.Hour}, c.now)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			if d, _ := g.Allow(context.Background(), "k"); d.Allowed {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if allowed.Load() != 50 {
		t.Fatalf("allowed %d of 200, want exactly 50", allowed.Load())
	}
}

func TestGCRAForgetsIdleKeys(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	g := NewGCRA(Rate{N: 10, Per: time.Second}, c.now)
	const idle = 6400
	for i := range idle {
		g.Allow(context.Background(), fmt.Sprint("user-", i))
	}
	c.t = c.t.Add(time.Minute)
	for i := range gcraSweepEvery {
		g.Allow(context.Background(), fmt.Sprint("new-", i))
	}
	g.sweeps.Wait()
	if n := g.len(); n >= idle+gcraSweepEvery {
		t.Fatalf("%d keys kept, want the idle ones forgotten", n)
	}
}

func BenchmarkLimiters(b *testing.B) {
	rate := Rate{N: 1_000_000_000, Per: time.Hour} // never refuses
	for _, c := range []struct {
		name string
		l    Limiter
	}{{"memory", NewMemory(rate, nil)}, {"gcra", NewGCRA(rate, nil)}} {
		b.Run(c.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					c.l.Allow(context.Background(), userKeys[i%len(userKeys)])
				}
			})
		})
	}
}

var userKeys = func() []string {
	k := make([]string, 1000)
	for i := range k {
		k[i] = fmt.Sprint(i)
	}
	return k
}()
