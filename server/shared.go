package server

import (
	"context"
	"log/slog"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/memory"
	"github.com/latch-auth/latch/ratelimit"
	"github.com/latch-auth/latch/redis"
)

// shared is the state instances share: Redis when LATCH_REDIS_URL is set,
// otherwise this process's memory.
type shared struct {
	client goredis.UniversalClient // nil: in-process
	bus    latch.RevocationBus     // nil: a single instance needs none
	cache  latch.SessionCache
	// flushers are the batched limiters to flush before closing.
	flushers []*ratelimit.Batched
}

func openShared(ctx context.Context, redisURL string, now func() time.Time) (*shared, error) {
	if redisURL == "" {
		return &shared{cache: memory.NewCache(memory.CacheOptions{Now: now})}, nil
	}
	client, err := redis.Open(ctx, redisURL)
	if err != nil {
		return nil, err
	}
	return &shared{
		client: client,
		bus:    redis.NewBus(client, redis.DefaultChannel),
		cache:  redis.NewCache(client, redis.CacheOptions{}),
	}, nil
}

// anonLimiter is the throttle of the anonymous scope: in Redis, so that
// the rate holds exactly across instances (logins are not the hot path).
// While Redis is away each instance counts in process instead.
func (s *shared) anonLimiter(rate ratelimit.Rate, now func() time.Time, log *slog.Logger) (ratelimit.Limiter, error) {
	local := ratelimit.NewMemory(rate, now)
	if s.client == nil {
		return local, nil
	}
	l, err := redis.NewLimiter(s.client, rate)
	if err != nil {
		return nil, err
	}
	return &ratelimit.Fallback{Primary: l, Secondary: local, OnError: func(err error) {
		log.Warn("anonymous throttle: Redis unavailable, counting in this process", "err", err)
	}}, nil
}

// userLimiter is the per-user throttle, on every authenticated request:
// alone, GCRA in process (one int64 per user, no shared lock); with Redis,
// counted in process and reconciled with Redis in batches, so it adds no
// Redis round trip to the hot path (over-admission bound: see
// ratelimit.Batched).
func (s *shared) userLimiter(rate ratelimit.Rate, now func() time.Time, log *slog.Logger) ratelimit.Limiter {
	if s.client == nil {
		return ratelimit.NewGCRA(rate, now)
	}
	b := ratelimit.NewBatched(rate, redis.NewCounter(s.client), ratelimit.BatchOptions{
		Now:     now,
		OnError: func(err error) { log.Warn("per-user throttle: flush to Redis failed", "err", err) },
	})
	s.flushers = append(s.flushers, b)
	return b
}

// guard limits failed logins per account across instances; nil when
// free is 0 (off). While Redis is away each instance counts in process.
func (s *shared) guard(free int, now func() time.Time, log *slog.Logger) ratelimit.Guard {
	policy := ratelimit.GuardPolicy{Free: free}
	switch {
	case free == 0:
		return nil
	case s.client == nil:
		return ratelimit.NewMemoryGuard(policy, now)
	}
	return &ratelimit.FallbackGuard{
		Primary:   redis.NewGuard(s.client, policy),
		Secondary: ratelimit.NewMemoryGuard(policy, now),
		OnError: func(err error) {
			log.Warn("failed-login guard: Redis unavailable, counting in this process", "err", err)
		},
	}
}

func (s *shared) Close() error {
	if s.client == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, b := range s.flushers {
		b.Flush(ctx) // counts admitted since the last batch reach the other instances
	}
	return s.client.Close()
}
