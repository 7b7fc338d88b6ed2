package auth

import (
	"context"
	"time"

	"github.com/latch-auth/latch"
)

// PrincipalCache is the per-session cache (seed 000) as one caller sees
// it. Values live in Options.Cache under the caller's session, with keys
// prefixed by the generation of the caller's access token (its jti), so
// that a refresh makes the values cached before it unreachable to the new
// tokens with no round trip at all. The instance that stored them also
// drops them when it rotates the session (as seed 000 deletes the old
// token's entries), so that the old access token, valid until it expires,
// no longer reads them (a value it stores again goes at the next
// rotation); values stored through another instance expire with their
// TTL. Logout and revocation drop all of a session's values at
// once (latch.SessionCache.DropSession), and the old access tokens are
// refused from then on.
type PrincipalCache struct {
	cache      latch.SessionCache
	session    string
	generation string
	stored     *generations[string, struct{}] // Service.cachedSessions
}

// CacheFor returns the cache of p's session and generation, or nil when
// no cache is configured or p has no session (a SimpleJWT token).
func (s *Service) CacheFor(p *Principal) *PrincipalCache {
	if s.opts.Cache == nil || p == nil || p.SessionID == "" || p.claims == nil {
		return nil
	}
	return &PrincipalCache{cache: s.opts.Cache, session: p.SessionID, generation: p.claims.ID, stored: s.cachedSessions}
}

// key is what k is stored under: the generation, then k.
func (c *PrincipalCache) key(k string) string { return c.generation + "/" + k }

// Get returns the value of key and true, or false when absent or expired.
func (c *PrincipalCache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	return c.cache.Get(ctx, c.session, c.key(key))
}

// Set stores value under key for ttl (0: until the session's values are
// dropped, or the cache evicts it).
func (c *PrincipalCache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if _, ok := c.stored.get(c.session); !ok {
		// Marked before the value is stored, so that a rotation after
		// this Set returns drops it.
		c.stored.put(c.session, struct{}{})
	}
	return c.cache.Set(ctx, c.session, c.key(key), value, ttl)
}

// Delete removes the value of key.
func (c *PrincipalCache) Delete(ctx context.Context, key string) error {
	return c.cache.Delete(ctx, c.session, c.key(key))
}
