package auth

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"strconv"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/token"
)

// Principal is the authenticated caller of a request. Each call of
// Authenticate returns a copy of its own: changing it affects no other
// request.
type Principal struct {
	UserID    int64
	SessionID string
	Version   int64
	Type      token.Type // access, or sliding
	ExpiresAt time.Time
	claims    *token.Claims // shared by the cached copies, never modified
}

// Claims returns the token's claims; the caller may modify the copy.
func (p *Principal) Claims() token.Claims {
	c := *p.claims
	c.Extra = maps.Clone(c.Extra)
	return c
}

// Authenticate checks an access token: signature and claims (once per
// token, then from a bounded cache), then on every call expiry, revocation
// and the user's state. In steady state it does no I/O.
func (s *Service) Authenticate(ctx context.Context, raw string) (*Principal, error) {
	now := s.opts.Now()
	key := s.verified.key(raw)
	p := s.verified.get(key)
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
		p = &Principal{UserID: id, SessionID: c.SessionID, Version: c.Version, Type: c.Type, ExpiresAt: c.ExpiresAt, claims: c}
		s.verified.put(key, p)
	}
	if s.opts.RefreshOnly {
		// SimpleJWT's JWTAuthentication: the user is looked up on every
		// request, and an inactive one refused.
		if _, err := s.activeUser(ctx, p.UserID, now); err != nil {
			return nil, err
		}
	} else if err := s.opts.Revocations.Check(ctx, p.SessionID, p.UserID, p.Version); err != nil {
		// With immediate revocation the index alone decides: deactivation,
		// deletion and password changes bump the user's token version, so
		// no user record is needed to refuse their tokens.
		return nil, s.whyRevoked(ctx, p.UserID, now, err)
	}
	s.authenticated.Add()
	own := *p
	return &own, nil
}

// whyRevoked words a refusal of the revocation index as SimpleJWT's
// JWTAuthentication does for the user behind it: a deleted user's tokens
// get "User not found" and a deactivated user's "User is inactive" (their
// sessions were revoked with them), any other revoked token "Token is
// blacklisted". The user record is read on this failure path only, through
// the user cache, which remembers deleted users too; when it cannot be read
// the refusal stands as it is.
func (s *Service) whyRevoked(ctx context.Context, id int64, now time.Time, err error) error {
	if !errors.Is(err, latch.ErrSessionRevoked) {
		return err
	}
	u, uerr := s.users.get(ctx, id, now, explainFetchTimeout, true)
	switch {
	case errors.Is(uerr, latch.ErrNotFound):
		return fmt.Errorf("user %d: %w", id, latch.ErrNotFound)
	case uerr == nil && !u.IsActive:
		return latch.ErrUserInactive
	}
	return err
}

// Authenticated returns how many access tokens Authenticate has accepted
// since the Service was made: the authenticated request rate, read by
// whoever sizes work that competes with those requests for CPU (the
// hashing pool of latch serve).
func (s *Service) Authenticated() uint64 { return s.authenticated.Load() }

// User returns the caller's user record, for handlers that show it: cached
// briefly, one fetch for concurrent misses, and the last known record while
// the database cannot answer.
func (s *Service) User(ctx context.Context, p *Principal) (*latch.User, error) {
	return s.activeUser(ctx, p.UserID, s.opts.Now())
}

func (s *Service) activeUser(ctx context.Context, id int64, now time.Time) (*latch.User, error) {
	u, err := s.users.getAt(ctx, id, now)
	if err != nil {
		return nil, err
	}
	if !u.IsActive {
		return nil, latch.ErrUserInactive
	}
	return u, nil
}

// verifiedCache holds verified access tokens, keyed by a 128-bit keyed
// hash of the token rather than the token itself, so that it keeps no
// bearer secrets and costs the same per entry whatever a token's length.
// The two seeds are random per process and no hash value ever leaves it:
// finding a string whose key equals a cached token's is a 2^-128 guess.
// (maphash rather than SHA-256: a tenth of the cost on every request.)
// Tokens in use survive eviction (see generations).
type verifiedCache struct {
	seeds  [2]maphash.Seed
	tokens *generations[verifiedKey, *Principal]
}

type verifiedKey [2]uint64

func newVerifiedCache(max int) *verifiedCache {
	return &verifiedCache{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, tokens: newGenerations[verifiedKey, *Principal](max)}
}

func (c *verifiedCache) key(raw string) verifiedKey {
	return verifiedKey{maphash.String(c.seeds[0], raw), maphash.String(c.seeds[1], raw)}
}

// get returns the principal of the token with key k, nil when not cached.
func (c *verifiedCache) get(k verifiedKey) *Principal {
	p, _ := c.tokens.get(k)
	return p
}

func (c *verifiedCache) put(k verifiedKey, p *Principal) { c.tokens.put(k, p) }

// len returns how many tokens are cached.
func (c *verifiedCache) len() int { return c.tokens.len() }

// userCache keeps user records. Deactivation and password changes reach
// other instances as token-version bumps through the revocation index, so
// a short TTL is safe. Concurrent misses of one user share one fetch; when
// the fetch fails for want of the database, the expired record is served
// rather than an error (a user record changes rarely; a revocation does
// not need it). Reads take no lock (see generations).
type userCache struct {
	store  latch.UserStore
	ttl    time.Duration
	now    func() time.Time
	m      *generations[int64, *cachedUser]
	flight singleflight.Group
}

type cachedUser struct {
	u       *latch.User // nil: no such user (deleted)
	fetched time.Time
}

// maxCachedUsers bounds the cache.
const maxCachedUsers = 100_000

func newUserCache(store latch.UserStore, ttl time.Duration, now func() time.Time) *userCache {
	return &userCache{store: store, ttl: ttl, now: now, m: newGenerations[int64, *cachedUser](maxCachedUsers)}
}

// explainFetchTimeout bounds the user read that words a refusal: the
// refusal itself needs no I/O, and must not wait on a database that does
// not answer (it then stands as "blacklisted").
const explainFetchTimeout = 250 * time.Millisecond

func (c *userCache) getAt(ctx context.Context, id int64, now time.Time) (*latch.User, error) {
	return c.get(ctx, id, now, 0, false)
}

// get returns user id's record: cached within the TTL, else fetched (one
// fetch for concurrent callers, bounded by fetchTimeout unless 0), else the
// last one known while the database cannot answer. With remember, a user
// that does not exist is remembered as such for the TTL (for the users of
// revoked tokens: deleted ones, whose ids are never given again).
func (c *userCache) get(ctx context.Context, id int64, now time.Time, fetchTimeout time.Duration, remember bool) (*latch.User, error) {
	e, ok := c.m.get(id)
	if ok && now.Sub(e.fetched) < c.ttl {
		if e.u == nil {
			return nil, fmt.Errorf("user %d: %w", id, latch.ErrNotFound)
		}
		return e.u, nil
	}
	v, err, _ := c.flight.Do(strconv.FormatInt(id, 10), func() (any, error) {
		// One caller's cancellation must not fail the others waiting.
		fetchCtx := context.WithoutCancel(ctx)
		if fetchTimeout > 0 {
			var cancel context.CancelFunc
			fetchCtx, cancel = context.WithTimeout(fetchCtx, fetchTimeout)
			defer cancel()
		}
		u, err := c.store.UserByID(fetchCtx, id)
		if remember && errors.Is(err, latch.ErrNotFound) {
			// So that a deleted user's tokens, refused on every request,
			// cost the database one read per TTL.
			c.m.put(id, &cachedUser{fetched: now})
		}
		if err != nil {
			return nil, err
		}
		c.m.put(id, &cachedUser{u: u, fetched: now})
		return u, nil
	})
	switch {
	case err == nil:
		return v.(*latch.User), nil
	case errors.Is(err, latch.ErrNotFound):
		return nil, err
	case ok && e.u != nil:
		return e.u, nil // stale, while the database cannot answer
	case ok:
		return nil, fmt.Errorf("user %d: %w", id, latch.ErrNotFound) // remembered as deleted
	}
	return nil, fmt.Errorf("%w: %w", latch.ErrUnavailable, err)
}

func (c *userCache) forget(id int64) {
	c.m.delete(id)
}
