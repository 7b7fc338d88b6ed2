package main

import (
	"strings"
	"testing"
	"time"
)

// TestOpaqueTokens walks seed 002: the client holds random handles, the
// server resolves them through the store, and logout deletes them.
func TestOpaqueTokens(t *testing.T) {
	onEachBackend(t, map[string]string{"LATCH_TOKEN_FORMAT": "opaque"}, func(t *testing.T, ts *testServer) {
		ts.mustUser("alice")
		p := ts.mustLogin("alice")
		for _, h := range []string{p.access, p.refresh} {
			if !strings.HasPrefix(h, "lat_") || strings.Contains(h, ".") {
				t.Fatalf("not an opaque handle: %q", h)
			}
		}
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(p.access)...), 200, "")
		wantResponse(t, ts.postJSON("/api/token/verify/", map[string]any{"token": p.access}), 200, `{}`)
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(p.refresh)...), 401, bodyAccessInvalid("Token has wrong type"))
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer("lat_"+strings.Repeat("A", 52))...), 401, bodyAccessInvalid("Token is invalid or expired"))

		r := ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh})
		wantResponse(t, r, 200, "")
		next := pair{r.str(t, "access"), r.str(t, "refresh")}
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(next.access)...), 200, "")
		// Two tabs refreshing the same token in the grace interval get the
		// same new pair (SPEC §5.2), handles as JWTs.
		again := ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh})
		wantResponse(t, again, 200, r.body)

		// A JWT minted with the key is still accepted: both forms work.
		now := ts.clock.Now().Unix()
		jwt := ts.mint(map[string]any{"alg": "HS256", "typ": "JWT"}, map[string]any{"token_type": "access", "exp": now + 60, "iat": now, "jti": newJTI(), "user_id": 1})
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(jwt)...), 200, "")

		// Logout deletes the handles: they resolve to nothing anymore.
		wantResponse(t, ts.postJSON("/api/logout/", map[string]any{"refresh": next.refresh}, bearer(next.access)...), 205, "")
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(next.access)...), 401, "")
		wantResponse(t, ts.postJSON("/api/token/verify/", map[string]any{"token": next.access}), 401, bodyInvalidToken)
		wantResponse(t, ts.postJSON("/api/token/refresh/", map[string]any{"refresh": next.refresh}), 401, bodyInvalidToken)

		// Handles expire with the token they stand for.
		q := ts.mustLogin("alice")
		ts.clock.Advance(16 * time.Minute)
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(q.access)...), 401, bodyAccessInvalid("Token is invalid or expired"))
	})
}

// A slid sliding token keeps its jti: its handle must still be new, with
// the new expiry (a handle derived from the jti alone came back unchanged
// and died at the first expiry).
func TestOpaqueSlidingTokensSlide(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_TOKEN_FORMAT": "opaque", "LATCH_SLIDING_TOKENS": "on"})
	ts.mustUser("alice")
	r := ts.postJSON("/api/token/sliding/", map[string]any{"username": "alice", "password": testPassword})
	wantResponse(t, r, 200, "")
	first := r.str(t, "token")
	ts.clock.Advance(4 * time.Minute)
	r = ts.postJSON("/api/token/sliding/refresh/", map[string]any{"token": first})
	wantResponse(t, r, 200, "")
	slid := r.str(t, "token")
	if slid == first {
		t.Fatal("the slid token's handle is the old one")
	}
	ts.clock.Advance(2 * time.Minute) // past the first token's 5 minutes
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(slid)...), 200, "")
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(first)...), 401, "")
}
