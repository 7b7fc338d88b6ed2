// Package gcfloor keeps the garbage collector's heap goal at or above a
// floor, for a process whose live heap is tiny and whose allocation rate
// is high: an auth server's.
//
// With the default GOGC=100 the collector starts a cycle each time the
// heap doubles, and never lets the goal fall below 4 MiB. latch's live
// heap is under 1 MiB while it answers tens of thousands of requests a
// second, so it collected every 5 ms, about 200 cycles a second, each paying its
// fixed costs (stack scans of every connection's goroutine, the
// stop-the-world phases) for almost no garbage found per cycle: GC was the
// largest part of latch's overhead over a bare net/http handler. Raising
// GOGC while the live heap is below the floor spaces the cycles out; once
// the live heap passes the floor GOGC is back at its default, so memory
// stays bounded at about max(floor, 2 × live heap).
//
// This is process-wide runtime state: only a main package starts it
// (latch serve does), never a library an application embeds.
package gcfloor

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// minPercent is Go's default GOGC, below which the tuner never goes.
const minPercent = 100

// goMinimumHeap is the heap goal the runtime never goes below at GOGC=100;
// it scales with GOGC (the runtime's heapMinimum is 4 MiB × GOGC/100).
const goMinimumHeap = 4 << 20

const liveHeapMetric = "/gc/heap/live:bytes"

// Overridden reports whether the operator set GOGC or GOMEMLIMIT: their
// choice then stands and the tuner must not run.
func Overridden() bool {
	return os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != ""
}

// Percent is the GOGC that puts the heap goal at floor bytes for a live
// heap of live bytes, and never below Go's default. Two things set the
// goal: live × (1 + GOGC/100), and the runtime's minimum heap, 4 MiB ×
// GOGC/100. So GOGC = 100 × floor/4 MiB makes floor the minimum, which is
// the goal while the live heap is under floor/(1 + GOGC/100); past that,
// GOGC falls so that live × (1 + GOGC/100) stays at floor, and at a live
// heap of half the floor it is 100 again. A live heap of 0 (no cycle has
// ended yet) counts as small.
func Percent(live, floor uint64) int {
	p := int64(floor * 100 / goMinimumHeap)
	if live > 0 && int64(floor/live) < p/100+1 {
		p = (int64(floor/live) - 1) * 100
	}
	return int(max(p, minPercent))
}

// Run adjusts GOGC every interval to keep the heap goal at floor bytes
// until ctx ends, then restores the GOGC it found.
func Run(ctx context.Context, floor uint64, interval time.Duration) {
	sample := []metrics.Sample{{Name: liveHeapMetric}}
	prev := debug.SetGCPercent(minPercent)
	defer debug.SetGCPercent(prev)
	current := minPercent
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			// Moves under 10 % are not worth a call: the live heap
			// wanders a little between cycles.
			if p := Percent(sample[0].Value.Uint64(), floor); p*10 < current*9 || p*10 > current*11 {
				debug.SetGCPercent(p)
				current = p
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
