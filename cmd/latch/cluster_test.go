package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/redistest"
	"github.com/latch-auth/latch/internal/testenv"
)

// needServices returns the PostgreSQL and Redis URLs of the test
// environment, skipping (failing under CI=true) when absent.
func needServices(t *testing.T) (pg, rd string) {
	t.Helper()
	return testenv.Getenv(t, "LATCH_TEST_POSTGRES_URL"), testenv.Getenv(t, "LATCH_TEST_REDIS_URL")
}

// buildLatch compiles the latch binary once per test binary.
var buildLatch = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "latch-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "latch")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// latchProcess is a `latch serve` child process.
type latchProcess struct {
	URL string
	cmd *exec.Cmd
}

// startLatch runs `latch serve` with env on a free loopback port and waits
// until it is ready.
func startLatch(t *testing.T, env map[string]string) *latchProcess {
	t.Helper()
	return startLatchLogged(t, env, io.Discard)
}

// startLatchLogged is startLatch with latch's log (stderr) written to w.
func startLatchLogged(t *testing.T, env map[string]string, w io.Writer) *latchProcess {
	t.Helper()
	bin, err := buildLatch()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "LATCH_ADDR=127.0.0.1:0", "LATCH_DATA_DIR="+t.TempDir(), "LATCH_LOG_LEVEL=warn")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { interrupt(cmd) })
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if _, addr, ok := strings.Cut(lines.Text(), "listening on "); ok {
			go io.Copy(io.Discard, stdout)
			p := &latchProcess{URL: strings.TrimSpace(addr), cmd: cmd}
			waitReady(t, p.URL)
			return p
		}
	}
	t.Fatal("latch serve exited before listening")
	return nil
}

// interrupt stops a child process started by a test: SIGINT, as a user's
// Ctrl-C, and SIGKILL if it has not exited 10 s later.
func interrupt(cmd *exec.Cmd) {
	cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s not ready", base)
}

func status(t *testing.T, method, url, access string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	req.Header.Set("Authorization", "Bearer "+access)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func randomSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// TestThreeInstancesShareRevocations runs three latch processes on one
// PostgreSQL and one Redis: a logout on one is refused by the other two,
// and the delay until they refuse is measured.
// clusterEnv is the environment of instances sharing a fresh schema of
// the tests' PostgreSQL and their Redis, with cheap hashing.
func clusterEnv(t *testing.T) map[string]string {
	t.Helper()
	pg, rd := needServices(t)
	return map[string]string{
		"LATCH_DATABASE_URL":      freshSchemaURL(t, pg),
		"LATCH_REDIS_URL":         rd,
		"LATCH_SIGNING_KEY":       randomSecret(),
		"LATCH_THROTTLE_ANON":     "off",
		"LATCH_THROTTLE_USER":     "off",
		"LATCH_ARGON2_MEMORY":     "64",
		"LATCH_ARGON2_ITERATIONS": "1",
	}
}

func TestThreeInstancesShareRevocations(t *testing.T) {
	env := clusterEnv(t)
	a := startLatch(t, env)
	others := []*latchProcess{startLatch(t, env), startLatch(t, env)}

	ts := &testServer{t: t, URL: a.URL}
	signup := ts.postJSON("/api/signup/", map[string]any{"username": "alice", "password": testPassword})
	wantResponse(t, signup, 201, "")

	const rounds = 40
	var delays []time.Duration
	for i := 0; i < rounds; i++ {
		p := ts.mustLogin("alice")
		for _, o := range others {
			if got := status(t, "GET", o.URL+"/api/me/", p.access); got != 200 {
				t.Fatalf("round %d: fresh token refused by %s: %d", i, o.URL, got)
			}
		}
		wantResponse(t, ts.postJSON("/api/logout/", map[string]any{"refresh": p.refresh}, bearer(p.access)...), 205, "")
		start := time.Now()
		for _, o := range others {
			for status(t, "GET", o.URL+"/api/me/", p.access) != 401 {
				if time.Since(start) > 5*time.Second {
					t.Fatalf("round %d: %s still accepts a token revoked %v ago", i, o.URL, time.Since(start))
				}
				time.Sleep(200 * time.Microsecond)
			}
		}
		delays = append(delays, time.Since(start))
	}
	slices.Sort(delays)
	p50, p99 := delays[len(delays)/2], delays[len(delays)*99/100]
	t.Logf("revocation propagation to two other instances over %d logouts: p50 %v, p99 %v, max %v", rounds, p50, p99, delays[len(delays)-1])
	// The access lifetime is 15 minutes; the bound is far below it, and
	// loose enough for a loaded 2-core CI machine.
	if p99 > time.Second {
		t.Fatalf("p99 propagation %v, want under 1s", p99)
	}
}

// TestInstancesShareUserChanges: a username changed on one instance shows
// on another well before its cached copy of the user would expire (30 s):
// the change is announced on the bus.
func TestInstancesShareUserChanges(t *testing.T) {
	env := clusterEnv(t)
	a, b := &testServer{t: t, URL: startLatch(t, env).URL}, &testServer{t: t, URL: startLatch(t, env).URL}
	wantResponse(t, a.postJSON("/api/signup/", map[string]any{"username": "alice", "password": testPassword}), 201, "")
	p := a.mustLogin("alice")
	if got := b.do("GET", "/api/me/", "", "", bearer(p.access)...).str(t, "username"); got != "alice" {
		t.Fatalf("username %q on the other instance", got)
	}
	wantResponse(t, a.do("PATCH", "/api/me/", "application/json", `{"username":"alicia"}`, bearer(p.access)...), 200, "")
	eventually(t, 2*time.Second, "the new username on the other instance", func() bool {
		return b.do("GET", "/api/me/", "", "", bearer(p.access)...).str(t, "username") == "alicia" &&
			b.do("GET", "/api/auth/check/", "", "", bearer(p.access)...).header.Get("X-Latch-Username") == "alicia"
	})
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// TestRevocationSurvivesRedisFailures: a Redis that dies, restarts empty or
// is flushed never makes a revoked token valid on an instance that missed
// the message, and revocations made while Redis is down still take effect.
func TestRevocationSurvivesRedisFailures(t *testing.T) {
	pg, _ := needServices(t)
	redis := redistest.Start(t)
	env := map[string]string{
		"LATCH_DATABASE_URL": freshSchemaURL(t, pg),
		"LATCH_REDIS_URL":    redis.URL(),
		"LATCH_SIGNING_KEY":  randomSecret(),
	}
	a, b := newTestServer(t, env), newTestServer(t, env)
	a.mustUser("alice")
	synced := func(ts *testServer) func() bool { return ts.app.Revocations().Synced }
	eventually(t, 5*time.Second, "b synced", synced(b))
	me := func(ts *testServer, p pair) int { return ts.do("GET", "/api/me/", "", "", bearer(p.access)...).status }

	before := a.mustLogin("alice") // revoked while Redis is up
	during := a.mustLogin("alice") // revoked while Redis is down
	after := a.mustLogin("alice")  // revoked after Redis restarted empty
	for _, p := range []pair{before, during, after} {
		if got := me(b, p); got != 200 {
			t.Fatalf("fresh token refused by b: %d", got)
		}
	}
	wantResponse(t, a.postJSON("/api/logout/", map[string]any{"refresh": before.refresh}, bearer(before.access)...), 205, "")
	eventually(t, time.Second, "b refuses a token revoked while Redis is up", func() bool { return me(b, before) == 401 })

	redis.Stop()
	wantResponse(t, a.postJSON("/api/logout/", map[string]any{"refresh": during.refresh}, bearer(during.access)...), 205, "")
	d := eventually(t, 5*time.Second, "b refuses a token revoked while Redis is down", func() bool { return me(b, during) == 401 })
	t.Logf("with Redis down, b refused the revoked token after %v (bus health check / database catch-up)", d)
	if got := me(b, before); got != 401 {
		t.Fatalf("with Redis down, b accepts a token it knew was revoked: %d", got)
	}
	if got := me(b, after); got != 200 {
		t.Fatalf("with Redis down, b refuses a valid token: %d (it can ask the database)", got)
	}

	redis.Start() // empty: nothing of the past is in Redis
	eventually(t, 10*time.Second, "b resubscribed and caught up", synced(b))
	for _, p := range []pair{before, during} {
		if got := me(b, p); got != 401 {
			t.Fatalf("after the Redis restart b accepts a revoked token: %d", got)
		}
	}
	wantResponse(t, a.postJSON("/api/logout/", map[string]any{"refresh": after.refresh}, bearer(after.access)...), 205, "")
	// a's publish may still fail while its breaker waits out the outage: the
	// log's catch-up bounds the delay then.
	eventually(t, catchUpBound, "b refuses a token revoked after the restart", func() bool { return me(b, after) == 401 })

	if err := b.app.Redis().FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []pair{before, during, after} {
		if got := me(b, p); got != 401 {
			t.Fatalf("after FLUSHALL b accepts a revoked token: %d", got)
		}
	}
	// A restarted instance rebuilds its index from the database.
	c := newTestServer(t, env)
	for _, p := range []pair{before, during, after} {
		if got := me(c, p); got != 401 {
			t.Fatalf("a new instance accepts a revoked token: %d", got)
		}
	}
}
