package httpapi

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/password"
	"github.com/latch-auth/latch/revocation"
	"github.com/latch-auth/latch/sqlite"
	"github.com/latch-auth/latch/token"
)

// newFuzzServer is a Server over a temporary SQLite store, for tests of
// the request-parsing edges that need no HTTP round trip.
func newFuzzServer(tb testing.TB) *Server {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "latch.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	key, err := token.GenerateKey("HS256")
	if err != nil {
		tb.Fatal(err)
	}
	engine, err := token.New(token.Options{SigningKey: key})
	if err != nil {
		tb.Fatal(err)
	}
	hasher, err := password.NewHasher(password.Params{Memory: 64, Iterations: 1})
	if err != nil {
		tb.Fatal(err)
	}
	revs, err := revocation.NewManager(revocation.Options{Source: db, Window: 1 << 40})
	if err != nil {
		tb.Fatal(err)
	}
	if err := revs.Load(ctx); err != nil {
		tb.Fatal(err)
	}
	opts := auth.DefaultOptions()
	opts.Users, opts.Sessions, opts.Tokens, opts.Hasher, opts.Revocations = db, db, engine, hasher, revs
	svc, err := auth.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := New(Options{Auth: svc, Tokens: engine})
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
