package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/testenv"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/internal/clocktest"
	"github.com/latch-auth/latch/internal/config"
	"github.com/latch-auth/latch/postgres"
	"github.com/latch-auth/latch/server"
)

// testServer is latch assembled from LATCH_* settings, as `latch serve`
// does, behind an httptest server.
type testServer struct {
	t      *testing.T
	URL    string
	app    *server.Server
	clock  *clocktest.Clock
	secret string
	// logged holds what latch logged at warn level and above (or at the
	// LATCH_LOG_LEVEL a test sets), for tests to show or inspect.
	logged lockedBuffer
}

// lockedBuffer is a bytes.Buffer safe for the server's goroutines, which
// may log after the test has ended.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fastHashing keeps argon2id cheap in tests; production uses the defaults.
var fastHashing = map[string]string{"LATCH_ARGON2_MEMORY": "64", "LATCH_ARGON2_ITERATIONS": "1"}

func newTestServer(t *testing.T, env map[string]string) *testServer {
	t.Helper()
	secretBytes := make([]byte, 32)
	rand.Read(secretBytes)
	ts := &testServer{t: t, clock: clocktest.New(time.Now().Truncate(time.Second)), secret: hex.EncodeToString(secretBytes)}
	vars := map[string]string{
		"LATCH_DATA_DIR":          t.TempDir(),
		"LATCH_SIGNING_KEY":       ts.secret,
		"LATCH_THROTTLE_ANON":     "off",
		"LATCH_THROTTLE_USER":     "off",
		"LATCH_COOKIE_SECURE":     "false",
		"LATCH_LOG_LEVEL":         "error",
		"LATCH_REDIS_URL":         "",
		"LATCH_DATABASE_URL":      "",
		"LATCH_ARGON2_MEMORY":     fastHashing["LATCH_ARGON2_MEMORY"],
		"LATCH_ARGON2_ITERATIONS": fastHashing["LATCH_ARGON2_ITERATIONS"],
		// Hashing in this process unless a test asks for the worker
		// process latch serve uses (see TestMain).
		"LATCH_HASH_PROCESS": "off",
	}
	for k, v := range env {
		vars[k] = v
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	build := config.Register(fs, func(k string) string { return vars[k] })
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	cfg, err := build()
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	level := slog.LevelWarn
	if v, ok := env["LATCH_LOG_LEVEL"]; ok {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			t.Fatalf("LATCH_LOG_LEVEL %q: %v", v, err)
		}
	}
	log := slog.New(slog.NewTextHandler(&ts.logged, &slog.HandlerOptions{Level: level}))
	sc := serverConfig(cfg, log)
	sc.Now, sc.Registry = ts.clock.Now, prometheus.NewRegistry()
	sc.MailRetryBase = 200 * time.Millisecond // an SMTP outage in a test lasts a second or two
	if cfg.HashProcess {
		sc.HashProcess = []string{"hash-worker"}
	}
	a, err := server.New(ctx, sc)
	if err != nil {
		cancel()
		t.Fatalf("server.New: %v", err)
	}
	go a.Run(ctx)
	h := a.Handler()
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		a.Close()
	})
	ts.URL, ts.app = srv.URL, a
	return ts
}

// response is what a test request got back.
type response struct {
	status int
	body   string
	header http.Header
}

// json decodes the body into a map.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

func (r response) str(t *testing.T, key string) string {
	t.Helper()
	s, _ := r.json(t)[key].(string)
	if s == "" {
		t.Fatalf("body %s has no %q", r.body, key)
	}
	return s
}

// do sends a request; body is sent as is with contentType.
func (ts *testServer) do(method, path, contentType, body string, header ...string) response {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return ts.send(req)
}

// doRaw sends a request with header as given: its keys go on the wire
// uncanonicalized, so a test can send every spelling a client could.
func (ts *testServer) doRaw(method, path, body string, header http.Header) response {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header = header.Clone()
	return ts.send(req)
}

func (ts *testServer) send(req *http.Request) response {
	ts.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, body: string(b), header: res.Header}
}

// rawHeader builds a header from key, value pairs without canonicalizing
// the keys (see doRaw).
func rawHeader(pairs ...string) http.Header { return withHeaders(nil, pairs...) }

// forgedIdentity is every identity header a client could forge: each of
// the five in canonical form, in mixed case, and with underscores or
// mixed separators (which WSGI and CGI servers read as the same
// variable).
func forgedIdentity() http.Header {
	return rawHeader(
		"X-Latch-User-Id", "999", "x-LATCH-user-ID", "998", "X_Latch_User_Id", "997", "x-Latch_user-id", "996",
		"X-Latch-Username", "root", "x-latch-USERNAME", "root2", "x_latch_username", "root3", "X_LATCH-USERNAME", "root4",
		"X-Latch-Role", "admin", "X-LATCH-ROLE", "admin2", "X_LATCH_ROLE", "admin3", "x-latch_role", "admin4",
		"X-Latch-Session-Id", "forged-sid", "x-Latch-session-id", "forged-sid2", "X_Latch_Session_Id", "forged-sid3", "x_latch-session_id", "forged-sid4",
		"X-Latch-Email", "forged@example.com", "x-latch-EMAIL", "forged2@example.com", "X_Latch_Email", "forged3@example.com", "X-Latch_Email", "forged4@example.com",
	)
}

// withHeaders returns a copy of h with the key, value pairs added, keys
// uncanonicalized.
func withHeaders(h http.Header, pairs ...string) http.Header {
	if h = h.Clone(); h == nil {
		h = http.Header{}
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		h[pairs[i]] = append(h[pairs[i]], pairs[i+1])
	}
	return h
}

// tokenSID is the sid claim of a JWT, read unverified: the session id
// latch must report for it.
func tokenSID(t *testing.T, token string) string {
	t.Helper()
	sid, _ := djangoClaims(t, token)["sid"].(string)
	if sid == "" {
		t.Fatalf("token has no sid: %q", token)
	}
	return sid
}

// postJSON posts fields as a JSON object.
func (ts *testServer) postJSON(path string, fields map[string]any, header ...string) response {
	ts.t.Helper()
	b, _ := json.Marshal(fields)
	return ts.do("POST", path, "application/json", string(b), header...)
}

func (ts *testServer) postForm(path string, vals url.Values, header ...string) response {
	ts.t.Helper()
	return ts.do("POST", path, "application/x-www-form-urlencoded", vals.Encode(), header...)
}

func bearer(access string) []string { return []string{"Authorization", "Bearer " + access} }

const testPassword = "correct horse battery staple"

// mustUser creates an active user.
func (ts *testServer) mustUser(username string) int64 {
	ts.t.Helper()
	u, err := ts.app.Auth().CreateUser(context.Background(), auth.NewUser{Username: username, Password: testPassword, Email: username + "@example.com"})
	if err != nil {
		ts.t.Fatalf("create user %s: %v", username, err)
	}
	return u.ID
}

type pair struct{ access, refresh string }

// mustLogin logs in and returns the pair.
func (ts *testServer) mustLogin(username string) pair {
	ts.t.Helper()
	r := ts.postJSON("/api/token/", map[string]any{"username": username, "password": testPassword})
	if r.status != http.StatusOK {
		ts.t.Fatalf("login %s: %d %s", username, r.status, r.body)
	}
	return pair{r.str(ts.t, "access"), r.str(ts.t, "refresh")}
}

// wantStatus fails unless r has status and, when body is not empty, that
// exact body.
func wantResponse(t *testing.T, r response, status int, body string) {
	t.Helper()
	if r.status != status || (body != "" && r.body != body) {
		t.Fatalf("got %d %s, want %d %s", r.status, r.body, status, body)
	}
}

// mint signs claims with HS256 and the server's secret, as SimpleJWT (or
// an attacker holding a header of their choice) would.
func (ts *testServer) mint(header, claims map[string]any) string {
	return mintHS256(ts.secret, header, claims)
}

func mintHS256(secret string, header, claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(header) + "." + enc(claims)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func newJTI() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// backend is a set of LATCH_* settings selecting where latch keeps state.
type backend struct {
	name string
	env  func(t *testing.T) map[string]string
}

// backends returns the embedded default and, when the test environment
// provides them (scripts/testenv.sh does), PostgreSQL + Redis. Under
// CI=true a missing service fails the test instead of skipping it.
func backends(t *testing.T) []backend {
	t.Helper()
	bs := []backend{{"sqlite", func(*testing.T) map[string]string { return nil }}}
	pg, rd := os.Getenv("LATCH_TEST_POSTGRES_URL"), os.Getenv("LATCH_TEST_REDIS_URL")
	if pg == "" || rd == "" {
		if testenv.CI() {
			t.Fatal("LATCH_TEST_POSTGRES_URL and LATCH_TEST_REDIS_URL must be set in CI (run under scripts/testenv.sh)")
		}
		t.Log("PostgreSQL + Redis variant skipped: LATCH_TEST_POSTGRES_URL / LATCH_TEST_REDIS_URL unset")
		return bs
	}
	return append(bs, backend{"postgres+redis", func(t *testing.T) map[string]string {
		return map[string]string{"LATCH_DATABASE_URL": freshSchemaURL(t, pg), "LATCH_REDIS_URL": rd}
	}})
}

// freshSchemaURL creates an empty schema for one test and returns a URL
// that puts latch in it.
func freshSchemaURL(t *testing.T, base string) string {
	t.Helper()
	schema := "t_" + strings.ToLower(rand.Text())
	db, err := postgres.OpenSchema(context.Background(), base, schema)
	if err != nil {
		t.Fatalf("create schema: %v", err)
	}
	db.Close()
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), base)
		if err == nil {
			conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(context.Background())
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// onEachBackend runs fn against a fresh server on every backend.
func onEachBackend(t *testing.T, env map[string]string, fn func(t *testing.T, ts *testServer)) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			all := b.env(t)
			if all == nil {
				all = map[string]string{}
			}
			for k, v := range env {
				all[k] = v
			}
			fn(t, newTestServer(t, all))
		})
	}
}

func authClient() auth.Client { return auth.Client{UserAgent: "test", IP: "127.0.0.1"} }
