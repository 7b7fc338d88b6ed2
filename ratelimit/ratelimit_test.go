package ratelimit

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in     string
		want   Rate
		wantOK bool
		err    bool
	}{
		{"20/min", Rate{20, time.Minute}, true, false},
		{"1000/hour", Rate{1000, time.Hour}, true, false},
		{"5/s", Rate{5, time.Second}, true, false},
		{"3/second", Rate{3, time.Second}, true, false},
		{"10/day", Rate{10, 24 * time.Hour}, true, false},
		{"off", Rate{}, false, false},
		{"", Rate{}, false, false},
		{"x/min", Rate{}, false, true},
		{"0/min", Rate{}, false, true},
		{"5/fortnight", Rate{}, false, true},
		{"5", Rate{}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok, err := ParseRate(tt.in)
			if (err != nil) != tt.err || ok != tt.wantOK || got != tt.want {
				t.Fatalf("ParseRate(%q) = %v, %v, %v; want %v, %v, err %v", tt.in, got, ok, err, tt.want, tt.wantOK, tt.err)
			}
		})
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestMemorySlidingWindow(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	m := NewMemory(Rate{N: 3, Per: time.Minute}, c.now)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if d, _ := m.Allow(ctx, "ip"); !d.Allowed {
			t.Fatalf("request %d refused", i)
		}
		c.t = c.t.Add(10 * time.Second)
	}
	// 30s after the first request: refused until it leaves the window.
	d, _ := m.Allow(ctx, "ip")
	if d.Allowed || d.RetryAfter != 30*time.Second {
		t.Fatalf("got %+v, want refused with RetryAfter 30s", d)
	}
	if d, _ := m.Allow(ctx, "other"); !d.Allowed {
		t.Fatal("another key was throttled")
	}
	c.t = c.t.Add(30 * time.Second)
	if d, _ := m.Allow(ctx, "ip"); !d.Allowed {
		t.Fatalf("refused after the oldest left the window: %+v", d)
	}
	if d, _ := m.Allow(ctx, "ip"); d.Allowed || d.RetryAfter != 10*time.Second {
		t.Fatalf("got %+v, want refused with RetryAfter 10s", d)
	}
}

func TestMemoryConcurrentNeverOverAdmits(t *testing.T) {
	m := NewMemory(Rate{N: 50, Per: time.Hour}, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d, _ := m.Allow(context.Background(), "k"); d.Allowed {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowed != 50 {
		t.Fatalf("allowed %d of 200, want exactly 50", allowed)
	}
}
