package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/httpapi"
	"github.com/latch-auth/latch/server"
)

// Example embeds latch in an existing application's ServeMux: latch's
// endpoints under /api/, the application's handler behind latch's check.
func Example() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	dir, _ := os.MkdirTemp("", "latch-example-")
	defer os.RemoveAll(dir)
	mux := http.NewServeMux()
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := httpapi.PrincipalFrom(r.Context())
		fmt.Fprintf(w, "hello, user %d", p.UserID)
	})

	// The embedding: configure, assemble, mount, protect, run.
	latch, err := server.New(ctx, server.Config{DataDir: dir, Argon2Memory: 64, Argon2Iterations: 1})
	if err != nil {
		panic(err)
	}
	defer latch.Close()
	mux.Handle("/api/", latch.Handler())
	mux.Handle("/hello", latch.Protect(hello))
	go latch.Run(ctx) // revocation catch-up and housekeeping

	srv := httptest.NewServer(mux)
	defer srv.Close()
	latch.Auth().Signup(ctx, "alice", "correct horse battery", "")
	pair, _ := latch.Auth().Login(ctx, "alice", "correct horse battery", auth.Client{})
	for _, token := range []string{pair.Access, ""} {
		req, _ := http.NewRequest("GET", srv.URL+"/hello", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, _ := http.DefaultClient.Do(req)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Println(res.StatusCode, string(body))
	}
	// Output:
	// 200 hello, user 1
	// 401 {"detail":"Authentication credentials were not provided."}
}
