package main

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/latch-auth/latch/auth"
)

// wantLikeMe fails unless the check answered as /api/me/ does for the
// same Authorization header: 401, SimpleJWT's body, Bearer challenge.
func wantLikeMe(t *testing.T, ts *testServer, got response, header ...string) {
	t.Helper()
	me := ts.do("GET", "/api/me/", "", "", header...)
	if got.status != http.StatusUnauthorized || got.body != me.body || me.status != http.StatusUnauthorized {
		t.Fatalf("check: got %d %s, want 401 %s (as /api/me/: %d)", got.status, got.body, me.body, me.status)
	}
	if got, want := got.header.Get("WWW-Authenticate"), `Bearer realm="api"`; got != want {
		t.Fatalf("WWW-Authenticate: got %q, want %q", got, want)
	}
}

// wantIdentity fails unless the check answered 200, empty, with the
// user's identity headers.
func wantIdentity(t *testing.T, r response, id int64, username, email string) {
	t.Helper()
	if r.status != http.StatusOK || r.body != "" {
		t.Fatalf("check: got %d %q, want 200 and no body", r.status, r.body)
	}
	for _, c := range []struct{ name, want string }{
		{"X-Latch-User-Id", strconv.FormatInt(id, 10)},
		{"X-Latch-Username", username},
		{"X-Latch-Role", "user"},
		{"X-Latch-Email", email},
		{"Cache-Control", "no-store"},
	} {
		if got := r.header.Get(c.name); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	if r.header.Get("X-Latch-Session-Id") == "" {
		t.Error("no X-Latch-Session-Id")
	}
	if _, ok := r.header["X-Latch-Email"]; email == "" && ok {
		t.Error("X-Latch-Email sent for a user without email")
	}
}

func TestForwardAuth(t *testing.T) {
	onEachBackend(t, nil, func(t *testing.T, ts *testServer) {
		alice := ts.mustUser("alice")
		u, err := ts.app.Auth().CreateUser(context.Background(), auth.NewUser{Username: "noemail", Password: testPassword})
		if err != nil {
			t.Fatal(err)
		}

		t.Run("no token", func(t *testing.T) {
			for _, path := range []string{"/api/auth/check/", "/api/auth/check"} {
				r := ts.do("GET", path, "", "")
				wantLikeMe(t, ts, r)
				if r.body != bodyNotProvided {
					t.Fatalf("got %s, want %s", r.body, bodyNotProvided)
				}
			}
			wantLikeMe(t, ts, ts.do("GET", "/api/auth/check/", "", "", bearer("garbage")...), bearer("garbage")...)
		})

		p := ts.mustLogin("alice")
		t.Run("valid, any method", func(t *testing.T) {
			for _, m := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"} {
				r := ts.do(m, "/api/auth/check", "application/json", `{"ignored":`, bearer(p.access)...)
				wantIdentity(t, r, alice, "alice", "alice@example.com")
			}
		})
		t.Run("no email", func(t *testing.T) {
			wantIdentity(t, ts.do("GET", "/api/auth/check/", "", "", bearer(ts.mustLogin("noemail").access)...), u.ID, "noemail", "")
		})
		t.Run("refresh", func(t *testing.T) {
			r := ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh})
			if r.status != http.StatusOK {
				t.Fatalf("refresh: %d %s", r.status, r.body)
			}
			wantIdentity(t, ts.do("GET", "/api/auth/check/", "", "", bearer(r.str(t, "access"))...), alice, "alice", "alice@example.com")
		})
		t.Run("logout", func(t *testing.T) {
			q := ts.mustLogin("alice")
			wantIdentity(t, ts.do("GET", "/api/auth/check/", "", "", bearer(q.access)...), alice, "alice", "alice@example.com")
			wantResponse(t, ts.postJSON("/api/logout/", map[string]any{"refresh": q.refresh}, bearer(q.access)...), 205, "")
			wantLikeMe(t, ts, ts.do("GET", "/api/auth/check/", "", "", bearer(q.access)...), bearer(q.access)...)
		})
	})
}

func TestForwardAuthOpaque(t *testing.T) {
	onEachBackend(t, map[string]string{"LATCH_TOKEN_FORMAT": "opaque"}, func(t *testing.T, ts *testServer) {
		id := ts.mustUser("alice")
		p := ts.mustLogin("alice")
		wantIdentity(t, ts.do("GET", "/api/auth/check/", "", "", bearer(p.access)...), id, "alice", "alice@example.com")
		wantResponse(t, ts.postJSON("/api/logout/", map[string]any{"refresh": p.refresh}, bearer(p.access)...), 205, "")
		wantLikeMe(t, ts, ts.do("GET", "/api/auth/check/", "", "", bearer(p.access)...), bearer(p.access)...)
	})
}

func TestForwardAuthSliding(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_SLIDING_TOKENS": "on"})
	id := ts.mustUser("alice")
	r := ts.postJSON("/api/token/sliding/", map[string]any{"username": "alice", "password": testPassword})
	if r.status != http.StatusOK {
		t.Fatalf("sliding login: %d %s", r.status, r.body)
	}
	wantIdentity(t, ts.do("GET", "/api/auth/check/", "", "", bearer(r.str(t, "token"))...), id, "alice", "alice@example.com")
}

// TestForwardAuthNeverThrottled: a proxy sends every user's requests from
// one address; the check must never answer 429.
func TestForwardAuthNeverThrottled(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_THROTTLE_ANON": "1/min", "LATCH_THROTTLE_USER": "1/min"})
	id := ts.mustUser("alice")
	p := ts.mustLogin("alice")
	for i := range 5 {
		wantIdentity(t, ts.do("GET", "/api/auth/check/", "", "", bearer(p.access)...), id, "alice", "alice@example.com")
		if r := ts.do("GET", "/api/auth/check/", "", ""); r.status != http.StatusUnauthorized {
			t.Fatalf("request %d without token: got %d, want 401", i, r.status)
		}
	}
}
