// Package demo_test checks that latch serves its demo page; the page
// itself is exercised in a real browser by demo.e2e.mjs.
package demo_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latch-auth/latch/examples/orders"

	"github.com/latch-auth/latch/httpapi"
	"github.com/latch-auth/latch/internal/authtest"
)

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	env := authtest.New(t, nil)
	api, err := httpapi.New(httpapi.Options{Auth: env.Service, Tokens: env.Tokens, Routes: []httpapi.Route{orders.Route(env.Service, orders.SQLiteStore{DB: env.DB.SQL()})}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return srv
}

func TestDemoPage(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantType           string
		wantBody           string
		wantCSP            bool
	}{
		{"page", "GET", "/demo/", 200, "text/html; charset=utf-8", `<script src="/demo/demo.js"`, true},
		{"page without the slash", "GET", "/demo", 200, "text/html; charset=utf-8", `<form id="login"`, true},
		{"script", "GET", "/demo/demo.js", 200, "text/javascript; charset=utf-8", "function refresh(", false},
		{"style", "GET", "/demo/demo.css", 200, "text/css; charset=utf-8", "pre {", false},
		{"HEAD", "HEAD", "/demo/", 200, "text/html; charset=utf-8", "", true},
		{"unknown file", "GET", "/demo/nope.js", 404, "application/json", `"detail"`, false},
		{"POST", "POST", "/demo/", 405, "application/json", `Method \"POST\" not allowed.`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("%s %s = %d, want %d", tt.method, tt.path, res.StatusCode, tt.wantStatus)
			}
			if got := res.Header.Get("Content-Type"); !strings.HasPrefix(got, tt.wantType) {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			if !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("body does not contain %q", tt.wantBody)
			}
			csp := res.Header.Get("Content-Security-Policy")
			if tt.wantCSP && (!strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "unsafe-inline")) {
				t.Errorf("CSP = %q, want scripts from latch only and nothing inline", csp)
			}
		})
	}
}

// TestDemoPageHasNoInlineScript keeps the page working under its CSP.
func TestDemoPageHasNoInlineScript(t *testing.T) {
	srv := newServer(t)
	res, err := http.Get(srv.URL + "/demo/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	page := string(body)
	for _, bad := range []string{"<script>", "onclick=", "onsubmit=", "style=", "<style", "http://", "https://"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
}
