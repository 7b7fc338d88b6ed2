package httpapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/internal/authtest"
)

func TestClientAuthCheck(t *testing.T) {
	c := newClientAuth(map[string]string{"api": "s3cret", "empty": ""})
	for _, tc := range []struct {
		id, secret string
		want       bool
	}{
		{"api", "s3cret", true},
		{"api", "s3cre", false},
		{"api", "s3cret ", false},
		{"api", "", false},
		{"nobody", "s3cret", false},
		// An unknown id never matches, even the secret standing in for it.
		{"nobody", "latch: no such introspection client", false},
		{"", "", false},
	} {
		if got := c.check(tc.id, tc.secret); got != tc.want {
			t.Errorf("check(%q, %q): got %v, want %v", tc.id, tc.secret, got, tc.want)
		}
	}
}

func TestParseBasic(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		header, id, secret string
		ok                 bool
	}{
		{"Basic " + b64("api:s3cret"), "api", "s3cret", true},
		{"basic  " + b64("api:a:b"), "api", "a:b", true},
		{"Basic " + b64("api:"), "api", "", true},
		{"Basic " + b64(":secret"), "", "", false},
		{"Basic " + b64("nocolon"), "", "", false},
		{"Basic", "", "", false},
		{"Basic !!!", "", "", false},
		{"Basic " + b64("a:b") + " extra", "", "", false},
		{"Bearer " + b64("a:b"), "", "", false},
		{"", "", "", false},
	} {
		id, secret, ok := parseBasic(tc.header)
		if id != tc.id || secret != tc.secret || ok != tc.ok {
			t.Errorf("parseBasic(%q): got %q, %q, %v, want %q, %q, %v", tc.header, id, secret, ok, tc.id, tc.secret, tc.ok)
		}
	}
}

func FuzzParseBasic(f *testing.F) {
	for _, s := range []string{"Basic YXBpOnMzY3JldA==", "basic Og==", "Basic", "Basic !!", "Bearer x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		id, secret, ok := parseBasic(header)
		if !ok {
			if id != "" || secret != "" {
				t.Fatalf("not ok but %q, %q", id, secret)
			}
			return
		}
		if id == "" {
			t.Fatal("ok with an empty id")
		}
		// What was parsed encodes back to a header that parses the same.
		id2, secret2, ok2 := parseBasic("Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret)))
		if !ok2 || id2 != id || secret2 != secret {
			t.Fatalf("round trip: %q, %q -> %q, %q, %v", id, secret, id2, secret2, ok2)
		}
	})
}

// unsyncedIndex is a revocation index that cannot tell: not synced and
// the database down.
type unsyncedIndex struct{}

func (unsyncedIndex) Check(context.Context, string, int64, int64) error { return latch.ErrUnavailable }
func (unsyncedIndex) Announce(context.Context, latch.Revocation) error  { return latch.ErrUnavailable }

// TestCannotTell: when the revocation index cannot answer, forward auth
// and introspection of an access token are 503, never a yes or a no.
func TestCannotTell(t *testing.T) {
	env := authtest.New(t, func(o *auth.Options) { o.Revocations = unsyncedIndex{} })
	s, err := New(Options{Auth: env.Service, Tokens: env.Tokens, IntrospectionClients: map[string]string{"api": "s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := env.Service.CreateUser(ctx, auth.NewUser{Username: "alice", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	p, err := env.Service.Login(ctx, "alice", "correct horse", auth.Client{})
	if err != nil {
		t.Fatal(err)
	}
	check := httptest.NewRequest("GET", "/api/auth/check/", nil)
	check.Header.Set("Authorization", "Bearer "+p.Access)
	intro := httptest.NewRequest("POST", "/api/token/introspect/", strings.NewReader(url.Values{"token": {p.Access}}.Encode()))
	intro.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	intro.SetBasicAuth("api", "s3cret")
	for _, r := range []*http.Request{check, intro} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, r)
		if got, want := rec.Code, http.StatusServiceUnavailable; got != want || rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s: got %d %s, want %d with Retry-After", r.URL.Path, got, rec.Body, want)
		}
	}
}
