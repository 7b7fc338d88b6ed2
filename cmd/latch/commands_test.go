package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/server"
	"github.com/latch-auth/latch/token"
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
	// A login trims the password, as SimpleJWT: one with white space
	// around it could never log in.
	for _, spaced := range []string{" a long enough secret\n", "a long enough secret \n", "a long enough secret\t\r\n"} {
		if code, _, errOut := runCommand(t, env, spaced, "createuser", "spacey"); code == 0 || !strings.Contains(errOut, "white space") {
			t.Errorf("createuser with %q: %d %s", spaced, code, errOut)
		}
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
	// The password rules hold here as on signup and change.
	if code, _, errOut := runCommand(t, map[string]string{"LATCH_DATA_DIR": dir, "LATCH_PASSWORD": "x"}, "", "changepassword", "alice"); code == 0 || !strings.Contains(errOut, "too short") {
		t.Fatalf("changepassword to a weak password: %d %q", code, errOut)
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

	r = loginWith("another fine secret")
	c := pair{r.str(t, "access"), r.str(t, "refresh")}
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(c.access)...), 200, "") // the user is cached now
	ok("", "deactivate", "ａｌｉｃｅ")                                                   // NFKC-normalized, as at login
	wantResponse(t, loginWith("another fine secret"), 401, bodyBadCredentials)
	// The running server learns it from the database's log, and words it
	// as SimpleJWT does: its cached record of alice is dropped with it.
	eventually(t, 5*time.Second, "the server names the deactivated user", func() bool {
		return ts.do("GET", "/api/me/", "", "", bearer(c.access)...).body == `{"detail":"User is inactive","code":"user_inactive"}`
	})

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

// TestCreateUserAdmin: latch createuser --admin makes a user of the admin
// role (LATCH_ADMIN_ROLE) who may use the admin API; a contradicting
// --role is an error, not quietly overridden. Under mandatory email
// verification a user without an address could never log in: createuser
// refuses one, and so does the admin API.
func TestCreateUserAdmin(t *testing.T) {
	dir := t.TempDir()
	base := map[string]string{"LATCH_DATA_DIR": dir, "LATCH_ARGON2_MEMORY": "64", "LATCH_ARGON2_ITERATIONS": "1", "LATCH_LOG_LEVEL": "error"}
	with := func(extra ...string) map[string]string {
		env := maps.Clone(base)
		for i := 0; i+1 < len(extra); i += 2 {
			env[extra[i]] = extra[i+1]
		}
		return env
	}
	mandatory := with("LATCH_EMAIL_VERIFICATION", "mandatory")
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string // "" for success
		role    string
	}{
		{"admin", base, []string{"root", "--admin"}, "", "admin"},
		{"admin and the same role", base, []string{"root2", "--admin", "--role", "admin"}, "", "admin"},
		{"admin and another role", base, []string{"eve", "--admin", "--role", "staff"}, "contradicts --role staff", ""},
		{"another role before admin", base, []string{"eve", "--role=user", "--admin"}, "contradicts --role user", ""},
		{"LATCH_ADMIN_ROLE", with("LATCH_ADMIN_ROLE", "superuser"), []string{"boss", "--admin"}, "", "superuser"},
		{"role", base, []string{"sam", "--role", "staff"}, "", "staff"},
		{"mandatory, no email", mandatory, []string{"nomail", "--admin"}, "give --email", ""},
		{"mandatory, email", mandatory, []string{"mailed", "--admin", "--email", "mailed@example.com"}, "", "admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCommand(t, tt.env, testPassword+"\n", append([]string{"createuser"}, tt.args...)...)
			if tt.wantErr != "" {
				if code == 0 || !strings.Contains(errOut, tt.wantErr) {
					t.Fatalf("latch createuser %v: exit %d, stderr %q; want an error saying %q", tt.args, code, errOut, tt.wantErr)
				}
				return
			}
			if code != 0 || !strings.Contains(out, "role "+tt.role+")") {
				t.Fatalf("latch createuser %v: exit %d, %q %q; want role %s", tt.args, code, out, errOut, tt.role)
			}
		})
	}
	// Nothing was created by a refused command.
	ts := newTestServer(t, map[string]string{"LATCH_DATA_DIR": dir, "LATCH_SIGNING_KEY": "", "LATCH_EMAIL_VERIFICATION": "mandatory"})
	for _, name := range []string{"eve", "nomail"} {
		if _, err := ts.app.Store().UserByUsername(t.Context(), name); err == nil {
			t.Errorf("user %s was created", name)
		}
	}
	// The admin logs in under mandatory verification (the address is
	// the operator's word) and uses the admin API.
	admin := ts.mustLogin("mailed")
	as := bearer(admin.access)
	wantResponse(t, ts.do("GET", "/api/admin/users/?search=root", "", "", as...), 200, "")
	wantResponse(t, ts.postJSON("/api/admin/users/", map[string]any{"username": "bob", "password": testPassword}, as...), 400,
		`{"email":["This field is required."]}`)
	wantResponse(t, ts.postJSON("/api/admin/users/", map[string]any{"username": "bob", "password": testPassword, "email": "bob@example.com", "email_verified": true}, as...), 201, "")
	ts.mustLogin("bob")
}

// TestKeysRotateKeepsTheAlgorithm: `latch keys rotate` makes a key of the
// algorithm of the one it replaces. The default LATCH_ALGORITHM (HS256)
// must not turn an ES256 deployment into an HS256 one, whose secret would
// then verify tokens beside the public keys; naming another algorithm
// changes it, and says so.
func TestKeysRotateKeepsTheAlgorithm(t *testing.T) {
	dir := t.TempDir()
	run := func(env map[string]string, args ...string) string {
		t.Helper()
		env["LATCH_DATA_DIR"] = dir
		code, out, errOut := runCommand(t, env, "", args...)
		if code != 0 {
			t.Fatalf("latch %v: %d %s", args, code, errOut)
		}
		return out
	}
	run(map[string]string{"LATCH_ALGORITHM": "ES256"}, "keys", "rotate") // creates the ES256 set, then rotates it
	if out := run(map[string]string{}, "keys", "rotate"); !strings.Contains(out, "next signing key ES256") || strings.Contains(out, "algorithm changes") {
		t.Errorf("keys rotate with the default algorithm: %q", out)
	}
	if out := run(map[string]string{}, "keys", "list"); strings.Contains(out, "HS256") {
		t.Errorf("keys list: an HS256 key in an ES256 set:\n%s", out)
	}
	out := run(map[string]string{"LATCH_ALGORITHM": "EdDSA"}, "keys", "rotate")
	if !strings.Contains(out, "next signing key EdDSA") || !strings.Contains(out, "the algorithm changes from ES256 to EdDSA") {
		t.Errorf("keys rotate to EdDSA: %q", out)
	}
}

// TestIdleTimeoutShorterThanAccessWarns: an idle timeout under the access
// token lifetime logs clients out who only use their access token (a
// session is used when it is refreshed); latch serve says so at start, as
// it does for an HMAC secret shorter than 32 bytes.
func TestIdleTimeoutShorterThanAccessWarns(t *testing.T) {
	for _, tt := range []struct {
		idle string
		warn bool
	}{{"5m", true}, {"1h", false}} {
		var log lockedBuffer
		startLatchLogged(t, map[string]string{"LATCH_SESSION_IDLE_TIMEOUT": tt.idle, "LATCH_ACCESS_TOKEN_LIFETIME": "15m",
			"LATCH_SIGNING_KEY": "short secret"}, &log)
		eventually(t, 5*time.Second, "the short-key warning", func() bool { return strings.Contains(log.String(), "shorter than 32 bytes, the size of HS256's hash") })
		warned := func() bool {
			return strings.Contains(log.String(), "idle timeout is shorter than the access token lifetime")
		}
		if tt.warn {
			eventually(t, 5*time.Second, "the warning", warned) // stderr arrives through a copying goroutine
		} else if time.Sleep(200 * time.Millisecond); warned() {
			t.Errorf("idle %s: warned; log:\n%s", tt.idle, log.String())
		}
	}
}

// A rotated public key is published in the JWKS before it signs: a
// resource server that cached the JWKS (max-age 300) knows it by the time
// it meets a token it signed. latch keys rotate stages it; the next start
// publishes it and signs with it KeyPublishDelay later, without a restart.
func TestKeysRotatePublishesBeforeSigning(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"LATCH_DATA_DIR": dir, "LATCH_ALGORITHM": "ES256", "LATCH_SIGNING_KEY": ""}
	if code, _, errOut := runCommand(t, env, "", "keys", "list"); code == 0 {
		t.Fatalf("keys list without a key set: %s", errOut)
	}
	code, out, errOut := runCommand(t, env, "", "keys", "rotate")
	if code != 0 || !strings.Contains(out, "next signing key ES256") {
		t.Fatalf("keys rotate: %d %s %s", code, out, errOut)
	}
	set, err := token.LoadKeySet(filepath.Join(dir, "keys.json"))
	if err != nil || set.Next == nil {
		t.Fatalf("key set after rotate: %v %v", set, err)
	}
	current, next := set.Signing.ID, set.Next.ID

	ts := newTestServer(t, env)
	ts.mustUser("alice")
	kid := func(raw string) string {
		t.Helper()
		h, _, _ := strings.Cut(raw, ".")
		b, err := base64.RawURLEncoding.DecodeString(h)
		var hdr struct{ Kid string }
		if err != nil || json.Unmarshal(b, &hdr) != nil {
			t.Fatalf("token header %q", h)
		}
		return hdr.Kid
	}
	jwks := ts.do("GET", "/.well-known/jwks.json", "", "")
	if !strings.Contains(jwks.body, current) || !strings.Contains(jwks.body, next) {
		t.Fatalf("JWKS lacks the current or the next key: %s", jwks.body)
	}
	before := ts.mustLogin("alice")
	if got := kid(before.access); got != current {
		t.Fatalf("signed by %s before the delay, want the current key %s", got, current)
	}
	if out := mustRun(t, env, "keys", "list"); !strings.Contains(out, "next          ES256 "+next+" (published, signing from ") {
		t.Fatalf("keys list while published: %q", out)
	}

	ts.clock.Advance(server.KeyPublishDelay)
	after := ts.mustLogin("alice")
	if got := kid(after.access); got != next {
		t.Fatalf("signed by %s after the delay, want the next key %s", got, next)
	}
	for _, p := range []pair{before, after} {
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(p.access)...), 200, "")
	}
	r := ts.postJSON("/api/token/refresh/", map[string]any{"refresh": before.refresh})
	wantResponse(t, r, 200, "")
	if got := kid(r.str(t, "access")); got != next {
		t.Fatalf("refresh signed by %s, want %s", got, next)
	}
}

// mustRun runs a command that must succeed and returns its output.
func mustRun(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	code, out, errOut := runCommand(t, env, "", args...)
	if code != 0 {
		t.Fatalf("latch %v: %d %s", args, code, errOut)
	}
	return out
}
