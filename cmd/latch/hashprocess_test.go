package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary be the "latch hash-worker" process that
// newApp starts with LATCH_HASH_PROCESS=on: it runs the running binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "hash-worker" {
		os.Exit(Run(context.Background(), os.Args[1:], Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}))
	}
	os.Exit(m.Run())
}

// With LATCH_HASH_PROCESS=on (latch serve's default) passwords are hashed
// by a "latch hash-worker" child: signup, login and password change work
// through it, and when it dies, logins answer 503 (never a 401 for a
// right password) until the next one starts it again.
func TestHashProcess(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_HASH_PROCESS": "on"})
	proc := ts.app.HashProcess()
	if proc == nil {
		t.Fatalf("latch hashes in process: the worker did not start; latch logged:\n%s", ts.logged.String())
	}
	first := proc.Pid()
	if first <= 0 { // never kill(0): that is the whole process group
		t.Fatalf("no hash worker running (pid %d); latch logged:\n%s", first, ts.logged.String())
	}
	// os/exec returns once the exec has begun (its close-on-exec pipe
	// closed); the kernel sets the new command line a moment later, and
	// until then /proc shows an empty one.
	var cmdline []byte
	var err error
	for start := time.Now(); len(cmdline) == 0 && err == nil && time.Since(start) < 5*time.Second; time.Sleep(time.Millisecond) {
		cmdline, err = os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", first))
	}
	if err != nil || !strings.Contains(string(cmdline), "\x00hash-worker\x00") {
		t.Fatalf("process %d is not a hash worker: %q, %v", first, cmdline, err)
	}

	wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": "alice", "password": testPassword, "email": "alice@example.com"}), http.StatusCreated, "")
	wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": "wrong " + testPassword}), http.StatusUnauthorized, "")
	wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": "nobody", "password": testPassword}), http.StatusUnauthorized, "")
	mine := ts.mustLogin("alice")
	wantResponse(t, ts.postJSON("/api/password/", map[string]any{"old_password": testPassword, "new_password": "a much better secret"}, bearer(mine.access)...), http.StatusNoContent, "")
	wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": "a much better secret"}), http.StatusOK, "")

	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		r := ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": "a much better secret"})
		if r.status == http.StatusOK {
			break
		}
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Fatalf("login while the hash worker is gone: %d %s, want 200 or 503 with Retry-After", r.status, r.body)
		}
		if time.Now().After(deadline) {
			t.Fatal("no hash worker again within a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if now := proc.Pid(); now == 0 || now == first {
		t.Fatalf("worker pid after the first died: %d (first %d)", now, first)
	}
}
