package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/latch-auth/latch/ratelimit"
)

// guardWait returns how long an account must wait (µs), by the server's
// clock, and when that is 0 while the account backs off, claims the
// opening (the wait counts from now again), as ratelimit.MemoryGuard does.
// The back-off is GuardPolicy.Delay: min(base·2^(n−free), max) once n ≥
// free; the products are exact in Lua's doubles (integers below 2^53).
// KEYS[1] the account's hash; ARGV[1] free; ARGV[2] base (µs); ARGV[3]
// max (µs).
var guardWait = goredis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'n', 't')
if not v[1] or not v[2] then
	return 0
end
local n = tonumber(v[1])
local free = tonumber(ARGV[1])
if n < free then
	return 0
end
local d = tonumber(ARGV[3])
if n - free < 63 then
	d = math.min(d, tonumber(ARGV[2]) * 2 ^ (n - free))
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wait = tonumber(v[2]) + d - now
if wait > 0 then
	return wait
end
redis.call('HSET', KEYS[1], 't', t[1] .. string.sub('00000' .. t[2], -6))
return 0
`)

// guardFail records a failure at the server's time and keeps the account's
// failures for Forget after it. Times are kept as strings (seconds and
// zero-padded microseconds of TIME, concatenated), never as Lua numbers,
// which would be formatted with too few digits.
// KEYS[1] the account's hash; ARGV[1] Forget (ms). Returns the failures.
var guardFail = goredis.NewScript(`
local t = redis.call('TIME')
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HSET', KEYS[1], 't', t[1] .. string.sub('00000' .. t[2], -6))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n
`)

// Guard is a ratelimit.Guard shared by every instance: failures recorded
// on one are seen by all, so spreading guesses over instances (or IPs)
// gains nothing. It backs off as ratelimit.MemoryGuard does (see
// ratelimit.Guard and ratelimit.GuardPolicy, including why it cannot lock
// an account out for good), timed by the Redis server's clock (TIME), so
// instances with skewed clocks agree.
//
// An account's failures are the hash "latch:guard:{account}" (GuardKey),
// with fields n (the count) and t (when the wait counts from: the last
// failure or claimed opening, µs since the epoch), expiring Forget after
// the last failure. Wait and Fail are one script call each, Reset one DEL.
type Guard struct {
	client    goredis.UniversalClient
	p         ratelimit.GuardPolicy
	base, max int64 // µs
	forget    int64 // ms
}

var _ ratelimit.Guard = (*Guard)(nil)

// NewGuard returns a Guard with policy p (see GuardPolicy.WithDefaults).
func NewGuard(client goredis.UniversalClient, p ratelimit.GuardPolicy) *Guard {
	p = p.WithDefaults()
	return &Guard{
		client: client,
		p:      p,
		base:   max(1, p.Base.Microseconds()),
		max:    max(1, p.Max.Microseconds()),
		forget: max(1, p.Forget.Milliseconds()),
	}
}

// Policy returns the policy g enforces, defaults filled in.
func (g *Guard) Policy() ratelimit.GuardPolicy { return g.p }

// GuardKey returns the Redis key of account's failures.
func GuardKey(account string) string { return "latch:guard:{" + account + "}" }

// Wait implements ratelimit.Guard. It returns an error (and 0) when Redis
// cannot be reached; the caller decides whether to fail open or closed.
func (g *Guard) Wait(ctx context.Context, account string) (time.Duration, error) {
	wait, err := guardWait.Run(ctx, g.client, []string{GuardKey(account)}, g.p.Free, g.base, g.max).Int64()
	if err != nil {
		return 0, fmt.Errorf("redis: guard wait: %w", err)
	}
	return time.Duration(wait) * time.Microsecond, nil
}

// Fail implements ratelimit.Guard. It returns an error when Redis cannot
// be reached.
func (g *Guard) Fail(ctx context.Context, account string) error {
	if err := guardFail.Run(ctx, g.client, []string{GuardKey(account)}, g.forget).Err(); err != nil {
		return fmt.Errorf("redis: guard fail: %w", err)
	}
	return nil
}

// Reset implements ratelimit.Guard. It returns an error when Redis cannot
// be reached.
func (g *Guard) Reset(ctx context.Context, account string) error {
	if err := g.client.Del(ctx, GuardKey(account)).Err(); err != nil {
		return fmt.Errorf("redis: guard reset: %w", err)
	}
	return nil
}
