package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/testenv"

	"github.com/latch-auth/latch/internal/redistest"
)

// privatePostgres is a PostgreSQL server of one test, which it can stop
// and start again (on the same port and data) without disturbing others.
type privatePostgres struct {
	t    *testing.T
	bin  string // directory of initdb, pg_ctl, postgres
	dir  string // socket dir and log; data in dir/data
	port int
	// user runs the server binaries: postgres refuses to run as root.
	user string
}

// pgBinDir finds the PostgreSQL server binaries: LATCH_TEST_PG_BIN
// (scripts/testenv.sh exports it), else the newest Debian installation,
// else pg_ctl on the PATH.
func pgBinDir() string {
	ok := func(d string) bool {
		for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
			if _, err := os.Stat(filepath.Join(d, b)); err != nil {
				return false
			}
		}
		return true
	}
	if d := os.Getenv("LATCH_TEST_PG_BIN"); d != "" && ok(d) {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionLess(dirs[j], dirs[i]) })
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(r))
		}
	}
	for _, d := range dirs {
		if ok(d) {
			return d
		}
	}
	return ""
}

// versionLess orders /usr/lib/postgresql/<major>/bin paths by major version.
func versionLess(a, b string) bool {
	var va, vb int
	fmt.Sscanf(filepath.Base(filepath.Dir(a)), "%d", &va)
	fmt.Sscanf(filepath.Base(filepath.Dir(b)), "%d", &vb)
	return va < vb
}

func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	bin := pgBinDir()
	if bin == "" {
		testenv.Missing(t, "PostgreSQL server binaries (initdb, pg_ctl) not found; set LATCH_TEST_PG_BIN (scripts/testenv.sh does)")
	}
	// Not t.TempDir: as root, the postgres user must reach the directory.
	dir, err := os.MkdirTemp("", "latch-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &privatePostgres{t: t, bin: bin, dir: dir, port: freePort(t)}
	if os.Geteuid() == 0 {
		p.user = "postgres"
	}
	for _, d := range []string{dir, filepath.Join(dir, "data")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if p.user != "" {
			if out, err := exec.Command("chown", p.user, d).CombinedOutput(); err != nil {
				t.Fatalf("chown %s: %v %s", d, err, out)
			}
		}
	}
	p.run("initdb", "-D", p.data(), "-U", "postgres", "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync")
	p.start()
	t.Cleanup(func() {
		// Immediate: the data is thrown away. By its pid file, never by name.
		p.cmd("pg_ctl", "-D", p.data(), "-m", "immediate", "-w", "stop").Run()
	})
	return p
}

func (p *privatePostgres) data() string { return filepath.Join(p.dir, "data") }

func (p *privatePostgres) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

func (p *privatePostgres) cmd(name string, args ...string) *exec.Cmd {
	path := filepath.Join(p.bin, name)
	var c *exec.Cmd
	if p.user != "" {
		c = exec.Command("runuser", append([]string{"-u", p.user, "--", path}, args...)...)
	} else {
		c = exec.Command(path, args...)
	}
	c.Dir = p.dir
	return c
}

func (p *privatePostgres) run(name string, args ...string) {
	p.t.Helper()
	if out, err := p.cmd(name, args...).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "postgres.log"))
		p.t.Fatalf("%s %v: %v\n%s\nserver log:\n%s", name, args, err, out, log)
	}
}

func (p *privatePostgres) start() {
	p.t.Helper()
	p.run("pg_ctl", "-D", p.data(), "-l", filepath.Join(p.dir, "postgres.log"), "-w", "-t", "60", "-o",
		fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off", p.port, p.dir),
		"start")
}

// stop shuts the server down as an operator would (fast: clients are
// disconnected) and waits until it is gone.
func (p *privatePostgres) stop() {
	p.t.Helper()
	p.run("pg_ctl", "-D", p.data(), "-m", "fast", "-w", "-t", "60", "stop")
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// client is a plain HTTP client of one latch process.
type client struct {
	base string
	http *http.Client
}

// answer is one response, as the outage tests judge it.
type answer struct {
	op     string
	status int
	body   string
	header http.Header
	took   time.Duration
	at     time.Time
}

// call sends a request; a transport error is an answer with status 0.
func (c *client) call(op, method, path, contentType, body string, header ...string) answer {
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	start := time.Now()
	res, err := c.http.Do(req)
	a := answer{op: op, at: start}
	if err != nil {
		a.body, a.took = err.Error(), time.Since(start)
		return a
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	a.took = time.Since(start)
	a.status, a.body, a.header = res.StatusCode, string(b), res.Header
	return a
}

func (c *client) post(op, path string, fields map[string]any, header ...string) answer {
	b, _ := json.Marshal(fields)
	return c.call(op, "POST", path, "application/json", string(b), header...)
}

func (a answer) field(key string) string {
	var m map[string]any
	json.Unmarshal([]byte(a.body), &m)
	s, _ := m[key].(string)
	return s
}

func (a answer) String() string {
	return fmt.Sprintf("%s: %d %s (Retry-After %q, %v)", a.op, a.status, strings.TrimSpace(a.body), a.header.Get("Retry-After"), a.took.Round(time.Millisecond))
}

// unavailable reports whether a is the answer to a store failure: 503
// JSON with a detail and Retry-After.
func (a answer) unavailable() bool {
	return a.status == http.StatusServiceUnavailable && a.header.Get("Retry-After") != "" &&
		strings.HasPrefix(a.header.Get("Content-Type"), "application/json") && a.field("detail") != ""
}

// tokens are one session's tokens, replaced when a refresh rotates them.
type tokens struct {
	mu              sync.Mutex
	access, refresh string
}

func (tk *tokens) get() (string, string) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	return tk.access, tk.refresh
}

func (tk *tokens) set(access, refresh string) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	tk.access, tk.refresh = access, refresh
}

// queue hands out sessions to spend (logout, blacklist), each once.
type queue struct {
	mu    sync.Mutex
	pairs []pair
	// refused are the pairs a 503 answered: not logged out.
	refused map[pair]bool
}

func (q *queue) take() (pair, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pairs) == 0 {
		return pair{}, false
	}
	p := q.pairs[0]
	q.pairs = q.pairs[1:]
	return p, true
}

// refuse records a pair whose spending a 503 refused, to be tried again
// once the outage is over.
func (q *queue) refuse(p pair) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.refused == nil {
		q.refused = map[pair]bool{}
	}
	q.refused[p] = true
}

// outageRig is one latch serve process on a private PostgreSQL and a
// private Redis, with users and sessions to drive traffic.
type outageRig struct {
	t      *testing.T
	pg     *privatePostgres
	redis  *redistest.Server
	latch  *latchProcess
	log    *lockedBuffer
	c      *client
	signup atomic.Int64
	// revoked was logged out before any outage: never accepted again.
	revoked pair
	// refresh is rotated by the refresh operation; me serves the read-only
	// authenticated endpoints; frank's password flips on each change.
	refresh, me        *tokens
	refreshing         sync.Mutex // one refresh of the chain in flight
	frank              *tokens
	frankPW            [2]string
	frankUnsure        bool // a change was answered 503: it may have been stored
	frankMu            sync.Mutex
	logouts, blacklist *queue
	erin               *tokens // logout-all
}

func newOutageRig(t *testing.T) *outageRig {
	t.Helper()
	if testing.Short() {
		t.Skip("starts its own PostgreSQL and Redis")
	}
	r := &outageRig{t: t, pg: startPrivatePostgres(t), redis: redistest.Start(t), log: &lockedBuffer{}}
	r.latch = startLatchLogged(t, map[string]string{
		"LATCH_DATABASE_URL":      r.pg.url(),
		"LATCH_REDIS_URL":         r.redis.URL(),
		"LATCH_SIGNING_KEY":       randomSecret(),
		"LATCH_THROTTLE_ANON":     "1000000/min", // the throttles run (on Redis) but never refuse
		"LATCH_THROTTLE_USER":     "1000000/hour",
		"LATCH_COOKIE_SECURE":     "false",
		"LATCH_ARGON2_MEMORY":     "64",
		"LATCH_ARGON2_ITERATIONS": "1",
	}, r.log)
	r.c = &client{base: r.latch.URL, http: &http.Client{Timeout: 20 * time.Second}}
	for _, u := range []string{"alice", "dave", "erin", "frank"} {
		if a := r.c.post("signup", "/api/signup/", map[string]any{"username": u, "password": testPassword}); a.status != 201 {
			t.Fatalf("signup %s: %v", u, a)
		}
	}
	r.revoked = r.login("alice")
	if a := r.c.post("logout", "/api/logout/", map[string]any{"refresh": r.revoked.refresh}, bearer(r.revoked.access)...); a.status != 205 {
		t.Fatalf("logout: %v", a)
	}
	tk := func(p pair) *tokens { return &tokens{access: p.access, refresh: p.refresh} }
	r.refresh, r.me, r.erin, r.frank = tk(r.login("alice")), tk(r.login("alice")), tk(r.login("erin")), tk(r.login("frank"))
	r.frankPW = [2]string{testPassword, testPassword + " 2"}
	r.logouts, r.blacklist = &queue{}, &queue{}
	for range 40 {
		r.logouts.pairs = append(r.logouts.pairs, r.login("dave"))
		r.blacklist.pairs = append(r.blacklist.pairs, r.login("dave"))
	}
	// Seed the orders and the user cache, as a running service has them.
	access, _ := r.me.get()
	if a := r.c.call("orders", "GET", "/api/orders/", "", "", bearer(access)...); a.status != 200 {
		t.Fatalf("orders: %v", a)
	}
	return r
}

func (r *outageRig) login(user string) pair {
	r.t.Helper()
	return r.loginWith(user, testPassword)
}

func (r *outageRig) loginWith(user, password string) pair {
	r.t.Helper()
	a := r.c.post("login", "/api/token/", map[string]any{"username": user, "password": password})
	if a.status != 200 {
		r.t.Fatalf("login %s: %v", user, a)
	}
	return pair{a.field("access"), a.field("refresh")}
}

// loginOp logs alice in.
func (r *outageRig) loginOp() answer {
	return r.c.post("login", "/api/token/", map[string]any{"username": "alice", "password": testPassword})
}

// refreshOp refreshes r.refresh, keeping the rotated tokens. The chain is
// one client's: while a worker's refresh is unanswered the others skip it
// (status -1), as a client does not present a token it is still refreshing.
// Otherwise a worker held up by the outage would present a token two
// rotations old once PostgreSQL is back, which latch rightly takes for a
// stolen one and answers by revoking the family.
func (r *outageRig) refreshOp() answer {
	if !r.refreshing.TryLock() {
		return answer{op: "refresh", status: -1}
	}
	defer r.refreshing.Unlock()
	_, refresh := r.refresh.get()
	a := r.c.post("refresh", "/api/token/refresh/", map[string]any{"refresh": refresh})
	if a.status == 200 {
		r.refresh.set(a.field("access"), a.field("refresh"))
	}
	return a
}

// ops are the requests of the traffic, each judged by check.
func (r *outageRig) ops() []func() answer {
	c := r.c
	return []func() answer{
		r.loginOp,
		func() answer {
			return c.post("cookie login", "/api/cookie/login/", map[string]any{"username": "alice", "password": testPassword})
		},
		r.refreshOp,
		func() answer {
			access, _ := r.me.get()
			return c.post("verify", "/api/token/verify/", map[string]any{"token": access})
		},
		func() answer {
			access, _ := r.me.get()
			return c.call("me", "GET", "/api/me/", "", "", bearer(access)...)
		},
		func() answer {
			access, _ := r.me.get()
			return c.call("sessions", "GET", "/api/sessions/", "", "", bearer(access)...)
		},
		func() answer {
			access, _ := r.me.get()
			return c.call("check", "GET", "/api/auth/check/", "", "", bearer(access)...)
		},
		func() answer {
			access, _ := r.me.get()
			return c.call("orders", "GET", "/api/orders/", "", "", bearer(access)...)
		},
		func() answer {
			return c.post("signup", "/api/signup/", map[string]any{"username": fmt.Sprintf("user%d", r.signup.Add(1)), "password": testPassword})
		},
		func() answer {
			p, ok := r.logouts.take()
			if !ok {
				return answer{op: "logout", status: -1}
			}
			a := c.post("logout", "/api/logout/", map[string]any{"refresh": p.refresh}, bearer(p.access)...)
			if a.status == 503 {
				r.logouts.refuse(p)
			}
			return a
		},
		func() answer {
			p, ok := r.blacklist.take()
			if !ok {
				return answer{op: "blacklist", status: -1}
			}
			a := c.post("blacklist", "/api/token/blacklist/", map[string]any{"refresh": p.refresh})
			if a.status == 503 {
				r.blacklist.refuse(p)
			}
			return a
		},
		func() answer {
			access, _ := r.erin.get()
			return c.post("logout-all", "/api/logout/all/", nil, bearer(access)...)
		},
		func() answer {
			r.frankMu.Lock()
			defer r.frankMu.Unlock()
			access, _ := r.frank.get()
			a := c.post("password", "/api/password/", map[string]any{"old_password": r.frankPW[0], "new_password": r.frankPW[1]}, bearer(access)...)
			switch {
			case a.status == 204:
				r.frankPW[0], r.frankPW[1] = r.frankPW[1], r.frankPW[0]
				r.frankUnsure = false
			case a.status == 503:
				// The change is one transaction, but the outage may have
				// cut the connection after its commit and before the answer.
				r.frankUnsure = true
			case a.status == 400 && r.frankUnsure && strings.Contains(a.body, `"old_password"`):
				// It had been stored: the old password is rightly wrong
				// now, as a client that got the 503 learns by trying again.
				r.frankPW[0], r.frankPW[1] = r.frankPW[1], r.frankPW[0]
				r.frankUnsure = false
				return answer{op: "password", status: -1}
			}
			return a
		},
		// The session revoked before the outage, on every path that
		// could accept it.
		func() answer {
			return c.call("me (revoked)", "GET", "/api/me/", "", "", bearer(r.revoked.access)...)
		},
		func() answer {
			return c.call("check (revoked)", "GET", "/api/auth/check/", "", "", bearer(r.revoked.access)...)
		},
		func() answer {
			return c.post("verify (revoked)", "/api/token/verify/", map[string]any{"token": r.revoked.access})
		},
		func() answer {
			return c.post("refresh (revoked)", "/api/token/refresh/", map[string]any{"refresh": r.revoked.refresh})
		},
	}
}

// check fails the test for an answer no client should get in an outage:
// a 500, a transport error, a 4xx that blames the request, a 503 without
// JSON or Retry-After, or a revoked token accepted.
func (r *outageRig) check(a answer) {
	r.t.Helper()
	switch {
	case a.status == -1: // nothing left to spend
	case strings.HasSuffix(a.op, "(revoked)"):
		// verify answers a blacklisted token 400, as SimpleJWT.
		if a.status < 400 || (a.status != 401 && a.status != 400 && !a.unavailable()) {
			r.t.Errorf("revoked token: %v, want 401 (or 503 JSON with Retry-After)", a)
		}
	case a.status == 503:
		if !a.unavailable() {
			r.t.Errorf("%v: a 503 needs a JSON detail and Retry-After", a)
		}
	case a.status >= 200 && a.status < 300, a.status == 401:
	default:
		r.t.Errorf("%v, want 2xx, 401 or 503", a)
	}
}

// traffic runs ops round-robin from workers goroutines until stop is
// closed and returns every answer.
func (r *outageRig) traffic(workers int, stop <-chan struct{}) []answer {
	ops := r.ops()
	var mu sync.Mutex
	var all []answer
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				a := ops[i%len(ops)]()
				mu.Lock()
				all = append(all, a)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return all
}

// logLines returns the lines latch logged after offset, and the new offset.
func (r *outageRig) logLines(offset int) ([]string, int) {
	s := r.log.String()
	var lines []string
	for _, l := range strings.Split(s[offset:], "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return lines, len(s)
}

// TestPostgresOutage stops PostgreSQL for 5 s under traffic: no request
// gets a 500 or a 4xx that blames it, every refused one is 503 JSON with
// Retry-After, the token revoked before the outage is never accepted,
// repeated failures are logged about once a second, and once PostgreSQL
// is back everything works again without restarting latch — including
// the logouts the outage refused.
func TestPostgresOutage(t *testing.T) {
	r := newOutageRig(t)
	_, offset := r.logLines(0)

	stop := make(chan struct{})
	answers := make(chan []answer)
	go func() { answers <- r.traffic(3, stop) }()
	time.Sleep(200 * time.Millisecond)
	r.pg.stop()
	down := time.Now()
	time.Sleep(5 * time.Second)
	r.pg.start()
	outage := time.Since(down)
	time.Sleep(time.Second)
	close(stop)
	all := <-answers

	byOp := map[string]map[int]int{}
	for _, a := range all {
		r.check(a)
		if byOp[a.op] == nil {
			byOp[a.op] = map[int]int{}
		}
		byOp[a.op][a.status]++
	}
	t.Logf("%d answers over %v of outage; statuses by operation: %v", len(all), outage.Round(time.Millisecond), byOp)
	for _, op := range []string{"login", "signup", "refresh", "sessions", "logout"} {
		if byOp[op][503] == 0 {
			t.Errorf("%s never got a 503: did the outage happen? %v", op, byOp[op])
		}
	}

	lines, _ := r.logLines(offset)
	perMsg := map[string]int{}
	for _, l := range lines {
		perMsg[logMsg(l)]++
	}
	t.Logf("latch logged %d lines during the outage: %v", len(lines), perMsg)
	limit := int(outage/time.Second) + 3 // once a second, and the edges
	for msg, n := range perMsg {
		if n > limit {
			t.Errorf("logged %q %d times in %v, want at most once a second (%d)", msg, n, outage.Round(time.Millisecond), limit)
		}
	}

	// Recovery, without a restart.
	eventually(t, 15*time.Second, "login works again", func() bool {
		return r.c.post("login", "/api/token/", map[string]any{"username": "alice", "password": testPassword}).status == 200
	})
	// Logout-all and password changes that succeeded revoked their
	// callers' tokens (as they should): log in again.
	r.erin.set(r.login("erin").access, "")
	if r.frankUnsure {
		// The last change was answered 503: which password frank has is
		// for a login to tell.
		if a := r.c.post("login", "/api/token/", map[string]any{"username": "frank", "password": r.frankPW[1]}); a.status == 200 {
			r.frankPW[0], r.frankPW[1] = r.frankPW[1], r.frankPW[0]
		}
		r.frankUnsure = false
	}
	r.frank.set(r.loginWith("frank", r.frankPW[0]).access, "")
	for _, op := range r.ops() {
		a := op()
		r.check(a)
		switch {
		case strings.HasSuffix(a.op, "(revoked)"), a.status == -1:
		case a.status < 200 || a.status > 299:
			t.Errorf("after the outage: %v, want 2xx", a)
		}
	}
	// A logout the outage refused was not recorded: the client retries it,
	// and then the session is over.
	if len(r.logouts.refused) == 0 || len(r.blacklist.refused) == 0 {
		t.Errorf("%d logouts and %d blacklists refused: want some of each", len(r.logouts.refused), len(r.blacklist.refused))
	}
	for p := range r.blacklist.refused {
		if a := r.c.post("blacklist", "/api/token/blacklist/", map[string]any{"refresh": p.refresh}); a.status != 200 {
			t.Errorf("blacklist retried after the outage: %v, want 200", a)
		}
		if a := r.c.post("refresh", "/api/token/refresh/", map[string]any{"refresh": p.refresh}); a.status != 401 {
			t.Errorf("refresh token after the retried blacklist: %v, want 401", a)
		}
	}
	for p := range r.logouts.refused {
		if a := r.c.post("logout", "/api/logout/", map[string]any{"refresh": p.refresh}, bearer(p.access)...); a.status != 205 {
			t.Errorf("logout retried after the outage: %v, want 205", a)
		}
		if a := r.c.call("me", "GET", "/api/me/", "", "", bearer(p.access)...); a.status != 401 {
			t.Errorf("access token after the retried logout: %v, want 401", a)
		}
	}
}

// logMsg is the msg of a slog text line (the line itself otherwise).
func logMsg(line string) string {
	_, rest, ok := strings.Cut(line, " msg=")
	if !ok {
		return line
	}
	if strings.HasPrefix(rest, `"`) {
		if end := strings.Index(rest[1:], `"`); end >= 0 {
			return rest[1 : end+1]
		}
	}
	msg, _, _ := strings.Cut(rest, " ")
	return msg
}

// latencies are the durations of one operation's answers.
type latencies []time.Duration

func (l latencies) quantile(q float64) time.Duration {
	s := slices.Clone(l)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// TestRedisOutage stops Redis under traffic: requests are answered within
// 50 ms of their usual latency (the circuit breaker stops trying Redis),
// a revocation made meanwhile takes effect and the token revoked before is
// never accepted, and once Redis is back latch uses it again by itself.
func TestRedisOutage(t *testing.T) {
	r := newOutageRig(t)
	c := r.c
	access, _ := r.me.get()
	timed := []func() answer{
		r.loginOp,
		r.refreshOp,
		func() answer { return c.call("me", "GET", "/api/me/", "", "", bearer(access)...) },
		func() answer { return c.call("orders", "GET", "/api/orders/", "", "", bearer(access)...) },
		func() answer { return c.post("verify", "/api/token/verify/", map[string]any{"token": access}) },
		func() answer { return c.call("sessions", "GET", "/api/sessions/", "", "", bearer(access)...) },
	}
	// measure runs every operation rounds times, interleaved, and returns
	// the latencies by operation; every answer must be a success.
	measure := func(phase string, rounds int) map[string]latencies {
		t.Helper()
		out := map[string]latencies{}
		for range rounds {
			for _, op := range timed {
				a := op()
				if a.status != 200 {
					t.Fatalf("%s: %v, want 200", phase, a)
				}
				out[a.op] = append(out[a.op], a.took)
			}
		}
		return out
	}
	const rounds = 30
	measure("warm-up", 5)
	before := measure("Redis up", rounds)

	r.redis.Stop()
	during := measure("Redis down", rounds)
	for _, op := range timed {
		name := op().op
		b, d := before[name], during[name]
		t.Logf("%-8s Redis up: p50 %6v p90 %6v max %6v | Redis down: p50 %6v p90 %6v max %6v (first %v)", name,
			b.quantile(.5).Round(10*time.Microsecond), b.quantile(.9).Round(10*time.Microsecond), b.quantile(1).Round(10*time.Microsecond),
			d.quantile(.5).Round(10*time.Microsecond), d.quantile(.9).Round(10*time.Microsecond), d.quantile(1).Round(10*time.Microsecond), d[0].Round(10*time.Microsecond))
		const slack = 50 * time.Millisecond
		if got, want := d.quantile(.5), b.quantile(.5)+slack; got > want {
			t.Errorf("%s with Redis down: median %v, want within 50ms of %v", name, got, b.quantile(.5))
		}
		if got, want := d.quantile(.9), b.quantile(.9)+slack; got > want {
			t.Errorf("%s with Redis down: p90 %v, want within 50ms of %v", name, got, b.quantile(.9))
		}
		// The first requests after Redis went away are the ones that used
		// to wait for its dial retries (seconds).
		if got, want := d[0], b.quantile(1)+slack; got > want {
			t.Errorf("%s with Redis down: first request took %v, want within 50ms of the slowest with Redis up (%v)", name, got, b.quantile(1))
		}
	}

	// Revocations still work: through the database.
	p := r.login("alice")
	if a := c.post("logout", "/api/logout/", map[string]any{"refresh": p.refresh}, bearer(p.access)...); a.status != 205 {
		t.Fatalf("logout with Redis down: %v, want 205", a)
	}
	for _, tok := range []string{p.access, r.revoked.access} {
		if a := c.call("me", "GET", "/api/me/", "", "", bearer(tok)...); a.status != 401 {
			t.Fatalf("revoked token with Redis down: %v, want 401", a)
		}
	}

	r.redis.Start() // empty
	eventually(t, 15*time.Second, "latch ready again (revocation index synced through Redis)", func() bool {
		return c.call("readyz", "GET", "/readyz", "", "", nil...).status == 200
	})
	for _, tok := range []string{p.access, r.revoked.access} {
		if a := c.call("me", "GET", "/api/me/", "", "", bearer(tok)...); a.status != 401 {
			t.Fatalf("revoked token after Redis came back: %v, want 401", a)
		}
	}
	// The session cache is in Redis again: the second call is a hit.
	eventually(t, 5*time.Second, "orders cached in Redis again", func() bool {
		a := c.call("orders", "GET", "/api/orders/", "", "", bearer(access)...)
		return a.status == 200 && bytes.Contains([]byte(a.body), []byte(`"cached":true`))
	})
	measure("Redis back", 3)
}

// TestRedisLog: go-redis's own lines join the structured log; failures to
// reach Redis as outages (folded to one a second), anything else as is.
func TestRedisLog(t *testing.T) {
	var buf bytes.Buffer
	l := redisLog{slog.New(slog.NewJSONHandler(&buf, nil))}
	l.Printf(context.Background(), "redis: %s:%d: failed to dial after %d attempts: %v", "pool.go", 770, 1, errors.New("connection refused"))
	l.Printf(context.Background(), "redis: client cache: %s", "disabled")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	for i, want := range []string{`"err":"redis unavailable: redis: pool.go:770: failed to dial after 1 attempts: connection refused"`, `"detail":"redis: client cache: disabled"`} {
		if !strings.Contains(lines[i], `"msg":"redis client"`) || !strings.Contains(lines[i], want) {
			t.Errorf("line %d: %s, want %s", i, lines[i], want)
		}
	}
}
