package password

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

func TestBackgroundRuns(t *testing.T) {
	b := NewBackground(2)
	defer b.Close()
	var n atomic.Int32
	done := make(chan struct{})
	for range 10 {
		go func() {
			b.Run(func() { n.Add(1) })
			done <- struct{}{}
		}()
	}
	for range 10 {
		<-done
	}
	if n.Load() != 10 {
		t.Fatalf("ran %d of 10", n.Load())
	}
}

func TestBackgroundPanicReachesCaller(t *testing.T) {
	b := NewBackground(1)
	defer b.Close()
	defer func() {
		if p := recover(); p != "boom" {
			t.Fatalf("recovered %v, want boom", p)
		}
		// The thread survived the panic.
		ok := false
		b.Run(func() { ok = true })
		if !ok {
			t.Fatal("thread dead after a panic")
		}
	}()
	b.Run(func() { panic("boom") })
}

// TestBackgroundLowPriority: on Linux the work runs on a thread with nice 19.
func TestBackgroundLowPriority(t *testing.T) {
	if _, err := os.Stat("/proc/thread-self/stat"); err != nil {
		t.Skip("no per-thread /proc on this system")
	}
	b := NewBackground(1)
	defer b.Close()
	var nice int
	b.Run(func() {
		stat, err := os.ReadFile("/proc/thread-self/stat")
		if err != nil {
			t.Error(err)
			return
		}
		// Field 19 is nice; fields after the ")" of the command name.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
		nice, _ = strconv.Atoi(fields[16])
	})
	if nice != 19 {
		t.Fatalf("nice %d on the hashing thread, want 19", nice)
	}
}
