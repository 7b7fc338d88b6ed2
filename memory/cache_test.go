package memory_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/clocktest"
	"github.com/latch-auth/latch/memory"
)

// clock is an injected clock that tests move by hand.
func newClock() *clocktest.Clock { return clocktest.New(time.Unix(1_700_000_000, 0)) }

// op is one step of a table-driven scenario.
type op struct {
	do      string // "set", "get", "delete", "drop", "advance"
	sid     string
	key     string
	value   string
	ttl     time.Duration // set; advance: by how much
	want    string        // get
	wantHit bool          // get
}

func TestCache(t *testing.T) {
	tests := []struct {
		name string
		max  int
		ops  []op
	}{
		{
			name: "absent",
			ops:  []op{{do: "get", sid: "s", key: "k"}},
		},
		{
			name: "set get overwrite",
			ops: []op{
				{do: "set", sid: "s", key: "k", value: "v1"},
				{do: "get", sid: "s", key: "k", want: "v1", wantHit: true},
				{do: "set", sid: "s", key: "k", value: "v2"},
				{do: "get", sid: "s", key: "k", want: "v2", wantHit: true},
				{do: "get", sid: "other", key: "k"},
			},
		},
		{
			name: "empty value is a hit",
			ops: []op{
				{do: "set", sid: "s", key: "k", value: ""},
				{do: "get", sid: "s", key: "k", want: "", wantHit: true},
			},
		},
		{
			name: "delete",
			ops: []op{
				{do: "set", sid: "s", key: "a", value: "1"},
				{do: "set", sid: "s", key: "b", value: "2"},
				{do: "delete", sid: "s", key: "a"},
				{do: "delete", sid: "s", key: "never"},
				{do: "get", sid: "s", key: "a"},
				{do: "get", sid: "s", key: "b", want: "2", wantHit: true},
			},
		},
		{
			name: "ttl expires exactly at the deadline",
			ops: []op{
				{do: "set", sid: "s", key: "k", value: "v", ttl: time.Minute},
				{do: "advance", ttl: time.Minute - time.Nanosecond},
				{do: "get", sid: "s", key: "k", want: "v", wantHit: true},
				{do: "advance", ttl: time.Nanosecond},
				{do: "get", sid: "s", key: "k"},
			},
		},
		{
			name: "ttl 0 never expires",
			ops: []op{
				{do: "set", sid: "s", key: "k", value: "v"},
				{do: "advance", ttl: 365 * 24 * time.Hour},
				{do: "get", sid: "s", key: "k", want: "v", wantHit: true},
			},
		},
		{
			name: "overwrite resets the ttl",
			ops: []op{
				{do: "set", sid: "s", key: "k", value: "v1", ttl: time.Second},
				{do: "set", sid: "s", key: "k", value: "v2"},
				{do: "advance", ttl: time.Hour},
				{do: "get", sid: "s", key: "k", want: "v2", wantHit: true},
			},
		},
		{
			name: "drop session",
			ops: []op{
				{do: "set", sid: "s", key: "a", value: "1"},
				{do: "set", sid: "s", key: "b", value: "2", ttl: time.Hour},
				{do: "set", sid: "t", key: "a", value: "3"},
				{do: "drop", sid: "s"},
				{do: "drop", sid: "never"},
				{do: "get", sid: "s", key: "a"},
				{do: "get", sid: "s", key: "b"},
				{do: "get", sid: "t", key: "a", want: "3", wantHit: true},
				{do: "set", sid: "s", key: "a", value: "4"},
				{do: "get", sid: "s", key: "a", want: "4", wantHit: true},
			},
		},
		{
			name: "full: least recently used goes first",
			max:  2,
			ops: []op{
				{do: "set", sid: "s", key: "a", value: "1"},
				{do: "set", sid: "s", key: "b", value: "2"},
				{do: "get", sid: "s", key: "a", want: "1", wantHit: true}, // b is now the oldest
				{do: "set", sid: "t", key: "c", value: "3"},
				{do: "get", sid: "s", key: "b"},
				{do: "get", sid: "s", key: "a", want: "1", wantHit: true},
				{do: "get", sid: "t", key: "c", want: "3", wantHit: true},
			},
		},
		{
			name: "full: expired values go before live ones",
			max:  3,
			ops: []op{
				{do: "set", sid: "s", key: "live", value: "1"},
				{do: "set", sid: "s", key: "short1", value: "2", ttl: time.Second},
				{do: "set", sid: "s", key: "short2", value: "3", ttl: time.Second},
				{do: "get", sid: "s", key: "live", want: "1", wantHit: true},
				{do: "advance", ttl: 2 * time.Second},
				{do: "set", sid: "s", key: "new1", value: "4"},
				{do: "set", sid: "s", key: "new2", value: "5"},
				{do: "get", sid: "s", key: "live", want: "1", wantHit: true},
				{do: "get", sid: "s", key: "new1", want: "4", wantHit: true},
				{do: "get", sid: "s", key: "new2", want: "5", wantHit: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			c := memory.NewCache(memory.CacheOptions{MaxEntries: tt.max, Now: clk.Now})
			ctx := context.Background()
			for i, o := range tt.ops {
				var err error
				switch o.do {
				case "set":
					err = c.Set(ctx, o.sid, o.key, []byte(o.value), o.ttl)
				case "get":
					got, ok, gerr := c.Get(ctx, o.sid, o.key)
					err = gerr
					if ok != o.wantHit || string(got) != o.want || (!ok && got != nil) {
						t.Fatalf("op %d: Get(%s, %s) = %q, %v; want %q, %v", i, o.sid, o.key, got, ok, o.want, o.wantHit)
					}
				case "delete":
					err = c.Delete(ctx, o.sid, o.key)
				case "drop":
					err = c.DropSession(ctx, o.sid)
				case "advance":
					clk.Advance(o.ttl)
				default:
					t.Fatalf("op %d: unknown %q", i, o.do)
				}
				if err != nil {
					t.Fatalf("op %d (%s): %v", i, o.do, err)
				}
			}
			if tt.max > 0 && c.Len() > tt.max {
				t.Errorf("Len() = %d, want at most %d", c.Len(), tt.max)
			}
		})
	}
}

func TestCacheBounded(t *testing.T) {
	const maxEntries = 100
	clk := newClock()
	c := memory.NewCache(memory.CacheOptions{MaxEntries: maxEntries, Now: clk.Now})
	ctx := context.Background()
	for i := range 10 * maxEntries {
		if err := c.Set(ctx, fmt.Sprint("s", i%37), fmt.Sprint("k", i), []byte("v"), time.Duration(i%3)*time.Second); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			clk.Advance(time.Second)
		}
		if n := c.Len(); n > maxEntries {
			t.Fatalf("after %d sets: Len() = %d, want at most %d", i+1, n, maxEntries)
		}
	}
	// Dropping every session empties it.
	for s := range 37 {
		if err := c.DropSession(ctx, fmt.Sprint("s", s)); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.Len(); n != 0 {
		t.Fatalf("Len() = %d after dropping every session, want 0", n)
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := memory.NewCache(memory.CacheOptions{MaxEntries: 64})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			sid := fmt.Sprint("s", g%3)
			for i := range 500 {
				key := fmt.Sprint("k", i%20)
				_ = c.Set(ctx, sid, key, []byte(key), time.Duration(i%2)*time.Millisecond)
				if v, ok, _ := c.Get(ctx, sid, key); ok && string(v) != key {
					t.Errorf("Get(%s, %s) = %q", sid, key, v)
					return
				}
				if i%97 == 0 {
					_ = c.DropSession(ctx, sid)
				}
				if i%13 == 0 {
					_ = c.Delete(ctx, sid, key)
				}
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n > 64 {
		t.Fatalf("Len() = %d, want at most 64", n)
	}
}
