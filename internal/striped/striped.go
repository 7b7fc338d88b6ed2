// Package striped has counters that concurrent increments on different
// cores rarely contend on: each increment adds to one of several stripes,
// picked at random, on a cache line of its own, and a read adds the
// stripes up. An atomic counter that every request increments is a cache
// line the cores pass back and forth on each request.
package striped

import (
	"math/rand/v2"
	"sync/atomic"
)

// Stripes is how many stripes a Counter has: two increments running at
// once share one a time in Stripes.
const Stripes = 8

// Counter is a striped counter. The zero value is zero and ready.
type Counter [Stripes]struct {
	_ [64]byte // a cache line between stripes
	n atomic.Uint64
}

// Add adds 1.
func (c *Counter) Add() { c[rand.N(Stripes)].n.Add(1) }

// Load returns the count. Successive loads never go down.
func (c *Counter) Load() uint64 {
	var n uint64
	for i := range c {
		n += c[i].n.Load()
	}
	return n
}
