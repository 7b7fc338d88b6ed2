package auth

import (
	"sync"
	"sync/atomic"
)

// generations is a bounded map for the authenticated path's caches, read
// from every core at once: a read takes no lock (a read-locked RWMutex
// writes its reader count, a cache line the cores would pass back and forth
// on every request).
//
// Eviction is by generation: when the current map is full it becomes the
// previous one and the one before goes, and a hit in the previous one moves
// the entry forward, so the entries in use survive and the idle ones go
// together, with no per-hit bookkeeping.
type generations[K comparable, V any] struct {
	gen  atomic.Pointer[generation]
	turn sync.Mutex // one generation turn at a time
	max  int        // per generation
}

// generation is the current map and the previous one.
type generation struct {
	cur, old *sync.Map
	n        atomic.Int64 // entries stored in cur
}

// newGenerations returns an empty map of at most about bound entries.
func newGenerations[K comparable, V any](bound int) *generations[K, V] {
	g := &generations[K, V]{max: bound/2 + 1}
	g.gen.Store(&generation{cur: new(sync.Map), old: new(sync.Map)})
	return g
}

func (g *generations[K, V]) get(k K) (V, bool) {
	gen := g.gen.Load()
	if v, ok := gen.cur.Load(k); ok {
		return v.(V), true
	}
	if v, ok := gen.old.Load(k); ok {
		g.put(k, v.(V))
		return v.(V), true
	}
	var zero V
	return zero, false
}

func (g *generations[K, V]) put(k K, v V) {
	gen := g.gen.Load()
	if _, loaded := gen.cur.Swap(k, v); loaded || gen.n.Add(1) < int64(g.max) {
		return
	}
	g.turn.Lock()
	if g.gen.Load() == gen {
		g.gen.Store(&generation{cur: new(sync.Map), old: gen.cur})
	}
	g.turn.Unlock()
}

// delete forgets k in both generations.
func (g *generations[K, V]) delete(k K) {
	gen := g.gen.Load()
	gen.cur.Delete(k)
	gen.old.Delete(k)
}

// len returns how many entries are kept.
func (g *generations[K, V]) len() int {
	gen := g.gen.Load()
	n := 0
	for _, m := range []*sync.Map{gen.cur, gen.old} {
		m.Range(func(_, _ any) bool { n++; return true })
	}
	return n
}
