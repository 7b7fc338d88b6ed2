package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-auth/latch/examples/orders"

	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/httpapi"
	"github.com/latch-auth/latch/internal/clocktest"
	"github.com/latch-auth/latch/memory"
	"github.com/latch-auth/latch/password"
	"github.com/latch-auth/latch/revocation"
	"github.com/latch-auth/latch/sqlite"
	"github.com/latch-auth/latch/token"
)

// testPassword is the password of every test user.
const testPassword = "correct horse battery staple"

// accessLifetime is short so tests expire access tokens by advancing the
// server's clock.
const accessLifetime = time.Minute

// fault is an answer the server gives instead of serving a request.
type fault struct {
	status     int
	retryAfter string
}

// latchServer is a real latch (SQLite in a temporary directory, in-process
// revocations and cache, httpapi.Server) behind an httptest server. The
// only addition is a wrapper that counts requests and can answer the next
// ones with injected failures.
type latchServer struct {
	URL   string
	Clock *clocktest.Clock
	Auth  *auth.Service

	refreshes    atomic.Int64 // POST /api/token/refresh/
	requests     atomic.Int64 // every request
	unauthorized atomic.Int64 // 401 answers

	mu     sync.Mutex
	faults []fault
	// beforeRefresh, when set, runs before a refresh request is served.
	beforeRefresh func()

	close func()
}

// startLatch starts a latch server with the user alice. Close it with
// Close. Examples use it directly; tests use mustLatch.
func startLatch() (*latchServer, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "latch-client-test-")
	if err != nil {
		return nil, err
	}
	closers := []func(){func() { os.RemoveAll(dir) }}
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	fail := func(err error) (*latchServer, error) {
		closeAll()
		return nil, err
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, "latch.db"))
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() { db.Close() })
	clock := clocktest.New(time.Now().Truncate(time.Second))
	key, err := token.GenerateKey("HS256")
	if err != nil {
		return fail(err)
	}
	engine, err := token.New(token.Options{SigningKey: key, Now: clock.Now})
	if err != nil {
		return fail(err)
	}
	hasher, err := password.NewHasher(password.Params{Memory: 64, Iterations: 1})
	if err != nil {
		return fail(err)
	}
	opts := auth.DefaultOptions()
	opts.AccessLifetime = accessLifetime
	opts.Users, opts.Sessions, opts.Tokens, opts.Hasher = db, db, engine, hasher
	opts.Cache = memory.NewCache(memory.CacheOptions{Now: clock.Now})
	opts.Now = clock.Now
	revs, err := revocation.NewManager(revocation.Options{Source: db, Window: auth.RevocationWindow(opts), Now: clock.Now})
	if err != nil {
		return fail(err)
	}
	if err := revs.Load(ctx); err != nil {
		return fail(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	closers = append(closers, cancel)
	go revs.Run(runCtx)
	opts.Revocations = revs
	svc, err := auth.New(opts)
	if err != nil {
		return fail(err)
	}
	if _, err := svc.CreateUser(ctx, auth.NewUser{Username: "alice", Password: testPassword, Email: "alice@example.com"}); err != nil {
		return fail(err)
	}
	api, err := httpapi.New(httpapi.Options{Auth: svc, Tokens: engine, Routes: []httpapi.Route{orders.Route(svc, orders.SQLiteStore{DB: db.SQL()})}})
	if err != nil {
		return fail(err)
	}
	ls := &latchServer{Clock: clock, Auth: svc}
	srv := httptest.NewServer(ls.wrap(api))
	closers = append(closers, srv.Close)
	ls.URL, ls.close = srv.URL, closeAll
	return ls, nil
}

// mustLatch starts a latch server for one test.
func mustLatch(tb testing.TB) *latchServer {
	tb.Helper()
	ls, err := startLatch()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(ls.Close)
	return ls
}

func (ls *latchServer) Close() { ls.close() }

// failNext makes the server answer the next requests with faults, in order.
func (ls *latchServer) failNext(faults ...fault) {
	ls.mu.Lock()
	ls.faults = append(ls.faults, faults...)
	ls.mu.Unlock()
}

func (ls *latchServer) wrap(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ls.requests.Add(1)
		ls.mu.Lock()
		var f *fault
		if len(ls.faults) > 0 {
			f = &ls.faults[0]
			ls.faults = ls.faults[1:]
		}
		hold := ls.beforeRefresh
		ls.mu.Unlock()
		if f != nil {
			if f.retryAfter != "" {
				w.Header().Set("Retry-After", f.retryAfter)
			}
			body := `{"detail":"injected failure"}`
			if f.status == http.StatusUnauthorized {
				// An access token refused, as latch words it.
				body = `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid or expired"}]}`
			}
			http.Error(w, body, f.status)
			return
		}
		if r.Method == http.MethodPost && strings.TrimSuffix(r.URL.Path, "/") == "/api/token/refresh" {
			ls.refreshes.Add(1)
			if hold != nil {
				hold()
			}
		}
		rec := &statusWriter{ResponseWriter: w}
		api.ServeHTTP(rec, r)
		if rec.status == http.StatusUnauthorized {
			ls.unauthorized.Add(1)
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}
