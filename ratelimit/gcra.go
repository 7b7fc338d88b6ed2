package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// GCRA is an in-process Limiter for the hot path (the per-user throttle on
// every authenticated request): the generic cell rate algorithm, one int64
// per key (the theoretical arrival time of the key's next request), in a
// map cut into shards so that concurrent requests of different users do
// not queue on one lock, and updated by compare-and-swap.
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
	seed      maphash.Seed
	shards    [gcraShards]gcraShard
}

const (
	gcraShards     = 64
	gcraSweepEvery = 4096 // inserts per shard between sweeps of idle keys
)

type gcraShard struct {
	mu      sync.RWMutex
	tat     map[string]*atomic.Int64
	inserts int
}

// NewGCRA returns a GCRA limiter at rate; now nil means time.Now.
func NewGCRA(rate Rate, now func() time.Time) *GCRA {
	if now == nil {
		now = time.Now
	}
	interval := max(int64(rate.Per)/int64(rate.N), 1)
	g := &GCRA{interval: interval, tolerance: int64(rate.Per) - interval, now: now, seed: maphash.MakeSeed()}
	for i := range g.shards {
		g.shards[i].tat = make(map[string]*atomic.Int64)
	}
	return g
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
	s := &g.shards[maphash.String(g.seed, key)%gcraShards]
	s.mu.RLock()
	c := s.tat[key]
	s.mu.RUnlock()
	if c != nil {
		return c
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c = s.tat[key]; c != nil {
		return c
	}
	if s.inserts++; s.inserts%gcraSweepEvery == 0 {
		// A key whose arrival time has passed is as good as new: forget
		// it, keeping memory bounded by the keys active within one Per.
		for k, v := range s.tat {
			if v.Load() < now {
				delete(s.tat, k)
			}
		}
	}
	c = new(atomic.Int64)
	c.Store(now)
	s.tat[key] = c
	return c
}

// len returns how many keys are kept.
func (g *GCRA) len() int {
	n := 0
	for i := range g.shards {
		s := &g.shards[i]
		s.mu.RLock()
		n += len(s.tat)
		s.mu.RUnlock()
	}
	return n
}
