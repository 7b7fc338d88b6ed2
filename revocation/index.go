// Package revocation keeps the revocation state of one latch instance in
// memory, so that checking a token on the authenticated-request path is a
// map read with no I/O, and keeps that state current: from the database at
// start, after every reconnect and by a periodic catch-up, and from other
// instances through a Transport (Redis pub/sub) in between.
package revocation

import (
	"sync"
	"time"

	"github.com/latch-auth/latch"
)

// Index is the local revocation index: revoked sessions until the last
// access token they cover expires, and users' token versions.
// The zero value is not usable; call NewIndex.
//
// Every authenticated request reads it, from every core at once, and a
// read takes no lock: a read-locked RWMutex writes its reader count, a
// cache line the cores then pass back and forth on each request. Writers
// (revocations, pruning: rare) take mu among themselves.
type Index struct {
	mu       sync.Mutex
	sessions sync.Map // session id (string) -> until (time.Time)
	versions sync.Map // user id (int64) -> version
}

// version is a user's token version, held until the last token it
// refuses has expired.
type version struct {
	latch.TokenVersion
	until time.Time
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{}
}

// Revoked reports whether a token of session sid (may be empty), user and
// token version ver is revoked.
func (ix *Index) Revoked(sid string, userID, ver int64) bool {
	if sid != "" {
		if _, ok := ix.sessions.Load(sid); ok {
			return true
		}
	}
	if v, ok := ix.versions.Load(userID); ok && !v.(version).Allows(sid, ver) {
		return true
	}
	return false
}

// Apply records r. Versions only move forward, so applying an old message
// late never undoes a newer bump.
func (ix *Index) Apply(r latch.Revocation) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.apply(r)
}

func (ix *Index) apply(r latch.Revocation) {
	if r.SessionID != "" {
		until, ok := ix.sessions.Load(r.SessionID)
		if !ok || r.Until.After(until.(time.Time)) {
			ix.sessions.Store(r.SessionID, r.Until)
		}
	}
	if v := r.Version; v.UserID != 0 {
		old, ok := ix.versions.Load(v.UserID)
		var cur version
		if ok {
			cur = old.(version)
		}
		switch {
		case !ok || v.Version > cur.Version:
			ix.versions.Store(v.UserID, version{v, r.Until})
		case v.Version == cur.Version && r.Until.After(cur.until):
			cur.until = r.Until
			ix.versions.Store(v.UserID, cur)
		}
	}
}

// ApplyAll records many revocations under one lock.
func (ix *Index) ApplyAll(rs []latch.Revocation) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, r := range rs {
		ix.apply(r)
	}
}

// Prune drops entries whose tokens have all expired at now, which keeps
// the index bounded. It returns how many entries went.
func (ix *Index) Prune(now time.Time) int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n := 0
	ix.sessions.Range(func(id, until any) bool {
		if until.(time.Time).Before(now) {
			ix.sessions.Delete(id)
			n++
		}
		return true
	})
	ix.versions.Range(func(id, v any) bool {
		if v.(version).until.Before(now) {
			ix.versions.Delete(id)
			n++
		}
		return true
	})
	return n
}

// Len returns the number of revoked sessions and of user versions held.
func (ix *Index) Len() (sessions, versions int) {
	ix.sessions.Range(func(_, _ any) bool { sessions++; return true })
	ix.versions.Range(func(_, _ any) bool { versions++; return true })
	return sessions, versions
}
