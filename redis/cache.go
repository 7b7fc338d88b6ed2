package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/latch-auth/latch"
)

// DefaultMaxTTL is CacheOptions.MaxTTL's default: the default absolute
// session lifetime (LATCH_SESSION_MAX_LIFETIME).
const DefaultMaxTTL = 30 * 24 * time.Hour

// CacheOptions configure a Cache. Zero values are the documented defaults.
type CacheOptions struct {
	// MaxTTL is how long a value stored with ttl 0 ("until the session's
	// values are dropped") lives at most, so that the values of a session
	// that is never dropped (an instance died before dropping it) do not
	// stay forever. A session cannot outlive its absolute lifetime, so
	// set it to at least that. Default DefaultMaxTTL.
	MaxTTL time.Duration
}

// Cache is a latch.SessionCache in Redis, shared by every instance.
//
// A value lives under "latch:cache:{sid}:key"; the set
// "latch:cache:{sid}" lists the session's keys. Both share the hash tag
// {sid}, so on Redis Cluster they live in one slot and DropSession removes
// them all in one atomic script. The set expires with the session's
// longest-lived value.
type Cache struct {
	client goredis.UniversalClient
	maxTTL time.Duration
}

var _ latch.SessionCache = (*Cache)(nil)

// NewCache returns a Cache configured by opts.
func NewCache(client goredis.UniversalClient, opts CacheOptions) *Cache {
	if opts.MaxTTL <= 0 {
		opts.MaxTTL = DefaultMaxTTL
	}
	return &Cache{client: client, maxTTL: opts.MaxTTL}
}

// CacheIndexKey returns the Redis key of the set of sessionID's keys; the
// values are under CacheIndexKey(sessionID)+":"+key.
func CacheIndexKey(sessionID string) string { return "latch:cache:{" + sessionID + "}" }

func cacheKey(sessionID, key string) string { return CacheIndexKey(sessionID) + ":" + key }

// cacheSet stores a value and records its key in the session's set, which
// lives at least as long as the value.
// KEYS[1] the set; KEYS[2] the value; ARGV[1] value; ARGV[2] ttl (ms);
// ARGV[3] the key.
var cacheSet = goredis.NewScript(`
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl)
redis.call('SADD', KEYS[1], ARGV[3])
if redis.call('PTTL', KEYS[1]) < ttl then
	redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
`)

// cacheDelete removes one value. KEYS[1] the set; KEYS[2] the value;
// ARGV[1] the key.
var cacheDelete = goredis.NewScript(`
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[1], ARGV[1])
return 1
`)

// cacheDrop removes every value of a session and its set. The value keys
// are built from the set's key and carry the same hash tag, hence the
// same slot. KEYS[1] the set.
var cacheDrop = goredis.NewScript(`
local keys = redis.call('SMEMBERS', KEYS[1])
local batch = {}
for i, k in ipairs(keys) do
	batch[#batch + 1] = KEYS[1] .. ':' .. k
	if #batch == 500 then
		redis.call('UNLINK', unpack(batch))
		batch = {}
	end
end
if #batch > 0 then
	redis.call('UNLINK', unpack(batch))
end
redis.call('UNLINK', KEYS[1])
return #keys
`)

// Get implements latch.SessionCache: it returns (nil, false, nil) when
// the value is absent or expired, and an error only when Redis fails.
func (c *Cache) Get(ctx context.Context, sessionID, key string) ([]byte, bool, error) {
	v, err := c.client.Get(ctx, cacheKey(sessionID, key)).Bytes()
	switch {
	case errors.Is(err, goredis.Nil):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("redis: cache get: %w", err)
	}
	return v, true, nil
}

// Set implements latch.SessionCache. A ttl of 0 keeps the value until
// DropSession, but at most MaxTTL. A negative ttl is an error.
func (c *Cache) Set(ctx context.Context, sessionID, key string, value []byte, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("redis: cache set: negative ttl %s", ttl)
	}
	if ttl == 0 {
		ttl = c.maxTTL
	}
	ms := max(ttl.Milliseconds(), 1)
	err := cacheSet.Run(ctx, c.client, []string{CacheIndexKey(sessionID), cacheKey(sessionID, key)},
		value, strconv.FormatInt(ms, 10), key).Err()
	if err != nil {
		return fmt.Errorf("redis: cache set: %w", err)
	}
	return nil
}

// Delete implements latch.SessionCache; deleting an absent value is not
// an error.
func (c *Cache) Delete(ctx context.Context, sessionID, key string) error {
	err := cacheDelete.Run(ctx, c.client, []string{CacheIndexKey(sessionID), cacheKey(sessionID, key)}, key).Err()
	if err != nil {
		return fmt.Errorf("redis: cache delete: %w", err)
	}
	return nil
}

// DropSession implements latch.SessionCache: it removes every value of
// the session, atomically. Dropping a session with no values is not an
// error.
func (c *Cache) DropSession(ctx context.Context, sessionID string) error {
	if err := cacheDrop.Run(ctx, c.client, []string{CacheIndexKey(sessionID)}).Err(); err != nil {
		return fmt.Errorf("redis: cache drop session: %w", err)
	}
	return nil
}
