package main

// Hardening (SPEC §11, §3, §5.5): ambiguous credentials, unmapped token
// errors, cookie-mode CSRF and logout, security headers.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestTwoAuthorizationHeaders(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.mustUser("alice")
	p := ts.mustLogin("alice")
	for _, second := range []string{"Bearer " + p.access, "Bearer garbage", ""} {
		req, err := http.NewRequest("GET", ts.URL+"/api/me/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Add("Authorization", "Bearer "+p.access)
		req.Header.Add("Authorization", second)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 401 || string(b) != bodyBadHeader {
			t.Errorf("two Authorization headers (second %q): got %d %s, want 401 %s", second, res.StatusCode, b, bodyBadHeader)
		}
	}
}

func TestSlidingTokenWithoutRefreshExp(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_SLIDING_TOKENS": "on"})
	id := ts.mustUser("alice")
	now := ts.clock.Now().Unix()
	tok := ts.mint(map[string]any{"alg": "HS256", "typ": "JWT"},
		map[string]any{"token_type": "sliding", "exp": now + 60, "iat": now, "jti": newJTI(), "user_id": id})
	msg := "Token has no 'refresh_exp' claim"
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(tok)...), 401, bodyAccessInvalid(msg))
	wantResponse(t, ts.do("POST", "/api/logout/", "", "", bearer(tok)...), 401, bodyAccessInvalid(msg))
	wantResponse(t, ts.postJSON("/api/token/sliding/refresh/", map[string]any{"token": tok}), 401,
		`{"detail":"`+msg+`","code":"token_not_valid"}`)
}

func TestCookieLogoutNeedsSomethingToRevoke(t *testing.T) {
	onEachBackend(t, nil, func(t *testing.T, ts *testServer) {
		ts.mustUser("alice")
		wantResponse(t, ts.do("POST", "/api/cookie/logout/", "", ""), 400, `{"detail":"refresh required"}`)
		// Without the cookie, the access token names the session to end.
		p := ts.mustLogin("alice")
		wantResponse(t, ts.do("POST", "/api/cookie/logout/", "", "", bearer(p.access)...), 205, "")
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(p.access)...), 401, "")
		wantResponse(t, ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh}), 401, "")
		wantResponse(t, ts.do("POST", "/api/cookie/logout/", "", "", "Authorization", "Bearer garbage"), 401, "")
	})
}

func TestCookieLoginRefusesCrossSite(t *testing.T) {
	login := `{"username":"alice","password":"` + testPassword + `"}`
	for _, tt := range []struct {
		name, path string
		env        map[string]string
	}{
		{"cookie endpoint", "/api/cookie/login/", nil},
		{"token endpoint in cookie mode", "/api/token/", map[string]string{"LATCH_COOKIE_MODE": "on"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, tt.env)
			ts.mustUser("alice")
			for _, h := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
				r := ts.do("POST", tt.path, "application/json", login, h...)
				wantResponse(t, r, 403, `{"detail":"CSRF Failed: cross-origin request refused."}`)
				if sc := r.header.Values("Set-Cookie"); len(sc) != 0 {
					t.Errorf("%s: refused login set cookies %q", h[0], sc)
				}
			}
			r := ts.do("POST", tt.path, "application/json", login, "Sec-Fetch-Site", "same-origin")
			wantResponse(t, r, 200, "")
			refreshSetCookie(t, r)
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	for _, secure := range []bool{true, false} {
		t.Run(fmt.Sprintf("secure cookies %v", secure), func(t *testing.T) {
			ts := newTestServer(t, map[string]string{"LATCH_COOKIE_SECURE": fmt.Sprint(secure)})
			ts.mustUser("alice")
			p := ts.mustLogin("alice")
			tests := []struct {
				name, method, path, body string
				header                   []string
				private                  bool // carries tokens or personal data
			}{
				{"login", "POST", "/api/token/", `{"username":"alice","password":"` + testPassword + `"}`, nil, true},
				{"failed login", "POST", "/api/token/", `{"username":"alice","password":"x"}`, nil, false},
				{"me", "GET", "/api/me/", "", bearer(p.access), true},
				{"me without a token", "GET", "/api/me/", "", nil, true},
				{"sessions", "GET", "/api/sessions/", "", bearer(p.access), true},
				{"orders", "GET", "/api/orders/", "", bearer(p.access), true},
				{"signup", "POST", "/api/signup/", `{"username":"bob","password":"` + testPassword + `"}`, nil, true},
				{"refresh", "POST", "/api/token/refresh/", `{"refresh":"` + p.refresh + `"}`, nil, true},
				{"not found", "GET", "/nowhere", "", nil, false},
				{"wrong method", "GET", "/api/token/", "", nil, false},
				{"health", "GET", "/healthz", "", nil, false},
				{"metrics", "GET", "/metrics", "", nil, false},
				{"docs", "GET", "/api/docs/", "", nil, false},
				{"jwks", "GET", "/.well-known/jwks.json", "", nil, false},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := ts.do(tt.method, tt.path, "application/json", tt.body, tt.header...)
					if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
						t.Errorf("%d: X-Content-Type-Options %q, want nosniff", r.status, got)
					}
					if got := r.header.Get("Cache-Control"); tt.private && got != "no-store" {
						t.Errorf("%d: Cache-Control %q, want no-store", r.status, got)
					}
					hsts := r.header.Get("Strict-Transport-Security")
					if secure && !strings.HasPrefix(hsts, "max-age=") || !secure && hsts != "" {
						t.Errorf("%d: Strict-Transport-Security %q with secure cookies %v", r.status, hsts, secure)
					}
				})
			}
		})
	}
}

// TestMalformedRequestsGetJSON: the requests net/http refuses before any
// handler sees them get a JSON 4xx with nosniff from latch serve too, not
// net/http's plain text.
func TestMalformedRequestsGetJSON(t *testing.T) {
	lp := startLatch(t, map[string]string{"LATCH_DATA_DIR": t.TempDir(), "LATCH_SIGNING_KEY": randomSecret()})
	u, err := url.Parse(lp.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, req  string
		wantStatus int
	}{
		{"bad escape in the path", "POST /api/token/%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"malformed header line", "GET /api/me/ HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n", 400},
		{"headers over the limit", "GET /api/me/ HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 128<<10) + "\r\n\r\n", 431},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(c, tt.req); err != nil {
				t.Fatal(err)
			}
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.wantStatus || !strings.HasPrefix(string(body), `{"detail":"`) ||
				res.Header.Get("Content-Type") != "application/json" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("got %d %v %s, want %d with a JSON detail and nosniff", res.StatusCode, res.Header, body, tt.wantStatus)
			}
		})
	}
}
