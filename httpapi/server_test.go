package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/internal/authtest"
)

// newFuzzServer is a Server over a temporary SQLite store, for tests of
// the request-parsing edges that need no HTTP round trip.
func newFuzzServer(tb testing.TB) *Server {
	tb.Helper()
	env := authtest.New(tb, nil)
	s, err := New(Options{Auth: env.Service, Tokens: env.Tokens})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestThrottleKeyGroupsIPv6By64(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"not-an-ip", "not-an-ip"},
	}
	for _, tt := range tests {
		if got := throttleKey(tt.in); got != tt.want {
			t.Errorf("throttleKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestWriteMeMatchesEncoder: the hand-written /api/me/ body is byte for
// byte what the JSON encoder writes, for every kind of string.
func TestWriteMeMatchesEncoder(t *testing.T) {
	for _, name := range []string{"alice", "", `quo"te`, `back\slash`, "tab\there", "<b>&amp;", "café", "日本", "\x00\x1f", "bad\xffutf8", "\u2028"} {
		u := &latch.User{ID: 42, Username: name, Role: "user", Email: name + "@example.com"}
		got := httptest.NewRecorder()
		writeMe(got, u)
		want := httptest.NewRecorder()
		writeJSON(want, 200, struct {
			ID       int64  `json:"id"`
			Username string `json:"username"`
			Role     string `json:"role"`
			Email    string `json:"email"`
		}{u.ID, u.Username, u.Role, u.Email})
		if got.Body.String() != want.Body.String() || got.Header().Get("Content-Type") != "application/json" {
			t.Errorf("username %q: got %s, want %s", name, got.Body, want.Body)
		}
	}
}

// A login whose client has gone (its request's context is canceled) is
// not a server error: 499 in logs and metrics, never 500.
func TestClientGoneIsNotAServerError(t *testing.T) {
	s := newFuzzServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, "POST", "/api/token/", strings.NewReader(`{"username":"alice","password":"pw"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != statusClientClosedRequest {
		t.Fatalf("login with a canceled context: %d %s, want %d", rec.Code, rec.Body, statusClientClosedRequest)
	}
	if got := s.toAPIError(fmt.Errorf("login: update user 2: %w", context.Canceled)).status; got != statusClientClosedRequest {
		t.Fatalf("wrapped context.Canceled maps to %d", got)
	}
}

// TestLogHoldsNoSecretPath: the account pages' URLs hold a reset token
// or a verification key; what the log says of a failed request to them,
// even at debug level, is the route's pattern or a prefix, never the path.
func TestLogHoldsNoSecretPath(t *testing.T) {
	env := authtest.New(t, nil)
	var log bytes.Buffer
	s, err := New(Options{Auth: env.Service, Tokens: env.Tokens,
		Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	const secret = "SECRETTOKENabcdefghijklmnopqrstuvwxyz234567"
	tests := []struct {
		name, method, path string
		status             int
		logged             string
	}{
		{"405 on the reset page", "DELETE", "/reset/MQ/" + secret + "/", 405, "path=/reset/{uid}/{token}/ "},
		{"405 on the reset page, no slash", "PUT", "/reset/MQ/" + secret, 405, "path=/reset/{uid}/{token} "},
		{"405 on the verification page", "DELETE", "/verify-email/" + secret + "/", 405, "path=/verify-email/{key}/ "},
		{"404 under the reset page", "GET", "/reset/MQ/" + secret + "/more/", 404, "path=/reset/… "},
		{"404 elsewhere", "GET", "/nowhere/", 404, "path=/nowhere/ "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log.Reset()
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("%s %s: %d, want %d", tt.method, tt.path, rec.Code, tt.status)
			}
			if got := log.String(); strings.Contains(got, secret) || !strings.Contains(got, tt.logged) {
				t.Errorf("logged %q; want %q in it and no token", got, tt.logged)
			}
		})
	}
}

// TestExactRoutesAsTheMux: every route served without the mux's tree is
// the one the mux picks for its path, with the pattern the mux would
// give it, and each literal route the mux holds is among them.
func TestExactRoutesAsTheMux(t *testing.T) {
	s := newFuzzServer(t)
	if len(s.exact) < 20 {
		t.Fatalf("%d literal routes; the routes table has more", len(s.exact))
	}
	for path, rt := range s.exact {
		for _, method := range []string{"GET", "POST", "OPTIONS"} {
			_, pattern := s.mux.Handler(httptest.NewRequest(method, path, nil))
			if pattern != rt.pattern {
				t.Errorf("%s %s: the mux picks %q, the literal route is %q", method, path, pattern, rt.pattern)
			}
		}
	}
	for _, path := range []string{"/api/me/", "/api/me", "/api/token/refresh/", "/api/token/refresh", "/api/auth/check/", "/metrics", "/.well-known/jwks.json"} {
		if _, ok := s.exact[path]; !ok {
			t.Errorf("%s is not served as a literal route", path)
		}
	}
	for _, path := range []string{"/api/sessions/{id}/", "/api/sessions/{id}", "/", "/api/me/x"} {
		if _, ok := s.exact[path]; ok {
			t.Errorf("%s is served as a literal route", path)
		}
	}
}

// TestExactRoutesKeepTheMuxsAnswers: requests whose path the mux reads
// differently from its literal text (escapes, unclean paths) get the
// mux's own answer, and a literal route's request carries its pattern.
func TestExactRoutesKeepTheMuxsAnswers(t *testing.T) {
	s := newFuzzServer(t)
	tests := []struct {
		method, target string
		want           int
	}{
		{"GET", "/api/me/", 401},
		{"GET", "/api/me", 401},
		{"GET", "/api/m%65/", 401},    // the mux matches the unescaped segment
		{"GET", "/api%2Fme/", 404},    // one segment, not two
		{"GET", "/api/me/extra", 404}, // {$}: the path alone
		{"DELETE", "/api/me/", 405},
		{"CONNECT", "/api/me/", 405},
		{"GET", "/.well-known/jwks.json", 200},
	}
	for _, tt := range tests {
		got := httptest.NewRecorder()
		s.ServeHTTP(got, httptest.NewRequest(tt.method, tt.target, nil))
		want := httptest.NewRecorder()
		s.mux.ServeHTTP(want, httptest.NewRequest(tt.method, tt.target, nil))
		if got.Code != tt.want || want.Code != tt.want || got.Body.String() != want.Body.String() {
			t.Errorf("%s %s: %d %s; the mux alone: %d %s; want %d", tt.method, tt.target, got.Code, got.Body, want.Code, want.Body, tt.want)
		}
	}
	req := httptest.NewRequest("GET", "/api/me/", nil)
	s.ServeHTTP(httptest.NewRecorder(), req)
	if req.Pattern != "/api/me/{$}" {
		t.Errorf("pattern of GET /api/me/: %q", req.Pattern)
	}
}

// TestUncleanPathsAreNotFound: a path with an empty, "." or ".." element
// gets latch's JSON 404, as Django's resolver matches no route for it,
// rather than the mux's redirect with an HTML body.
func TestUncleanPathsAreNotFound(t *testing.T) {
	s := newFuzzServer(t)
	for _, target := range []string{"/api//me/", "//api/me/", "/api/./me/", "/api/me//", "/api/sessions//", "/api/x/../me/"} {
		for _, method := range []string{"GET", "POST", "DELETE"} {
			got := httptest.NewRecorder()
			req := httptest.NewRequest(method, "/", nil)
			req.URL.Path = target // as the client sent it, uncleaned
			s.ServeHTTP(got, req)
			if got.Code != 404 || got.Body.String() != `{"detail":"Not found."}` || got.Header().Get("Content-Type") != "application/json" {
				t.Errorf("%s %s: %d %q %q", method, target, got.Code, got.Header().Get("Content-Type"), got.Body)
			}
		}
	}
	for _, target := range []string{"/api/me/", "/api/me", "/", "/api/sessions/abc/"} {
		if !cleanPath(target) {
			t.Errorf("cleanPath(%q) = false", target)
		}
	}
}

// TestExactRoutesYieldToMethodPatterns: an embedder's Route whose path
// names a method is more specific, for that method, than latch's route
// of the same path; the mux, which knows, then decides every request.
func TestExactRoutesYieldToMethodPatterns(t *testing.T) {
	env := authtest.New(t, nil)
	s, err := New(Options{Auth: env.Service, Tokens: env.Tokens, Routes: []Route{{
		Path: "POST /api/me/", Method: "POST",
		Handle: func(w http.ResponseWriter, _ *http.Request, _ *auth.Principal) error {
			w.WriteHeader(http.StatusTeapot)
			return nil
		},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := env.Service.CreateUser(ctx, auth.NewUser{Username: "alice", Password: "correct horse battery", Email: "alice@example.com"}); err != nil {
		t.Fatal(err)
	}
	pair, err := env.Service.Login(ctx, "alice", "correct horse battery", auth.Client{UserAgent: "test", IP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		method string
		want   int
	}{{"POST", http.StatusTeapot}, {"GET", http.StatusOK}} {
		req := httptest.NewRequest(tt.method, "/api/me/", nil)
		req.Header.Set("Authorization", "Bearer "+pair.Access)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("%s /api/me/: %d %s, want %d", tt.method, rec.Code, rec.Body, tt.want)
		}
	}
}
