package redis_test

import (
	"context"
	"log"
	"time"

	"github.com/latch-auth/latch/ratelimit"
	"github.com/latch-auth/latch/redis"
)

// Wiring the Redis backends of a scaled-out deployment
// (LATCH_REDIS_URL). Several comma-separated addresses select Redis
// Cluster.
func ExampleOpen() {
	ctx := context.Background()
	client, err := redis.Open(ctx, "redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	bus := redis.NewBus(client, "")                       // revocation.Options.Bus
	cache := redis.NewCache(client, redis.CacheOptions{}) // the per-session cache
	anon, err := redis.NewLimiter(client, ratelimit.Rate{N: 20, Per: time.Minute})
	if err != nil {
		log.Fatal(err)
	}

	d, err := anon.Allow(ctx, "anon:203.0.113.7")
	if err == nil && !d.Allowed {
		log.Printf("throttled; retry in %s", d.RetryAfter)
	}
	_ = cache.Set(ctx, "session-id", "orders", []byte(`[]`), 5*time.Minute)
	_ = bus
}
