package httpapi

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latch-auth/latch"
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
