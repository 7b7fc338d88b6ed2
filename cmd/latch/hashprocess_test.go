package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary be the "latch hash-worker" process that
// newApp starts with LATCH_HASH_PROCESS=on: it runs os.Executable().
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
	before := workerPids(t)
	ts := newTestServer(t, map[string]string{"LATCH_HASH_PROCESS": "on"})
	workers := newPids(workerPids(t), before)
	if len(workers) != 1 {
		t.Fatalf("%d hash-worker processes started, want 1", len(workers))
	}

	wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": "alice", "password": testPassword, "email": "alice@example.com"}), http.StatusCreated, "")
	wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": "wrong " + testPassword}), http.StatusUnauthorized, "")
	wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": "nobody", "password": testPassword}), http.StatusUnauthorized, "")
	mine := ts.mustLogin("alice")
	wantResponse(t, ts.postJSON("/api/password/", map[string]any{"old_password": testPassword, "new_password": "a much better secret"}, bearer(mine.access)...), http.StatusNoContent, "")
	wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": "a much better secret"}), http.StatusOK, "")

	if err := syscall.Kill(workers[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": "a much better secret"})
		if r.status == http.StatusOK {
			break
		}
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Fatalf("login while the hash worker is gone: %d %s, want 200 or 503 with Retry-After", r.status, r.body)
		}
		if time.Now().After(deadline) {
			t.Fatal("no hash worker again within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := newPids(workerPids(t), before); len(got) != 1 || got[0] == workers[0] {
		t.Fatalf("hash workers after the first died: %v (first %d)", got, workers[0])
	}
}

// workerPids lists the hash-worker child processes of this process.
func workerPids(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	self := strconv.Itoa(os.Getpid())
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
		if fields[0] == "Z" || fields[1] != self { // state, ppid
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if args := strings.Split(string(cmdline), "\x00"); len(args) > 1 && args[1] == "hash-worker" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// newPids is the pids of now that are not in before.
func newPids(now, before []int) []int {
	var fresh []int
	for _, p := range now {
		seen := false
		for _, b := range before {
			seen = seen || b == p
		}
		if !seen {
			fresh = append(fresh, p)
		}
	}
	return fresh
}
