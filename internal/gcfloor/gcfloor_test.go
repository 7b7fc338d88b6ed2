package gcfloor

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		name        string
		live, floor uint64
		want        int
	}{
		{"tiny heap: the runtime's minimum is the floor", 1 * mib, 64 * mib, 1600},
		{"nothing measured yet", 0, 64 * mib, 1600},
		{"almost nothing live", 1024, 64 * mib, 1600},
		{"live × 17 would pass the floor", 8 * mib, 64 * mib, 700},
		{"a third of the floor", 20 * mib, 64 * mib, 200},
		{"half the floor", 32 * mib, 64 * mib, 100},
		{"past the floor", 200 * mib, 64 * mib, 100},
		{"a floor under Go's own minimum", 1 * mib, 2 * mib, 100},
	} {
		if got := Percent(c.live, c.floor); got != c.want {
			t.Errorf("%s: Percent(%d, %d) = %d, want %d", c.name, c.live, c.floor, got, c.want)
		}
	}
}

// TestRunRaisesAndRestores: with a small live heap the running tuner sets
// a GOGC above the default, and puts back the one it found when it stops.
func TestRunRaisesAndRestores(t *testing.T) {
	before := debug.SetGCPercent(150)
	defer debug.SetGCPercent(before)
	runtime.GC() // a live-heap figure to start from
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Run(ctx, 1<<30, time.Millisecond); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		// SetGCPercent returns the setting it replaces; put it back at once.
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		if p > minPercent && p != 150 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GOGC is %d after 5 s, want it raised above %d", p, minPercent)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if p := debug.SetGCPercent(150); p != 150 {
		t.Errorf("GOGC after Run = %d, want the 150 it found", p)
	}
}
