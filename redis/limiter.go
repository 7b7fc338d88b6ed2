package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/latch-auth/latch/ratelimit"
)

// slidingWindow is a strict sliding log in one atomic step: it never
// admits more than N requests in any window, across every instance that
// shares the key. Times come from the server's clock (TIME), in
// microseconds (exact in a sorted-set score until the year 2255), so
// instances with skewed clocks agree. Refused requests are not counted, as
// in ratelimit.Memory.
//
// KEYS[1] the log; ARGV[1] N; ARGV[2] window (µs); ARGV[3] a unique member.
// Returns {1, 0} when admitted, {0, µs until the oldest counted request
// leaves the window} when refused.
var slidingWindow = goredis.NewScript(`
local key = KEYS[1]
local n = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < n then
	redis.call('ZADD', key, now, ARGV[3])
	redis.call('PEXPIRE', key, math.ceil(window / 1000))
	return {1, 0}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local wait = tonumber(oldest[2]) + window - now
if wait < 1 then wait = 1 end
return {0, wait}
`)

// Limiter is a ratelimit.Limiter shared by every instance through Redis:
// the same strict sliding window as ratelimit.Memory (never more than N
// requests in any window of Per; RetryAfter is the time until the oldest
// counted request leaves the window), checked and recorded by one Lua
// script, so concurrent requests on any number of instances cannot slip
// past the limit.
//
// Each key is a sorted set "latch:rl:{key}" (the hash tag keeps it whole
// on Redis Cluster) of at most N members, expiring one window after the
// last admitted request. Limiters with different rates must be given
// distinct keys (for example "anon:" and "user:" prefixes).
type Limiter struct {
	client goredis.UniversalClient
	rate   ratelimit.Rate
	window string // µs, as the script's argument
	n      string
	prefix string // unique to this Limiter, for members
	seq    atomic.Uint64
}

var _ ratelimit.Limiter = (*Limiter)(nil)

// NewLimiter returns a Limiter admitting rate.N requests per rate.Per per
// key. It returns an error when rate.N or rate.Per is not positive.
func NewLimiter(client goredis.UniversalClient, rate ratelimit.Rate) (*Limiter, error) {
	if rate.N <= 0 || rate.Per < time.Microsecond {
		return nil, fmt.Errorf("redis: invalid rate %v: N and Per must be positive", rate)
	}
	if client == nil {
		return nil, errors.New("redis: NewLimiter: nil client")
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &Limiter{
		client: client,
		rate:   rate,
		window: strconv.FormatInt(rate.Per.Microseconds(), 10),
		n:      strconv.Itoa(rate.N),
		prefix: hex.EncodeToString(b[:]) + ":",
	}, nil
}

// Rate returns the rate l enforces.
func (l *Limiter) Rate() ratelimit.Rate { return l.rate }

// LimiterKey returns the Redis key of the log for key.
func LimiterKey(key string) string { return "latch:rl:{" + key + "}" }

// Allow implements ratelimit.Limiter. It returns an error (and no
// decision) when Redis cannot be reached; the caller decides whether to
// fail open or closed.
func (l *Limiter) Allow(ctx context.Context, key string) (ratelimit.Decision, error) {
	member := l.prefix + strconv.FormatUint(l.seq.Add(1), 36)
	res, err := slidingWindow.Run(ctx, l.client, []string{LimiterKey(key)}, l.n, l.window, member).Int64Slice()
	if err != nil {
		return ratelimit.Decision{}, fmt.Errorf("redis: rate limit: %w", err)
	}
	if len(res) != 2 {
		return ratelimit.Decision{}, fmt.Errorf("redis: rate limit: unexpected reply %v", res)
	}
	if res[0] == 1 {
		return ratelimit.Decision{Allowed: true}, nil
	}
	return ratelimit.Decision{RetryAfter: time.Duration(res[1]) * time.Microsecond}, nil
}
