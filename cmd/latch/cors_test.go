package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

const corsApp = "http://localhost:3000" // a frontend's dev server beside latch on :8000

// preflight is what a browser sends before a request with Authorization or
// a JSON body from another origin.
func preflight(origin, method, headers string) []string {
	return []string{"Origin", origin, "Access-Control-Request-Method", method, "Access-Control-Request-Headers", headers}
}

// requested is the Access-Control-Request-Headers of a preflight's header
// pairs.
func requested(pairs []string) string {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i] == "Access-Control-Request-Headers" {
			return pairs[i+1]
		}
	}
	return ""
}

func TestCORS(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_CORS_ALLOWED_ORIGINS": corsApp + ", https://App.Example.com:443"})
	ts.mustUser("alice")
	p := ts.mustLogin("alice")

	tests := []struct {
		name    string
		method  string
		path    string
		header  []string
		status  int
		allowed string // Access-Control-Allow-Origin wanted; "" none
	}{
		{"preflight of an allowed origin", "OPTIONS", "/api/me/", preflight(corsApp, "GET", "authorization"), 204, corsApp},
		{"preflight, origin as listed after normalizing", "OPTIONS", "/api/token/", preflight("https://app.example.com", "POST", "content-type"), 204, "https://app.example.com"},
		{"preflight of a path latch does not serve", "OPTIONS", "/nowhere/", preflight(corsApp, "GET", "authorization"), 204, corsApp},
		{"preflight of another origin", "OPTIONS", "/api/me/", preflight("http://localhost:4000", "GET", "authorization"), 200, ""},
		{"preflight of another scheme", "OPTIONS", "/api/me/", preflight("https://localhost:3000", "GET", "authorization"), 200, ""},
		{"request of an allowed origin", "GET", "/api/me/", append(bearer(p.access), "Origin", corsApp), 200, corsApp},
		{"refusal to an allowed origin", "GET", "/api/me/", []string{"Origin", corsApp}, 401, corsApp},
		{"request of another origin", "GET", "/api/me/", append(bearer(p.access), "Origin", "http://evil.example"), 200, ""},
		{"request without Origin", "GET", "/api/me/", bearer(p.access), 200, ""},
		{"OPTIONS that is no preflight", "OPTIONS", "/api/me/", []string{"Origin", corsApp}, 200, corsApp},
		// A proxy asks forward auth about the browser's request: a
		// preflight must not come back allowed without a token.
		{"preflight checked by forward auth", "OPTIONS", "/api/auth/check/", preflight(corsApp, "GET", "authorization"), 401, ""},
		{"preflight checked by forward auth, no slash", "OPTIONS", "/api/auth/check", preflight(corsApp, "GET", "authorization"), 401, ""},
		{"preflight to a path under forward auth's", "OPTIONS", "/api/auth/check/x", preflight(corsApp, "GET", "authorization"), 404, ""},
		{"preflight to a path that only starts like forward auth's", "OPTIONS", "/api/auth/checkout/", preflight(corsApp, "POST", "authorization"), 204, corsApp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do(tt.method, tt.path, "", "", tt.header...)
			wantResponse(t, r, tt.status, "")
			h := r.header
			if got := h.Values("Access-Control-Allow-Origin"); strings.Join(got, ",") != tt.allowed {
				t.Fatalf("Access-Control-Allow-Origin %q, want %q", got, tt.allowed)
			}
			if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") && !strings.HasPrefix(tt.path, "/api/auth/check") {
				t.Errorf("Vary %q lacks Origin", h.Values("Vary"))
			}
			if tt.allowed == "" {
				for k := range h {
					if strings.HasPrefix(k, "Access-Control-") {
						t.Errorf("%s: %q to an origin not listed", k, h[k])
					}
				}
				return
			}
			if h.Get("Access-Control-Allow-Credentials") != "true" {
				t.Errorf("Access-Control-Allow-Credentials %q", h.Get("Access-Control-Allow-Credentials"))
			}
			if tt.status == 204 {
				if r.body != "" {
					t.Errorf("preflight body %q", r.body)
				}
				if m := h.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "PATCH") || !strings.Contains(m, "DELETE") {
					t.Errorf("Access-Control-Allow-Methods %q", m)
				}
				if got, want := h.Get("Access-Control-Allow-Headers"), requested(tt.header); got != want {
					t.Errorf("Access-Control-Allow-Headers %q, want %q", got, want)
				}
				if h.Get("Access-Control-Max-Age") != "86400" {
					t.Errorf("Access-Control-Max-Age %q", h.Get("Access-Control-Max-Age"))
				}
			} else if h.Get("Access-Control-Expose-Headers") != "Retry-After" {
				t.Errorf("Access-Control-Expose-Headers %q", h.Get("Access-Control-Expose-Headers"))
			}
		})
	}
}

// A frontend on another port of the same host is same-site: its requests
// carry the SameSite=Lax refresh cookie, and the CSRF check refuses them
// unless the origin is listed.
func TestCORSOriginsPassTheCSRFCheck(t *testing.T) {
	login := map[string]any{"username": "alice", "password": testPassword}
	fromApp := []string{"Origin", corsApp, "Sec-Fetch-Site", "same-site"}
	t.Run("not listed", func(t *testing.T) {
		ts := newTestServer(t, nil)
		ts.mustUser("alice")
		wantResponse(t, ts.postJSON("/api/cookie/login/", login, fromApp...), 403, `{"detail":"CSRF Failed: cross-origin request refused."}`)
	})
	t.Run("listed", func(t *testing.T) {
		ts := newTestServer(t, map[string]string{"LATCH_CORS_ALLOWED_ORIGINS": corsApp})
		ts.mustUser("alice")
		r := ts.postJSON("/api/cookie/login/", login, fromApp...)
		wantResponse(t, r, 200, "")
		c := refreshSetCookie(t, r)
		r = ts.do("POST", "/api/cookie/refresh/", "", "", append(cookieHeader(c), fromApp...)...)
		wantResponse(t, r, 200, "")
		if r.header.Get("Access-Control-Allow-Origin") != corsApp {
			t.Fatalf("refresh answered without CORS headers: %v", r.header)
		}
		// Another site is refused still, and so is another origin of
		// this one that is not listed.
		wantResponse(t, ts.do("POST", "/api/cookie/refresh/", "", "", append(cookieHeader(refreshSetCookie(t, r)), "Origin", "http://localhost:4000", "Sec-Fetch-Site", "same-site")...), 403, "")
		wantResponse(t, ts.do("POST", "/api/cookie/refresh/", "", "", append(cookieHeader(refreshSetCookie(t, r)), "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")...), 403, "")
	})
}

func TestCORSOffSendsNoHeader(t *testing.T) {
	ts := newTestServer(t, nil)
	r := ts.do("OPTIONS", "/api/me/", "", "", preflight(corsApp, "GET", "authorization")...)
	wantResponse(t, r, 200, "{}")
	for k := range r.header {
		if strings.HasPrefix(k, "Access-Control-") || k == "Vary" {
			t.Errorf("%s: %q with CORS off", k, r.header[k])
		}
	}
}

// In gateway mode latch answers preflights of the upstream's paths (they
// carry no token), and its CORS headers replace the upstream's.
func TestCORSGateway(t *testing.T) {
	var calls atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Methods", "GET")
		w.Header().Set("Access-Control-Expose-Headers", "X-Total-Count, Link")
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"user": r.Header.Get("X-Latch-Username")})
	}))
	t.Cleanup(up.Close)
	env := gatewayEnv(up.URL)
	env["LATCH_CORS_ALLOWED_ORIGINS"] = corsApp
	ts := newTestServer(t, env)
	ts.mustUser("alice")
	p := ts.mustLogin("alice")

	r := ts.do("OPTIONS", "/shop/orders/", "", "", preflight(corsApp, "POST", "authorization,content-type,x-request-id")...)
	wantResponse(t, r, 204, "")
	if calls.Load() != 0 || r.header.Get("Access-Control-Allow-Headers") != "authorization,content-type,x-request-id" {
		t.Fatalf("preflight: upstream calls %d, headers %v", calls.Load(), r.header)
	}
	r = ts.do("GET", "/shop/orders/", "", "", append(bearer(p.access), "Origin", corsApp)...)
	wantResponse(t, r, 200, `{"user":"alice"}`+"\n")
	if got := r.header.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != corsApp {
		t.Fatalf("Access-Control-Allow-Origin %q, want latch's alone", got)
	}
	if got := r.header.Values("Access-Control-Allow-Methods"); len(got) != 0 {
		t.Fatalf("the upstream's Access-Control-Allow-Methods %q passed", got)
	}
	// What the upstream exposes (pagination, Location) stays readable.
	if got := strings.Join(r.header.Values("Access-Control-Expose-Headers"), ", "); got != "Retry-After, X-Total-Count, Link" {
		t.Fatalf("Access-Control-Expose-Headers %q, want latch's and the upstream's", got)
	}
	// An origin latch does not list gets the upstream's answer as it is.
	r = ts.do("GET", "/shop/orders/", "", "", append(bearer(p.access), "Origin", "http://elsewhere.example")...)
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Fatalf("Access-Control-Allow-Origin %q, want the upstream's", got)
	}
}

// A frontend must be able to read a refusal and its wait: a 429 to a
// listed origin carries the CORS headers and exposes Retry-After.
func TestCORSThrottled(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_CORS_ALLOWED_ORIGINS": corsApp, "LATCH_THROTTLE_ANON": "1/min"})
	login := map[string]any{"username": "nobody", "password": "wrong"}
	ts.postJSON("/api/token/", login, "Origin", corsApp)
	r := ts.postJSON("/api/token/", login, "Origin", corsApp)
	wantResponse(t, r, 429, "")
	if r.header.Get("Access-Control-Allow-Origin") != corsApp || r.header.Get("Access-Control-Expose-Headers") != "Retry-After" || r.header.Get("Retry-After") == "" {
		t.Fatalf("429 headers %v", r.header)
	}
}
