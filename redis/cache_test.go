package redis_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/latch-auth/latch/redis"
)

func TestCacheTTL(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		client := mustOpen(t, tg)
		maxTTL := time.Hour
		c := redis.NewCache(client, redis.CacheOptions{MaxTTL: maxTTL})
		ctx := context.Background()
		sid := "sid-" + unique()
		pttl := func(key string) time.Duration {
			t.Helper()
			d, err := client.PTTL(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			return d
		}

		if err := c.Set(ctx, sid, "short", []byte("v"), 200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if d := pttl(redis.CacheIndexKey(sid) + ":short"); d <= 0 || d > 200*time.Millisecond {
			t.Errorf("value PTTL %s, want in (0, 200ms]", d)
		}
		if d := pttl(redis.CacheIndexKey(sid)); d <= 0 || d > 200*time.Millisecond {
			t.Errorf("index PTTL %s, want in (0, 200ms] (the longest value's)", d)
		}
		// ttl 0 lives until dropped, but at most MaxTTL; the index follows.
		if err := c.Set(ctx, sid, "forever", []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		if d := pttl(redis.CacheIndexKey(sid) + ":forever"); d < maxTTL-time.Minute || d > maxTTL {
			t.Errorf("ttl 0: value PTTL %s, want about %s", d, maxTTL)
		}
		if d := pttl(redis.CacheIndexKey(sid)); d < maxTTL-time.Minute || d > maxTTL {
			t.Errorf("index PTTL %s, want about %s", d, maxTTL)
		}
		// A shorter value never shortens the index's life.
		if err := c.Set(ctx, sid, "short2", []byte("v"), time.Second); err != nil {
			t.Fatal(err)
		}
		if d := pttl(redis.CacheIndexKey(sid)); d < maxTTL-time.Minute {
			t.Errorf("index PTTL %s after a shorter value, want about %s", d, maxTTL)
		}

		deadline := time.Now().Add(3 * time.Second)
		for {
			_, ok, err := c.Get(ctx, sid, "short")
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("value with a 200ms ttl still there after 3s")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if _, ok, _ := c.Get(ctx, sid, "forever"); !ok {
			t.Error("the ttl-0 value went with the short one")
		}
	})
}

func TestCacheDropSession(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		client := mustOpen(t, tg)
		c := redis.NewCache(client, redis.CacheOptions{})
		ctx := context.Background()
		sid, other := "sid-"+unique(), "sid-"+unique()
		const n = 1234 // more than one batch of the drop script
		for i := range n {
			if err := c.Set(ctx, sid, fmt.Sprint("k", i), []byte("v"), time.Duration(i%3)*time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Set(ctx, other, "k0", []byte("kept"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if got := len(scanKeys(t, client, "latch:cache:{"+sid+"}*")); got != n+1 {
			t.Fatalf("%d keys before DropSession, want %d values + the index", got, n+1)
		}
		if err := c.DropSession(ctx, sid); err != nil {
			t.Fatal(err)
		}
		if left := scanKeys(t, client, "latch:cache:{"+sid+"}*"); len(left) != 0 {
			t.Fatalf("DropSession left %d keys, e.g. %q", len(left), left[0])
		}
		if _, ok, _ := c.Get(ctx, sid, "k1"); ok {
			t.Error("a dropped value is still there")
		}
		if v, ok, err := c.Get(ctx, other, "k0"); err != nil || !ok || string(v) != "kept" {
			t.Errorf("the other session's value: %q, %v, %v; want kept", v, ok, err)
		}
		if err := c.DropSession(ctx, "sid-"+unique()); err != nil {
			t.Errorf("DropSession of an empty session: %v", err)
		}
		// Values set after the drop are tracked again.
		if err := c.Set(ctx, sid, "again", []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		if err := c.DropSession(ctx, sid); err != nil {
			t.Fatal(err)
		}
		if left := scanKeys(t, client, "latch:cache:{"+sid+"}*"); len(left) != 0 {
			t.Fatalf("second DropSession left %q", left)
		}
	})
}
