package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Memory is an in-process Limiter: a sliding log per key, kept as a ring
// of the last N request times, so it never admits more than N requests in
// any window of Per.
type Memory struct {
	rate  Rate
	now   func() time.Time
	mu    sync.Mutex
	logs  map[string]*ring
	calls int
}

type ring struct {
	times []int64 // unix nanoseconds, oldest at head once full
	head  int
}

// NewMemory returns a Memory limiter; now nil means time.Now.
func NewMemory(rate Rate, now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{rate: rate, now: now, logs: make(map[string]*ring)}
}

var _ Limiter = (*Memory)(nil)

// Allow implements Limiter.
func (m *Memory) Allow(_ context.Context, key string) (Decision, error) {
	now := m.now().UnixNano()
	window := int64(m.rate.Per)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.calls++; m.calls%4096 == 0 {
		m.sweep(now - window)
	}
	r := m.logs[key]
	if r == nil {
		r = &ring{times: make([]int64, 0, min(m.rate.N, 64))}
		m.logs[key] = r
	}
	if len(r.times) < m.rate.N {
		r.times = append(r.times, now)
		return Decision{Allowed: true}, nil
	}
	oldest := r.times[r.head]
	if now-oldest < window {
		return Decision{RetryAfter: time.Duration(window - (now - oldest))}, nil
	}
	r.times[r.head] = now
	r.head = (r.head + 1) % len(r.times)
	return Decision{Allowed: true}, nil
}

// sweep forgets keys with no request since cutoff, keeping memory bounded
// by the keys active within one window.
func (m *Memory) sweep(cutoff int64) {
	for k, r := range m.logs {
		newest := r.times[(r.head+len(r.times)-1)%len(r.times)]
		if newest < cutoff {
			delete(m.logs, k)
		}
	}
}
