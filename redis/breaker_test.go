package redis

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/internal/redistest"
)

// TestBreaker: with Redis gone (killed) or hung (paused: connections are
// accepted, nothing answers), commands fail as latch.ErrUnavailable, and
// after a few failures at once, without trying Redis; once Redis is back,
// the client recovers by itself.
func TestBreaker(t *testing.T) {
	tests := []struct {
		name       string
		fail, heal func(r *redistest.Server)
		// firstWithin bounds each of the failures before the breaker
		// opens: a hung Redis costs a read timeout, and the retry another.
		firstWithin time.Duration
	}{
		{"killed", (*redistest.Server).Stop, (*redistest.Server).Start, 50 * time.Millisecond},
		{"paused", (*redistest.Server).Pause, (*redistest.Server).Resume, 2*ioTimeout + 150*time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := redistest.Start(t)
			ctx := context.Background()
			c, err := Open(ctx, r.URL())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			tt.fail(r)
			opened := false
			for i := range breakerThreshold + 20 {
				start := time.Now()
				err := c.Get(ctx, "k").Err()
				took := time.Since(start)
				if !errors.Is(err, latch.ErrUnavailable) {
					t.Fatalf("command %d with Redis %s: err %v, want latch.ErrUnavailable", i, tt.name, err)
				}
				if errors.Is(err, ErrCircuitOpen) {
					opened = true
					if took > 5*time.Millisecond {
						t.Errorf("command %d refused by the open breaker took %v, want under 5ms", i, took)
					}
				} else if opened {
					t.Errorf("command %d tried Redis again (%v) within the cooldown", i, err)
				} else if took > tt.firstWithin {
					t.Errorf("command %d took %v, want under %v", i, took, tt.firstWithin)
				}
			}
			if !opened {
				t.Fatalf("the breaker never opened after %d failures", breakerThreshold+20)
			}
			tt.heal(r)
			start := time.Now()
			for {
				err := c.Get(ctx, "k").Err()
				if err == nil || !errors.Is(err, latch.ErrUnavailable) {
					break // redis.Nil after a restart (empty), "v" after a pause
				}
				if time.Since(start) > 5*time.Second {
					t.Fatalf("not recovered %v after Redis came back: %v", time.Since(start), err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			t.Logf("recovered %v after Redis came back", time.Since(start).Round(time.Millisecond))
		})
	}
}
