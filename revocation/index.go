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
type Index struct {
	mu       sync.RWMutex
	sessions map[string]time.Time // session id -> until
	versions map[int64]version
}

// version is a user's token version, held until the last token it
// refuses has expired.
type version struct {
	latch.TokenVersion
	until time.Time
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{sessions: make(map[string]time.Time), versions: make(map[int64]version)}
}

// Revoked reports whether a token of session sid (may be empty), user and
// token version ver is revoked.
func (ix *Index) Revoked(sid string, userID, ver int64) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if sid != "" {
		if _, ok := ix.sessions[sid]; ok {
			return true
		}
	}
	if v, ok := ix.versions[userID]; ok && !v.Allows(sid, ver) {
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
		if until, ok := ix.sessions[r.SessionID]; !ok || r.Until.After(until) {
			ix.sessions[r.SessionID] = r.Until
		}
	}
	if v := r.Version; v.UserID != 0 {
		cur, ok := ix.versions[v.UserID]
		switch {
		case !ok || v.Version > cur.Version:
			ix.versions[v.UserID] = version{v, r.Until}
		case v.Version == cur.Version && r.Until.After(cur.until):
			cur.until = r.Until
			ix.versions[v.UserID] = cur
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
	for id, until := range ix.sessions {
		if until.Before(now) {
			delete(ix.sessions, id)
			n++
		}
	}
	for id, v := range ix.versions {
		if v.until.Before(now) {
			delete(ix.versions, id)
			n++
		}
	}
	return n
}

// Len returns the number of revoked sessions and of user versions held.
func (ix *Index) Len() (sessions, versions int) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.sessions), len(ix.versions)
}
