package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/latch-auth/latch/auth"
)

// benchMeBody is what latch's /api/me/ answers for the benchmark's user.
var benchMeBody = []byte(`{"id":1,"username":"alice","role":"user","email":"alice@example.com"}`)

// bareMe is the floor: the constant body, as internal/benchserver serves it.
func bareMe(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(benchMeBody)
}

// BenchmarkMe compares, in process (httptest.NewRecorder, no network), a
// bare handler behind a ServeMux with latch's GET /api/me/ with immediate
// revocation on and throttling off, over SQLite, the verified-token and
// user caches warm: the per-request overhead of latch's routing, metrics,
// Authenticate and JSON encoding. The -parallel variants run GOMAXPROCS
// goroutines. `go test -run='^$' -bench=Me -cpuprofile cpu.out ./httpapi/`
// profiles it (see BENCHMARKS.md).
func BenchmarkMe(b *testing.B) {
	s := newFuzzServer(b)
	ctx := context.Background()
	if _, err := s.opts.Auth.CreateUser(ctx, auth.NewUser{Username: "alice", Password: "correct horse battery", Email: "alice@example.com"}); err != nil {
		b.Fatal(err)
	}
	pair, err := s.opts.Auth.Login(ctx, "alice", "correct horse battery", auth.Client{UserAgent: "bench", IP: "127.0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	bare := http.NewServeMux()
	bare.HandleFunc("GET /api/me/", bareMe)

	base := httptest.NewRequest("GET", "/api/me/", nil)
	base.Header.Set("Authorization", "Bearer "+pair.Access)
	// serve sends a shallow copy of base: handlers may set fields of the
	// request (the mux its pattern, latch a MaxBytesReader body).
	serve := func(h http.Handler) *httptest.ResponseRecorder {
		r := *base
		r.Body = http.NoBody
		w := httptest.NewRecorder()
		h.ServeHTTP(w, &r)
		return w
	}
	for name, h := range map[string]http.Handler{"bare": bare, "latch": s} {
		w := serve(h)
		if w.Code != http.StatusOK || w.Body.String() != string(benchMeBody) {
			b.Fatalf("%s: %d %s", name, w.Code, w.Body)
		}
	}

	check := httptest.NewRequest("GET", "/api/auth/check/", nil)
	check.Header = base.Header
	forwardAuth := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		r := *check
		r.Body = http.NoBody
		s.ServeHTTP(w, &r)
	})
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"latch", s}, {"check", forwardAuth}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				serve(c.h)
			}
		})
		b.Run(c.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					serve(c.h)
				}
			})
		})
	}
}
