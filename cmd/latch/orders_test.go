package main

import (
	"context"
	"testing"

	"github.com/latch-auth/latch/redis"
)

// TestOrdersCache walks seed 000: the first GET is served from the
// database, the next from the per-session cache; a refresh drops the entry
// and logout leaves nothing behind, in Redis too.
func TestOrdersCache(t *testing.T) {
	onEachBackend(t, nil, func(t *testing.T, ts *testServer) {
		ts.mustUser("alice")
		p := ts.mustLogin("alice")
		want := `{"cached":false,"data":[{"id":1,"product":"laptop","user":"alice"},{"id":2,"product":"mouse","user":"alice"}]}`
		wantResponse(t, ts.do("GET", "/api/orders/", "", "", bearer(p.access)...), 200, want)
		wantResponse(t, ts.do("GET", "/api/orders/", "", "", bearer(p.access)...), 200,
			`{"cached":true,"data":[{"id":1,"product":"laptop","user":"alice"},{"id":2,"product":"mouse","user":"alice"}]}`)

		r := ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh})
		wantResponse(t, r, 200, "")
		next := pair{r.str(t, "access"), r.str(t, "refresh")}
		wantResponse(t, ts.do("GET", "/api/orders/", "", "", bearer(next.access)...), 200, want)
		wantResponse(t, ts.do("GET", "/api/orders", "", "", bearer(next.access)...), 200, "")

		c, err := ts.app.Tokens().Parse(next.access, "access")
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		principal, err := ts.app.Auth().Authenticate(ctx, next.access)
		if err != nil {
			t.Fatal(err)
		}
		cache := ts.app.Auth().CacheFor(principal)
		if _, ok, _ := cache.Get(ctx, "orders"); !ok {
			t.Fatal("orders not cached before logout")
		}
		// The values of the generation before the refresh are out of the
		// new tokens' reach, and gone (seed 000: a refresh deletes the old
		// token's entries): the old access token, valid until it expires,
		// finds nothing cached.
		old, err := ts.app.Auth().Authenticate(ctx, p.access)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := ts.app.Auth().CacheFor(old).Get(ctx, "orders"); ok {
			t.Fatal("orders of the first generation still cached after the refresh")
		}
		wantResponse(t, ts.do("GET", "/api/orders/", "", "", bearer(p.access)...), 200, want)
		// Logout drops all of them.
		wantResponse(t, ts.postJSON("/api/logout/", map[string]any{"refresh": next.refresh}, bearer(next.access)...), 205, "")
		if _, ok, err := cache.Get(ctx, "orders"); ok || err != nil {
			t.Fatalf("cache entry survived logout (ok %v, err %v)", ok, err)
		}
		if ts.app.Redis() != nil {
			keys, err := ts.app.Redis().Keys(ctx, redis.CacheIndexKey(c.SessionID)+"*").Result()
			if err != nil || len(keys) != 0 {
				t.Fatalf("Redis keys left for the session after logout: %v (%v)", keys, err)
			}
		}
		wantResponse(t, ts.do("GET", "/api/orders/", "", "", bearer(next.access)...), 401, "")
	})
}
