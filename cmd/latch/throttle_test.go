package main

import (
	"strconv"
	"testing"

	"github.com/latch-auth/latch/internal/redistest"
)

// TestThrottleAcrossInstances: two instances sharing Redis together admit
// no more anonymous requests than the rate, and no more requests per user
// than the rate plus the batched limiter's documented bound.
func TestThrottleAcrossInstances(t *testing.T) {
	pg, _ := needServices(t)
	redis := redistest.Start(t)
	env := map[string]string{
		"LATCH_DATABASE_URL":  freshSchemaURL(t, pg),
		"LATCH_REDIS_URL":     redis.URL(),
		"LATCH_SIGNING_KEY":   randomSecret(),
		"LATCH_THROTTLE_ANON": "10/min",
		"LATCH_THROTTLE_USER": "20/hour",
	}
	a, b := newTestServer(t, env), newTestServer(t, env)
	a.mustUser("alice")
	instances := []*testServer{a, b}

	admitted, refused := 0, 0
	for i := 0; i < 16; i++ {
		r := instances[i%2].postJSON("/api/token/verify/", map[string]any{"token": "x"})
		switch r.status {
		case 429:
			refused++
			secs, err := strconv.Atoi(r.header.Get("Retry-After"))
			if err != nil || secs < 1 || secs > 60 {
				t.Fatalf("Retry-After %q, want 1..60 seconds", r.header.Get("Retry-After"))
			}
		case 401:
			admitted++
		default:
			t.Fatalf("unexpected %d %s", r.status, r.body)
		}
	}
	if admitted != 10 || refused != 6 {
		t.Fatalf("anonymous: %d admitted, %d refused across two instances; want exactly 10 and 6", admitted, refused)
	}

	// Logins are anonymous requests too: log in through the Go API.
	p := pairFor(t, a, "alice")
	admitted = 0
	for i := 0; i < 40; i++ {
		r := instances[i%2].do("GET", "/api/me/", "", "", bearer(p.access)...)
		switch r.status {
		case 200:
			admitted++
		case 429:
		default:
			t.Fatalf("unexpected %d %s", r.status, r.body)
		}
	}
	// ratelimit.Batched: at most N + 2·Batch·(instances−1) = 20 + 2·1·1.
	if admitted < 20 || admitted > 22 {
		t.Fatalf("per user: %d admitted across two instances, want 20..22", admitted)
	}
	t.Logf("per-user throttle 20/hour on two instances admitted %d", admitted)
}

// pairFor logs in through the service, bypassing the HTTP throttle.
func pairFor(t *testing.T, ts *testServer, username string) pair {
	t.Helper()
	p, err := ts.app.Auth().Login(t.Context(), username, testPassword, authClient())
	if err != nil {
		t.Fatal(err)
	}
	return pair{p.Access, p.Refresh}
}
