package server

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/latch-auth/latch/password"
)

// The pool follows the authenticated request rate: every core while it is
// light, one fewer as soon as it is not, back after a quiet second.
func TestAdaptHashing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pool := password.NewPool(2, 0)
		defer pool.Close()
		pool.SetWorkers(1)
		var requests atomic.Uint64
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { adaptHashing(ctx, pool, 2, requests.Load); close(done) }()

		tick := func(perTick uint64, ticks int) {
			for range ticks {
				requests.Add(perTick)
				time.Sleep(hashAdaptEvery)
				synctest.Wait()
			}
		}
		steps := []struct {
			name    string
			perTick uint64
			ticks   int
			want    int
		}{
			{"no traffic yet, under a second", 0, hashQuietTicks - 1, 1},
			{"no traffic for a second", 0, 2, 2},
			{"light traffic", hashBusyRequests - 1, 5, 2},
			{"busy: one core back at once", hashBusyRequests * 10, 1, 1},
			{"a short pause is not the end", 0, hashQuietTicks / 2, 1},
			{"busy again", hashBusyRequests, 3, 1},
			{"quiet long enough", 0, hashQuietTicks + 1, 2},
		}
		for _, s := range steps {
			tick(s.perTick, s.ticks)
			if got := pool.Workers(); got != s.want {
				t.Errorf("%s: %d workers, want %d", s.name, got, s.want)
			}
		}
		cancel()
		<-done
	})
}
