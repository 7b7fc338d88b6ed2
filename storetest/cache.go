package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/latch-auth/latch"
)

// TestSessionCache is the conformance suite of latch.SessionCache: every
// backend (memory, Redis) runs it. newCache returns a cache that may be
// shared with other tests: the suite uses session ids of its own.
func TestSessionCache(t *testing.T, newCache func(t *testing.T) latch.SessionCache) {
	t.Helper()
	sid := func() string { return "suite-" + rand.Text() }
	ctx := context.Background()
	get := func(t *testing.T, c latch.SessionCache, sid, key string, want []byte) {
		t.Helper()
		got, ok, err := c.Get(ctx, sid, key)
		checkErr(t, "Get", err, nil)
		switch {
		case want == nil && (ok || got != nil):
			t.Fatalf("Get(%q) = %q, %v; want a miss", key, got, ok)
		case want != nil && (!ok || !bytes.Equal(got, want)):
			t.Fatalf("Get(%q) = %q, %v; want %q, a hit", key, got, ok, want)
		}
	}
	set := func(t *testing.T, c latch.SessionCache, sid, key string, v []byte) {
		t.Helper()
		checkErr(t, "Set", c.Set(ctx, sid, key, v, time.Minute), nil)
	}

	t.Run("GetSetDelete", func(t *testing.T) {
		c, s := newCache(t), sid()
		get(t, c, s, "orders", nil)
		for _, st := range []struct {
			name, key string
			value     []byte
		}{
			{"plain", "orders", []byte(`{"data":[1,2]}`)},
			{"overwrite", "orders", []byte(`{"data":[3]}`)},
			{"empty value is a hit", "empty", []byte{}},
			{"binary", "bin", []byte{0, 0xff, '\n'}},
			{"separators in the key", "a:{b}:c", []byte("x")},
		} {
			t.Run(st.name, func(t *testing.T) {
				set(t, c, s, st.key, st.value)
				get(t, c, s, st.key, st.value)
			})
		}
		checkErr(t, "Delete", c.Delete(ctx, s, "orders"), nil)
		get(t, c, s, "orders", nil)
		get(t, c, s, "a:{b}:c", []byte("x"))
		checkErr(t, "Delete of an absent key", c.Delete(ctx, s, "never-set"), nil)
		if err := c.Set(ctx, s, "k", []byte("v"), -time.Second); err == nil {
			t.Error("Set with a negative ttl succeeded")
		}
	})

	t.Run("SessionsAreApart", func(t *testing.T) {
		c, a, b := newCache(t), sid(), sid()
		set(t, c, a, "k", []byte("a"))
		set(t, c, b, "k", []byte("b"))
		get(t, c, a, "k", []byte("a"))
		get(t, c, b, "k", []byte("b"))
		checkErr(t, "Delete", c.Delete(ctx, a, "k"), nil)
		get(t, c, b, "k", []byte("b"))
	})

	t.Run("DropSession", func(t *testing.T) {
		c, s, other := newCache(t), sid(), sid()
		for i := range 50 {
			checkErr(t, "Set", c.Set(ctx, s, fmt.Sprint("k", i), []byte("v"), time.Duration(i%3)*time.Minute), nil)
		}
		set(t, c, other, "k0", []byte("kept"))
		checkErr(t, "DropSession", c.DropSession(ctx, s), nil)
		for i := range 50 {
			get(t, c, s, fmt.Sprint("k", i), nil)
		}
		get(t, c, other, "k0", []byte("kept"))
		checkErr(t, "DropSession of an empty session", c.DropSession(ctx, sid()), nil)
		// Values set after the drop go with the next one.
		set(t, c, s, "again", []byte("v"))
		get(t, c, s, "again", []byte("v"))
		checkErr(t, "DropSession", c.DropSession(ctx, s), nil)
		get(t, c, s, "again", nil)
	})

	t.Run("CopiesValues", func(t *testing.T) {
		c, s := newCache(t), sid()
		in := []byte("abc")
		set(t, c, s, "k", in)
		in[0] = 'X'
		out, _, _ := c.Get(ctx, s, "k")
		if len(out) > 1 {
			out[1] = 'Y'
		}
		get(t, c, s, "k", []byte("abc"))
	})
}
