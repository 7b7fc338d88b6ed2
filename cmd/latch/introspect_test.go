package main

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"
)

// introspectionClients is the LATCH_INTROSPECTION_CLIENTS of the tests;
// introspectionAuth authenticates as its first client.
const introspectionClients = "api:s3cret,other:another secret"

var introspectionAuth = basicAuth("api", "s3cret")

func basicAuth(id, secret string) []string {
	return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))}
}

// introspect posts raw as a form and returns the decoded answer.
func (ts *testServer) introspect(t *testing.T, raw string) map[string]any {
	t.Helper()
	r := ts.postForm("/api/token/introspect/", url.Values{"token": {raw}}, introspectionAuth...)
	if r.status != http.StatusOK {
		t.Fatalf("introspect: got %d %s, want 200", r.status, r.body)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", got)
	}
	return r.json(t)
}

func wantInactive(t *testing.T, ts *testServer, raw string) {
	t.Helper()
	if got := ts.introspect(t, raw); len(got) != 1 || got["active"] != false {
		t.Fatalf("got %v, want {\"active\":false}", got)
	}
}

func wantActive(t *testing.T, ts *testServer, raw, typ string, userID int64, username string) {
	t.Helper()
	got := ts.introspect(t, raw)
	id := strconv.FormatInt(userID, 10)
	for k, want := range map[string]any{"active": true, "token_type": typ, "sub": id, "user_id": float64(userID), "username": username} {
		if got[k] != want {
			t.Errorf("%s: got %v, want %v (%v)", k, got[k], want, got)
		}
	}
	for _, k := range []string{"jti", "sid"} {
		if s, _ := got[k].(string); s == "" {
			t.Errorf("no %s: %v", k, got)
		}
	}
	exp, _ := got["exp"].(float64)
	iat, _ := got["iat"].(float64)
	if iat <= 0 || exp <= iat {
		t.Errorf("iat %v, exp %v", got["iat"], got["exp"])
	}
}

func TestIntrospect(t *testing.T) {
	onEachBackend(t, map[string]string{"LATCH_INTROSPECTION_CLIENTS": introspectionClients}, func(t *testing.T, ts *testServer) {
		alice := ts.mustUser("alice")
		p := ts.mustLogin("alice")
		wantActive(t, ts, p.access, "access", alice, "alice")
		wantActive(t, ts, p.refresh, "refresh", alice, "alice")

		// JSON with a hint, as well as the form.
		r := ts.postJSON("/api/token/introspect", map[string]any{"token": p.access, "token_type_hint": "access_token"}, introspectionAuth...)
		if r.status != http.StatusOK || r.json(t)["active"] != true {
			t.Fatalf("JSON: got %d %s", r.status, r.body)
		}

		// Spent: the refresh rotated it.
		r = ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh})
		if r.status != http.StatusOK {
			t.Fatalf("refresh: %d %s", r.status, r.body)
		}
		next := pair{r.str(t, "access"), r.str(t, "refresh")}
		wantInactive(t, ts, p.refresh)
		wantActive(t, ts, next.access, "access", alice, "alice")
		wantActive(t, ts, next.refresh, "refresh", alice, "alice")

		// Revoked session.
		wantResponse(t, ts.postJSON("/api/logout/", map[string]any{"refresh": next.refresh}, bearer(next.access)...), 205, "")
		wantInactive(t, ts, next.access)
		wantInactive(t, ts, next.refresh)

		// Garbage and another deployment's token.
		wantInactive(t, ts, "garbage")
		now := ts.clock.Now().Unix()
		claims := map[string]any{"token_type": "access", "exp": now + 60, "iat": now, "jti": newJTI(), "user_id": alice}
		wantInactive(t, ts, mintHS256("another deployment's secret, 32 bytes long", map[string]any{"alg": "HS256", "typ": "JWT"}, claims))

		// Expired.
		q := ts.mustLogin("alice")
		ts.clock.Advance(16 * time.Minute)
		wantInactive(t, ts, q.access)
		wantActive(t, ts, q.refresh, "refresh", alice, "alice")
		ts.clock.Advance(15 * 24 * time.Hour)
		wantInactive(t, ts, q.refresh)
	})
}

func TestIntrospectInactiveUser(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_INTROSPECTION_CLIENTS": introspectionClients})
	id := ts.mustUser("alice")
	p := ts.mustLogin("alice")
	wantActive(t, ts, p.access, "access", id, "alice")
	if err := ts.app.Auth().Deactivate(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	wantInactive(t, ts, p.access)
	wantInactive(t, ts, p.refresh)
}

func TestIntrospectOpaque(t *testing.T) {
	onEachBackend(t, map[string]string{"LATCH_INTROSPECTION_CLIENTS": introspectionClients, "LATCH_TOKEN_FORMAT": "opaque"}, func(t *testing.T, ts *testServer) {
		id := ts.mustUser("alice")
		p := ts.mustLogin("alice")
		wantActive(t, ts, p.access, "access", id, "alice")
		wantActive(t, ts, p.refresh, "refresh", id, "alice")
		wantResponse(t, ts.postJSON("/api/logout/", map[string]any{"refresh": p.refresh}, bearer(p.access)...), 205, "")
		wantInactive(t, ts, p.access)
		wantInactive(t, ts, p.refresh)
	})
}

func TestIntrospectClientAuth(t *testing.T) {
	const body = `{"detail":"Invalid client credentials."}`
	for _, c := range []struct {
		name, clients string
		header        []string
	}{
		{"missing", introspectionClients, nil},
		{"wrong secret", introspectionClients, basicAuth("api", "s3cre")},
		{"another client's secret", introspectionClients, basicAuth("api", "another secret")},
		{"unknown client", introspectionClients, basicAuth("nobody", "s3cret")},
		{"bearer", introspectionClients, bearer("s3cret")},
		{"not base64", introspectionClients, []string{"Authorization", "Basic !!!"}},
		{"none configured", "", introspectionAuth},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts := newTestServer(t, map[string]string{"LATCH_INTROSPECTION_CLIENTS": c.clients})
			r := ts.postForm("/api/token/introspect/", url.Values{"token": {"x"}}, c.header...)
			wantResponse(t, r, http.StatusUnauthorized, body)
			if got, want := r.header.Values("WWW-Authenticate"), []string{`Bearer realm="api"`, `Basic realm="introspection"`}; !slices.Equal(got, want) {
				t.Fatalf("WWW-Authenticate: got %q, want %q", got, want)
			}
		})
	}
	ts := newTestServer(t, map[string]string{"LATCH_INTROSPECTION_CLIENTS": introspectionClients})
	r := ts.postForm("/api/token/introspect/", url.Values{"token": {"x"}}, basicAuth("other", "another secret")...)
	wantResponse(t, r, http.StatusOK, `{"active":false}`)
}

// TestIntrospectThrottle: failed client authentications are throttled per
// IP; authenticated callers never are.
func TestIntrospectThrottle(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_INTROSPECTION_CLIENTS": introspectionClients, "LATCH_THROTTLE_ANON": "1/min"})
	for range 3 {
		wantResponse(t, ts.postForm("/api/token/introspect/", url.Values{"token": {"x"}}, introspectionAuth...), 200, `{"active":false}`)
	}
	wantResponse(t, ts.postForm("/api/token/introspect/", url.Values{"token": {"x"}}, basicAuth("api", "guess")...), 401, "")
	if r := ts.postForm("/api/token/introspect/", url.Values{"token": {"x"}}, basicAuth("api", "guess")...); r.status != http.StatusTooManyRequests {
		t.Fatalf("second failure: got %d %s, want 429", r.status, r.body)
	}
	wantResponse(t, ts.postForm("/api/token/introspect/", url.Values{"token": {"x"}}, introspectionAuth...), 200, `{"active":false}`)
}
