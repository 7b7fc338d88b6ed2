package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runCommand runs latch in-process with env and stdin.
func runCommand(t *testing.T, env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run(context.Background(), args, Env{
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errOut,
		Getenv: func(k string) string { return env[k] },
	})
	return code, out.String(), errOut.String()
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"LATCH_DATA_DIR": dir, "LATCH_ARGON2_MEMORY": "64", "LATCH_ARGON2_ITERATIONS": "1", "LATCH_LOG_LEVEL": "error"}
	ok := func(stdin string, args ...string) string {
		t.Helper()
		code, out, errOut := runCommand(t, env, stdin, args...)
		if code != 0 {
			t.Fatalf("latch %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	if out := ok("", "migrate"); !strings.Contains(out, "migrations applied") {
		t.Errorf("migrate: %q", out)
	}
	if out := ok("a long enough secret\n", "createuser", "alice", "--email", "a@example.com", "--role", "admin"); !strings.Contains(out, `created user "alice"`) {
		t.Errorf("createuser: %q", out)
	}
	if code, _, errOut := runCommand(t, env, "short\n", "createuser", "bob"); code == 0 || !strings.Contains(errOut, "too short") {
		t.Errorf("weak password accepted: %d %q", code, errOut)
	}
	// Commands sign no token: they leave the data dir without a key file.
	if _, err := os.Stat(filepath.Join(dir, "keys.json")); err == nil {
		t.Fatal("createuser wrote a key file")
	}

	// Sessions opened by a server on the same data dir, which generates the key.
	ts := newTestServer(t, map[string]string{"LATCH_DATA_DIR": dir, "LATCH_SIGNING_KEY": ""})
	info, err := os.Stat(filepath.Join(dir, "keys.json"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("generated key file: %v; want mode 0600", err)
	}
	loginWith := func(pw string) response {
		return ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": pw})
	}
	r := loginWith("a long enough secret")
	wantResponse(t, r, 200, "")
	if c, err := ts.app.Tokens().Parse(r.str(t, "access"), "access"); err != nil || c.Extra["role"] != "admin" {
		t.Fatalf("role claim: %v %v", c, err)
	}
	a := pair{r.str(t, "access"), r.str(t, "refresh")}

	ok("", "revoke", "--user", "alice")
	eventually(t, 5*time.Second, "server learns the revocation from the database", func() bool {
		return ts.do("GET", "/api/me/", "", "", bearer(a.access)...).status == 401
	})

	if code, _, errOut := runCommand(t, env, "", "changepassword", "alice", "--config", "/dev/null"); code == 0 || !strings.Contains(errOut, "no password") {
		t.Fatalf("changepassword without a password: %d %q", code, errOut)
	}
	if code, _, _ := runCommand(t, map[string]string{"LATCH_DATA_DIR": dir, "LATCH_PASSWORD": "another fine secret", "LATCH_ARGON2_MEMORY": "64", "LATCH_ARGON2_ITERATIONS": "1"}, "", "changepassword", "alice"); code != 0 {
		t.Fatal("changepassword with LATCH_PASSWORD failed")
	}
	wantResponse(t, loginWith("another fine secret"), 200, "")

	r = loginWith("another fine secret")
	b := pair{r.str(t, "access"), r.str(t, "refresh")}
	list, err := ts.app.Store().ActiveSessions(context.Background(), 1, ts.clock.Now())
	if err != nil || len(list) == 0 {
		t.Fatal(list, err)
	}
	for _, s := range list {
		ok("", "revoke", "--session", s.ID)
	}
	eventually(t, 5*time.Second, "session revocation reaches the server", func() bool {
		return ts.do("GET", "/api/me/", "", "", bearer(b.access)...).status == 401
	})

	ok("", "deactivate", "ａｌｉｃｅ") // NFKC-normalized, as at login
	wantResponse(t, loginWith("another fine secret"), 401, bodyBadCredentials)

	if out := ok("", "keys", "list"); !strings.Contains(out, "signing       HS256") {
		t.Errorf("keys list: %q", out)
	}
	if out := ok("", "keys", "rotate"); !strings.Contains(out, "new signing key") {
		t.Errorf("keys rotate: %q", out)
	}
	if out := ok("", "keys", "list"); !strings.Contains(out, "verification  HS256") {
		t.Errorf("keys list after rotate: %q", out)
	}
	if out := ok("", "flushexpired"); !strings.Contains(out, "deleted") {
		t.Errorf("flushexpired: %q", out)
	}
	if out := ok("", "version"); !strings.HasPrefix(out, "latch ") {
		t.Errorf("version: %q", out)
	}
	if code, out, _ := runCommand(t, env, "", "help"); code != 0 || !strings.Contains(out, "LATCH_ACCESS_TOKEN_LIFETIME") {
		t.Errorf("help lacks the settings: %d", code)
	}
	if code, _, errOut := runCommand(t, env, "", "serve", "--access-token-lifetime", "soon"); code != 2 || !strings.Contains(errOut, "not a duration") {
		t.Errorf("bad flag value: %d %q", code, errOut)
	}
	if code, _, errOut := runCommand(t, map[string]string{"LATCH_ALGORITHM": "none"}, "", "serve"); code != 2 || !strings.Contains(errOut, "algorithm") {
		t.Errorf("alg none accepted: %d %q", code, errOut)
	}
	if code, _, _ := runCommand(t, env, "", "frobnicate"); code != 2 {
		t.Errorf("unknown command exit %d, want 2", code)
	}
}

func TestIdleTimeout(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_SESSION_IDLE_TIMEOUT": "1h"})
	ts.mustUser("alice")
	p := ts.mustLogin("alice")
	ts.clock.Advance(50 * time.Minute)
	r := ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh})
	wantResponse(t, r, 200, "")
	ts.clock.Advance(61 * time.Minute)
	wantResponse(t, ts.postJSON("/api/token/refresh/", map[string]any{"refresh": r.str(t, "refresh")}), 401, bodyBlacklisted)
	wantResponse(t, ts.do("GET", "/api/sessions/", "", "", bearer(ts.mustLogin("alice").access)...), 200, "")
}
