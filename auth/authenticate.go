package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/token"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID    int64
	SessionID string
	Version   int64
	ExpiresAt time.Time
	Claims    *token.Claims
}

// Authenticate checks an access token: signature and claims (once per
// token, then from a bounded cache keyed by the exact token string), then
// on every call expiry, revocation and the user's state. In steady state it
// does no I/O.
func (s *Service) Authenticate(ctx context.Context, raw string) (*Principal, error) {
	now := s.opts.Now()
	p := s.verified.get(raw)
	if p == nil || !now.Before(p.ExpiresAt.Add(s.opts.Leeway)) {
		c, err := s.parse(ctx, raw, token.Access)
		if s.opts.Sliding && errors.Is(err, token.ErrWrongType) {
			c, err = s.parse(ctx, raw, token.Sliding) // AUTH_TOKEN_CLASSES with SlidingToken
		}
		if err != nil {
			return nil, err
		}
		id, err := userOf(c)
		if errors.Is(err, ErrNoUserID) {
			return nil, err
		}
		if err != nil {
			return nil, latch.ErrNotFound
		}
		p = &Principal{UserID: id, SessionID: c.SessionID, Version: c.Version, ExpiresAt: c.ExpiresAt, Claims: c}
		s.verified.put(raw, p)
	}
	if !s.opts.RefreshOnly {
		if err := s.opts.Revocations.Check(ctx, p.SessionID, p.UserID, p.Version); err != nil {
			return nil, err
		}
	}
	u, err := s.users.getAt(ctx, p.UserID, now)
	if err != nil {
		return nil, err
	}
	if !u.IsActive {
		return nil, latch.ErrUserInactive
	}
	return p, nil
}

// User returns the caller's user record (cached briefly).
func (s *Service) User(ctx context.Context, p *Principal) (*latch.User, error) {
	return s.users.get(ctx, p.UserID)
}

// verifiedCache holds verified access tokens. When full it starts over:
// cheaper than LRU bookkeeping on every hit, and a miss only costs one
// signature check.
type verifiedCache struct {
	mu  sync.RWMutex
	m   map[string]*Principal
	max int
}

func newVerifiedCache(max int) *verifiedCache {
	return &verifiedCache{m: make(map[string]*Principal), max: max}
}

func (c *verifiedCache) get(raw string) *Principal {
	c.mu.RLock()
	p := c.m[raw]
	c.mu.RUnlock()
	return p
}

func (c *verifiedCache) put(raw string, p *Principal) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		c.m = make(map[string]*Principal)
	}
	c.m[raw] = p
	c.mu.Unlock()
}

// userCache keeps user records for Authenticate. Deactivation and
// password changes reach other instances as token-version bumps through
// the revocation index, so a short TTL is safe.
type userCache struct {
	store latch.UserStore
	ttl   time.Duration
	now   func() time.Time
	mu    sync.RWMutex
	m     map[int64]cachedUser
}

type cachedUser struct {
	u       *latch.User
	fetched time.Time
}

func newUserCache(store latch.UserStore, ttl time.Duration, now func() time.Time) *userCache {
	return &userCache{store: store, ttl: ttl, now: now, m: make(map[int64]cachedUser)}
}

func (c *userCache) get(ctx context.Context, id int64) (*latch.User, error) {
	return c.getAt(ctx, id, c.now())
}

func (c *userCache) getAt(ctx context.Context, id int64, now time.Time) (*latch.User, error) {
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	if ok && now.Sub(e.fetched) < c.ttl {
		return e.u, nil
	}
	u, err := c.store.UserByID(ctx, id)
	if err != nil {
		if errors.Is(err, latch.ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", latch.ErrUnavailable, err)
	}
	c.mu.Lock()
	if len(c.m) >= 100_000 {
		c.m = make(map[int64]cachedUser)
	}
	c.m[id] = cachedUser{u: u, fetched: now}
	c.mu.Unlock()
	return u, nil
}

func (c *userCache) forget(id int64) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}
