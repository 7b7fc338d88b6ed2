package redis_test

import (
	"testing"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/ratelimit"
	"github.com/latch-auth/latch/redis"
	"github.com/latch-auth/latch/storetest"
)

// The Redis backends pass the same suites as the in-process ones.
func TestConformance(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		client := mustOpen(t, tg)
		t.Run("SessionCache", func(t *testing.T) {
			storetest.TestSessionCache(t, func(*testing.T) latch.SessionCache { return redis.NewCache(client, redis.CacheOptions{}) })
		})
		t.Run("Limiter", func(t *testing.T) {
			storetest.TestLimiter(t, func(t *testing.T, r ratelimit.Rate) ratelimit.Limiter {
				l, err := redis.NewLimiter(client, r)
				if err != nil {
					t.Fatal(err)
				}
				return l
			})
		})
		t.Run("Guard", func(t *testing.T) {
			storetest.TestGuard(t, func(_ *testing.T, p ratelimit.GuardPolicy) ratelimit.Guard { return redis.NewGuard(client, p) })
		})
	})
}
