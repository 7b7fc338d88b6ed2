package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/latch-auth/latch/ratelimit"
)

// counterAdd adds to a window's count and gives the key an expiry when it
// has none (it was just created), in one atomic step.
// KEYS[1] the count; ARGV[1] n; ARGV[2] TTL (ms). Returns the new count.
var counterAdd = goredis.NewScript(`
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return v
`)

// Counter is a ratelimit.Counter shared by every instance: each key and
// window is one Redis integer, "latch:cnt:{key}:<window start in Unix
// milliseconds>" (CounterKey), incremented with INCRBY. It expires two
// window lengths after its creation, so it outlives its window whenever
// it is created, and an idle key costs nothing.
//
// Use it through ratelimit.NewBatched, which calls it once per batch of
// requests rather than once per request.
type Counter struct {
	client goredis.UniversalClient
}

var _ ratelimit.Counter = (*Counter)(nil)

// NewCounter returns a Counter on client.
func NewCounter(client goredis.UniversalClient) *Counter { return &Counter{client: client} }

// CounterKey returns the Redis key of key's count in the window starting
// at windowStart.
func CounterKey(key string, windowStart time.Time) string {
	return "latch:cnt:{" + key + "}:" + strconv.FormatInt(windowStart.UnixMilli(), 10)
}

// Add implements ratelimit.Counter with one script call (one round trip).
// It returns an error when n is negative, per is under a millisecond, or
// Redis cannot be reached.
func (c *Counter) Add(ctx context.Context, key string, windowStart time.Time, per time.Duration, n int64) (int64, error) {
	if n < 0 {
		return 0, errors.New("redis: counter: negative increment")
	}
	if per < time.Millisecond {
		return 0, fmt.Errorf("redis: counter: window %s shorter than 1ms", per)
	}
	total, err := counterAdd.Run(ctx, c.client, []string{CounterKey(key, windowStart)}, n, (2 * per).Milliseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("redis: counter: %w", err)
	}
	return total, nil
}
