package memory

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/latch-auth/latch"
)

// DefaultMaxEntries is CacheOptions.MaxEntries's default.
const DefaultMaxEntries = 100_000

// CacheOptions configure a Cache. Zero values are the documented defaults.
type CacheOptions struct {
	// MaxEntries bounds the number of values kept, over all sessions. When
	// a new value would exceed it, expired values are swept and then the
	// least recently used values are evicted. Default DefaultMaxEntries.
	MaxEntries int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Cache is an in-process latch.SessionCache: a map of sessions to maps of
// keys, with per-value expiry and a bound on the number of values (least
// recently used first out). Expired values are dropped lazily, when read
// or when room is needed. Values are copied in and out, so callers may
// reuse their slices. It is safe for concurrent use.
type Cache struct {
	maxEntries int
	now        func() time.Time

	mu       sync.Mutex
	sessions map[string]map[string]*list.Element
	lru      *list.List // of *entry, most recently used at the front
	// setsSinceSweep counts insertions since the last full sweep of
	// expired values, so that sweeps stay amortized O(1) per insertion.
	setsSinceSweep int
}

type entry struct {
	sessionID, key string
	value          []byte
	expires        time.Time // zero: no expiry
}

func (e *entry) expired(now time.Time) bool {
	return !e.expires.IsZero() && !now.Before(e.expires)
}

var _ latch.SessionCache = (*Cache)(nil)

// NewCache returns an empty Cache configured by opts.
func NewCache(opts CacheOptions) *Cache {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Cache{
		maxEntries: opts.MaxEntries,
		now:        opts.Now,
		sessions:   make(map[string]map[string]*list.Element),
		lru:        list.New(),
	}
}

// Get implements latch.SessionCache: it returns a copy of the value and
// true, or (nil, false, nil) when it is absent or expired. It never fails.
func (c *Cache) Get(_ context.Context, sessionID, key string) ([]byte, bool, error) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.sessions[sessionID][key]
	if !ok {
		return nil, false, nil
	}
	e := el.Value.(*entry)
	if e.expired(now) {
		c.remove(el)
		return nil, false, nil
	}
	c.lru.MoveToFront(el)
	return append([]byte(nil), e.value...), true, nil
}

// Set implements latch.SessionCache: it stores a copy of value for ttl (0:
// until the session's values are dropped, or evicted to make room). A
// negative ttl is an error.
func (c *Cache) Set(_ context.Context, sessionID, key string, value []byte, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("memory: cache set: negative ttl %s", ttl)
	}
	now := c.now()
	var expires time.Time
	if ttl > 0 {
		expires = now.Add(ttl)
	}
	value = append([]byte(nil), value...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.sessions[sessionID][key]; ok {
		e := el.Value.(*entry)
		e.value, e.expires = value, expires
		c.lru.MoveToFront(el)
		return nil
	}
	c.makeRoom(now)
	keys := c.sessions[sessionID]
	if keys == nil {
		keys = make(map[string]*list.Element)
		c.sessions[sessionID] = keys
	}
	keys[key] = c.lru.PushFront(&entry{sessionID: sessionID, key: key, value: value, expires: expires})
	return nil
}

// Delete implements latch.SessionCache; deleting an absent value is not
// an error.
func (c *Cache) Delete(_ context.Context, sessionID, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.sessions[sessionID][key]; ok {
		c.remove(el)
	}
	return nil
}

// DropSession implements latch.SessionCache: it removes every value of
// the session.
func (c *Cache) DropSession(_ context.Context, sessionID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, el := range c.sessions[sessionID] {
		c.lru.Remove(el)
	}
	delete(c.sessions, sessionID)
	return nil
}

// Len returns the number of values held, expired ones not yet dropped
// included.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// makeRoom frees one slot when the cache is full: first by sweeping the
// expired values (at most once per maxEntries/8 insertions), then by
// evicting the least recently used. c.mu is held.
func (c *Cache) makeRoom(now time.Time) {
	c.setsSinceSweep++
	if c.lru.Len() < c.maxEntries {
		return
	}
	if c.setsSinceSweep >= max(c.maxEntries/8, 1) {
		c.setsSinceSweep = 0
		for el := c.lru.Back(); el != nil; {
			prev := el.Prev()
			if el.Value.(*entry).expired(now) {
				c.remove(el)
			}
			el = prev
		}
	}
	for c.lru.Len() >= c.maxEntries {
		c.remove(c.lru.Back())
	}
}

// remove drops one value. c.mu is held.
func (c *Cache) remove(el *list.Element) {
	e := c.lru.Remove(el).(*entry)
	keys := c.sessions[e.sessionID]
	delete(keys, e.key)
	if len(keys) == 0 {
		delete(c.sessions, e.sessionID)
	}
}
