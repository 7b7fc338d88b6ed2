package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/httpapi"
	"github.com/latch-auth/latch/internal/authtest"
)

// The middleware protects a route from the flows alone, with no Server
// mounted anywhere, and answers as latch does.
func TestStandaloneMiddleware(t *testing.T) {
	svc := authtest.New(t, nil).Service
	ctx := context.Background()
	if _, err := svc.Signup(ctx, "alice", "correct horse battery", ""); err != nil {
		t.Fatal(err)
	}
	pair, err := svc.Login(ctx, "alice", "correct horse battery", auth.Client{})
	if err != nil {
		t.Fatal(err)
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := httpapi.PrincipalFrom(r.Context()); ok {
			fmt.Fprintf(w, "user %d", p.UserID)
			return
		}
		fmt.Fprint(w, "anonymous")
	})
	mux := http.NewServeMux()
	mux.Handle("/required", httpapi.Require(svc, httpapi.MiddlewareOptions{})(hello))
	mux.Handle("/optional", httpapi.Verify(svc, httpapi.MiddlewareOptions{})(hello))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tests := []struct {
		name, path, auth string
		status           int
		body             string
	}{
		{"valid token", "/required", "Bearer " + pair.Access, 200, "user 1"},
		{"no header", "/required", "", 401, `{"detail":"Authentication credentials were not provided."}`},
		{"bad token", "/required", "Bearer garbage", 401, `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid or expired"}]}`},
		{"optional, anonymous", "/optional", "", 200, "anonymous"},
		{"optional, valid token", "/optional", "Bearer " + pair.Access, 200, "user 1"},
		{"optional, bad token", "/optional", "Bearer garbage", 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status || (tt.body != "" && string(b) != tt.body) {
				t.Fatalf("got %d %s, want %d %s", res.StatusCode, b, tt.status, tt.body)
			}
			if res.StatusCode == 401 && res.Header.Get("WWW-Authenticate") != `Bearer realm="api"` {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}
	// Logging out refuses the token at once.
	p, err := svc.Authenticate(ctx, pair.Access)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Logout(ctx, p, pair.Refresh); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/required", nil)
	req.Header.Set("Authorization", "Bearer "+pair.Access)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("after logout: %d, want 401", res.StatusCode)
	}
}

// Omit leaves out the groups an embedding application does not want.
func TestOmitGroups(t *testing.T) {
	env := authtest.New(t, nil)
	tests := []struct {
		omit   httpapi.Group
		path   string
		status int
	}{
		{0, "/healthz", 200},
		{0, "/api/schema/", 200},
		{0, "/demo/", 200},
		{httpapi.GroupOps, "/healthz", 404},
		{httpapi.GroupOps, "/metrics", 404},
		{httpapi.GroupOps, "/api/schema/", 200},
		{httpapi.GroupDocs, "/api/schema/", 404},
		{httpapi.GroupDocs, "/api/docs/", 404},
		{httpapi.GroupDemo, "/demo/", 404},
		{httpapi.GroupOps | httpapi.GroupDocs | httpapi.GroupDemo, "/api/me/", 401},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("omit %b %s", tt.omit, tt.path), func(t *testing.T) {
			api, err := httpapi.New(httpapi.Options{Auth: env.Service, Tokens: env.Tokens, Omit: tt.omit})
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("GET %s: %d, want %d", tt.path, rec.Code, tt.status)
			}
		})
	}
}
