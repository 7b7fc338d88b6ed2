package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// GCRA is an in-process Limiter for the hot path (the per-user throttle on
// every authenticated request): the generic cell rate algorithm, one int64
// per key (the theoretical arrival time of the key's next request), in a
// concurrent map whose reads take no lock (a read lock is a write that
// every core would pass around on every request), updated by
// compare-and-swap.
//
// It admits a burst of N requests, then one every Per/N: over any long run
// at most N per Per, as Memory, but it is not a sliding log, so right after
// a full burst a key may reach 2N−1 requests within one Per (N at once,
// then one per Per/N). Memory keeps DRF's exact window for the anonymous
// scope, where N is small and the requests are few.
type GCRA struct {
	interval  int64 // Per/N in nanoseconds: the emission interval
	tolerance int64 // Per − interval: how far ahead of now a key may run
	now       func() time.Time
	tat       sync.Map     // key (string) -> *atomic.Int64
	inserts   atomic.Int64 // keys added, for the sweeps of idle keys
	sweeping  atomic.Bool
	sweeps    sync.WaitGroup
}

// gcraSweepEvery is how many new keys come between sweeps of idle keys.
const gcraSweepEvery = 1 << 18

// NewGCRA returns a GCRA limiter at rate; now nil means time.Now.
func NewGCRA(rate Rate, now func() time.Time) *GCRA {
	if now == nil {
		now = time.Now
	}
	interval := max(int64(rate.Per)/int64(rate.N), 1)
	return &GCRA{interval: interval, tolerance: int64(rate.Per) - interval, now: now}
}

var _ Limiter = (*GCRA)(nil)

// Allow implements Limiter; it never fails.
func (g *GCRA) Allow(_ context.Context, key string) (Decision, error) {
	now := g.now().UnixNano()
	tat := g.cell(key, now)
	for {
		t := tat.Load()
		start := max(t, now)
		if ahead := start - now; ahead > g.tolerance {
			return Decision{RetryAfter: time.Duration(ahead - g.tolerance)}, nil
		}
		if tat.CompareAndSwap(t, start+g.interval) {
			return Decision{Allowed: true}, nil
		}
	}
}

// cell returns key's arrival time, creating it (as "now": a fresh burst).
func (g *GCRA) cell(key string, now int64) *atomic.Int64 {
	if c, ok := g.tat.Load(key); ok {
		return c.(*atomic.Int64)
	}
	c := new(atomic.Int64)
	c.Store(now)
	if old, loaded := g.tat.LoadOrStore(key, c); loaded {
		return old.(*atomic.Int64)
	}
	if g.inserts.Add(1)%gcraSweepEvery == 0 && g.sweeping.CompareAndSwap(false, true) {
		// A sweep reads every key: not on the request that came upon it.
		g.sweeps.Go(func() {
			g.sweep(now)
			g.sweeping.Store(false)
		})
	}
	return c
}

// sweep forgets the keys whose arrival time is before now: they hold no
// state worth keeping (a new cell at now behaves the same), and memory
// stays bounded by the keys active within one Per.
func (g *GCRA) sweep(now int64) {
	g.tat.Range(func(k, v any) bool {
		if v.(*atomic.Int64).Load() < now {
			g.tat.CompareAndDelete(k, v)
		}
		return true
	})
}

// len returns how many keys are kept.
func (g *GCRA) len() int {
	n := 0
	g.tat.Range(func(_, _ any) bool { n++; return true })
	return n
}
