package main

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/memory"
	"github.com/latch-auth/latch/postgres"
	"github.com/latch-auth/latch/ratelimit"
	"github.com/latch-auth/latch/redis"
)

func openPostgres(ctx context.Context, url string) (store, error) {
	return postgres.Open(ctx, url)
}

// shared is the state instances share: Redis when LATCH_REDIS_URL is set,
// otherwise this process's memory.
type shared struct {
	client goredis.UniversalClient // nil: in-process
	bus    latch.RevocationBus     // nil: a single instance needs none
	cache  latch.SessionCache
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

// limiter is the throttle of the anonymous scope: in Redis, so that the
// rate holds across instances.
func (s *shared) limiter(rate ratelimit.Rate, now func() time.Time) (ratelimit.Limiter, error) {
	if s.client == nil {
		return ratelimit.NewMemory(rate, now), nil
	}
	return redis.NewLimiter(s.client, rate)
}

func (s *shared) Close() error {
	if s.client == nil {
		return nil
	}
	return s.client.Close()
}
