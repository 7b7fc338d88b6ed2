package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// refreshSetCookie returns the refresh cookie a response sets.
func refreshSetCookie(t *testing.T, r response) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "refresh" {
			return c
		}
	}
	t.Fatalf("no refresh cookie set; headers %v", r.header)
	return nil
}

func cookieHeader(c *http.Cookie) []string { return []string{"Cookie", "refresh=" + c.Value} }

func TestCookieEndpoints(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_COOKIE_SECURE": "true"})
	ts.mustUser("alice")

	r := ts.postJSON("/api/cookie/login/", map[string]any{"username": "alice", "password": testPassword})
	wantResponse(t, r, 200, "")
	if _, ok := r.json(t)["refresh"]; ok {
		t.Fatalf("refresh token in the body in cookie mode: %s", r.body)
	}
	access := r.str(t, "access")
	c := refreshSetCookie(t, r)
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/api/cookie/" {
		t.Fatalf("cookie attributes: %+v", c)
	}
	if c.MaxAge < int((13 * 24 * time.Hour).Seconds()) {
		t.Fatalf("cookie MaxAge %d, want about the refresh lifetime", c.MaxAge)
	}
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(access)...), 200, "")

	// Refresh reads the cookie and rotates it.
	r = ts.do("POST", "/api/cookie/refresh/", "", "", cookieHeader(c)...)
	wantResponse(t, r, 200, "")
	next := refreshSetCookie(t, r)
	if next.Value == c.Value {
		t.Fatal("refresh cookie not rotated")
	}
	newAccess := r.str(t, "access")

	// A cross-site request carrying the cookie is refused.
	wantResponse(t, ts.do("POST", "/api/cookie/refresh/", "", "", append(cookieHeader(next), "Sec-Fetch-Site", "cross-site")...),
		403, `{"detail":"CSRF Failed: cross-origin request refused."}`)
	wantResponse(t, ts.do("POST", "/api/cookie/refresh/", "", "", append(cookieHeader(next), "Origin", "https://evil.example")...),
		403, "")
	// Same-origin browser requests pass.
	wantResponse(t, ts.do("POST", "/api/cookie/refresh/", "", "", append(cookieHeader(next), "Sec-Fetch-Site", "same-origin")...), 200, "")
	wantResponse(t, ts.do("POST", "/api/cookie/refresh/", "", ""), 401, `{"detail":"Refresh token cookie not found.","code":"token_not_valid"}`)
	// The refresh token travels only in the cookie: one in the body is not read.
	wantResponse(t, ts.postJSON("/api/cookie/refresh/", map[string]any{"refresh": next.Value}),
		401, `{"detail":"Refresh token cookie not found.","code":"token_not_valid"}`)
	wantResponse(t, ts.postJSON("/api/cookie/logout/", map[string]any{"refresh": next.Value}), 400, `{"detail":"refresh required"}`)

	// Logout clears the cookie and revokes the session at once.
	r = ts.do("POST", "/api/cookie/logout/", "", "", cookieHeader(next)...)
	wantResponse(t, r, 205, "")
	if cleared := refreshSetCookie(t, r); cleared.MaxAge >= 0 || cleared.Value != "" {
		t.Fatalf("logout did not clear the cookie: %+v", cleared)
	}
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(newAccess)...), 401, "")
	wantResponse(t, ts.do("POST", "/api/cookie/refresh/", "", "", cookieHeader(next)...), 401, "")
}

func TestCookieExpiredRefresh(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.mustUser("alice")
	r := ts.postJSON("/api/cookie/login/", map[string]any{"username": "alice", "password": testPassword})
	c := refreshSetCookie(t, r)
	ts.clock.Advance(15 * 24 * time.Hour)
	r = ts.do("POST", "/api/cookie/refresh/", "", "", cookieHeader(c)...)
	wantResponse(t, r, 401, bodyInvalidToken)
	if cleared := refreshSetCookie(t, r); cleared.MaxAge >= 0 {
		t.Fatalf("expired cookie not cleared: %+v", cleared)
	}
}

func TestCookieMode(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_COOKIE_MODE": "on", "LATCH_COOKIE_SAMESITE": "Strict"})
	ts.mustUser("alice")
	r := ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": testPassword})
	wantResponse(t, r, 200, "")
	if strings.Contains(r.body, "refresh") {
		t.Fatalf("refresh in the body: %s", r.body)
	}
	c := refreshSetCookie(t, r)
	if c.Path != "/api/token/" || c.SameSite != http.SameSiteStrictMode || c.Secure {
		t.Fatalf("cookie attributes: %+v", c)
	}
	r = ts.do("POST", "/api/token/refresh/", "", "", cookieHeader(c)...)
	wantResponse(t, r, 200, "")
	access := r.str(t, "access")
	// Logout in cookie mode needs no refresh field: it ends the caller's session.
	r = ts.do("POST", "/api/logout/", "", "", bearer(access)...)
	wantResponse(t, r, 205, "")
	refreshSetCookie(t, r)
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(access)...), 401, "")
	wantResponse(t, ts.do("POST", "/api/token/refresh/", "", "", cookieHeader(refreshSetCookie(t, ts.do("POST", "/api/token/refresh/", "", "", cookieHeader(c)...)))...), 401, "")

	// Blacklist, a SimpleJWT frontend's logout, takes the refresh token
	// from the cookie it cannot read, and clears it.
	r = ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": testPassword})
	c, access = refreshSetCookie(t, r), r.str(t, "access")
	wantResponse(t, ts.do("POST", "/api/token/blacklist/", "", ""), 401, `{"detail":"Refresh token cookie not found.","code":"token_not_valid"}`)
	wantResponse(t, ts.do("POST", "/api/token/blacklist/", "", "", append(cookieHeader(c), "Origin", "https://evil.example")...), 403, "")
	r = ts.do("POST", "/api/token/blacklist/", "", "", cookieHeader(c)...)
	wantResponse(t, r, 200, `{}`)
	if cleared := refreshSetCookie(t, r); cleared.MaxAge >= 0 {
		t.Errorf("blacklist left the cookie: %+v", cleared)
	}
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(access)...), 401, "")
	wantResponse(t, ts.do("POST", "/api/token/refresh/", "", "", cookieHeader(c)...), 401, bodyBlacklisted)
}
