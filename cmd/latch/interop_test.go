package main

// Interoperability with the real Python libraries (SPEC §4): with the same
// HS256 key and claim names, a token latch issues is accepted by PyJWT and
// by djangorestframework-simplejwt, and tokens they mint are accepted by
// latch. The Python side lives in testdata/interop/ and runs under the
// system interpreter with the Debian packages python3-jwt, python3-django,
// python3-djangorestframework and python3-djangorestframework-simplejwt.
//
// The secret reaches the scripts through LATCH_INTEROP_SECRET, never
// through argv, and neither side prints it.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/testenv"
)

const (
	interopPython  = "/usr/bin/python3"
	interopTimeout = 30 * time.Second
	// interopRejected is the scripts' exit status for a token the library
	// refused, as opposed to a crash (1) or bad usage (2).
	interopRejected = 3
)

var (
	interopModulesPyJWT     = []string{"jwt"}
	interopModulesSimpleJWT = []string{"jwt", "django", "rest_framework", "rest_framework_simplejwt"}
	interopJTI              = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// interopRequire skips the test unless the system Python has the modules;
// in CI (CI=true) their absence fails the test instead.
func interopRequire(t *testing.T, modules ...string) {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		testenv.Missing(t, "interop (needs python3-jwt python3-django python3-djangorestframework python3-djangorestframework-simplejwt): "+format, args...)
	}
	if _, err := os.Stat(interopPython); err != nil {
		missing("%s not found: %v", interopPython, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, interopPython, "-I", "-B", "-c", "import "+strings.Join(modules, ", "))
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8"}
	if out, err := cmd.CombinedOutput(); err != nil {
		missing("%s cannot import %s: %v\n%s", interopPython, strings.Join(modules, ", "), err, out)
	}
}

// interopResult is what one run of a script gave.
type interopResult struct {
	code           int
	stdout, stderr string
}

// interopRun runs testdata/interop/<script> with args under the system
// Python, with secret in LATCH_INTEROP_SECRET, and a 30 s limit.
func interopRun(t *testing.T, secret, script string, args ...string) interopResult {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("testdata", "interop", script))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	defer cancel()
	// -I: ignore PYTHON* variables and the user's site-packages; -B: write
	// no __pycache__ into testdata.
	cmd := exec.CommandContext(ctx, interopPython, append([]string{"-I", "-B", path}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", "LATCH_INTEROP_SECRET=" + secret}
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out after %v\nstderr: %s", script, args[0], interopTimeout, stderr.String())
	}
	res := interopResult{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("%s %s: %v", script, args[0], err)
	}
	return res
}

// interopToken is a token as a Python library decoded and accepted it.
// Numbers stay json.Number so an integer user_id is told from a string.
type interopToken struct {
	Header  map[string]any `json:"header"`
	Payload map[string]any `json:"payload"`
}

// interopAccept runs script mode token and fails unless the library
// accepted the token.
func interopAccept(t *testing.T, secret, script, mode, token string) interopToken {
	t.Helper()
	r := interopRun(t, secret, script, mode, token)
	if r.code != 0 {
		t.Fatalf("%s %s refused a token it should accept: exit %d, stderr: %s", script, mode, r.code, r.stderr)
	}
	var got interopToken
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.UseNumber()
	if err := dec.Decode(&got); err != nil || got.Payload == nil {
		t.Fatalf("%s %s: output %q is not {\"header\",\"payload\"}: %v", script, mode, r.stdout, err)
	}
	return got
}

// interopReject runs script mode token and fails unless the library refused
// the token (exit 3) with an error containing wantErr.
func interopReject(t *testing.T, secret, script, mode, token, wantErr string) {
	t.Helper()
	r := interopRun(t, secret, script, mode, token)
	if r.code != interopRejected || !strings.Contains(r.stderr, wantErr) {
		t.Fatalf("%s %s: got exit %d, stderr %q, stdout %q; want exit %d with %q",
			script, mode, r.code, strings.TrimSpace(r.stderr), strings.TrimSpace(r.stdout), interopRejected, wantErr)
	}
}

// interopSyncClock moves latch's injected clock up to the wall clock that
// the Python libraries read, so that a token they minted this second does
// not look issued in the future to latch, which checks iat. Call it after
// minting in Python and before presenting the token to latch.
func interopSyncClock(ts *testServer) {
	if d := time.Since(ts.clock.Now()); d > 0 {
		ts.clock.Advance(d)
	}
}

// wantLatchClaims checks that a token latch issued, as a Python library
// decoded it, carries SimpleJWT's claims and latch's own, and nothing more.
func wantLatchClaims(t *testing.T, tok interopToken, wantType string, userID int64, lifetime time.Duration) {
	t.Helper()
	if got := tok.Header["alg"]; got != "HS256" {
		t.Errorf("header alg = %v, want HS256", got)
	}
	if got := tok.Header["typ"]; got != "JWT" {
		t.Errorf("header typ = %v, want JWT", got)
	}
	if kid, _ := tok.Header["kid"].(string); kid == "" {
		t.Errorf("header kid = %v, want a key id", tok.Header["kid"])
	}
	p := tok.Payload
	allowed := map[string]bool{"token_type": true, "exp": true, "iat": true, "jti": true, "user_id": true,
		"sid": true, "ver": true, "username": true, "role": true}
	for name := range p {
		if !allowed[name] {
			t.Errorf("unexpected claim %q = %v (no data beyond what is configured)", name, p[name])
		}
	}
	if got := p["token_type"]; got != wantType {
		t.Errorf("token_type = %v, want %q", got, wantType)
	}
	intClaim := func(name string) int64 {
		t.Helper()
		n, ok := p[name].(json.Number)
		v, err := n.Int64()
		if !ok || err != nil {
			t.Errorf("%s = %#v, want an integer", name, p[name])
		}
		return v
	}
	exp, iat := intClaim("exp"), intClaim("iat")
	if got := time.Duration(exp-iat) * time.Second; got != lifetime {
		t.Errorf("exp - iat = %v, want %v", got, lifetime)
	}
	if got := intClaim("user_id"); got != userID {
		t.Errorf("user_id = %d, want %d", got, userID)
	}
	if jti, _ := p["jti"].(string); !interopJTI.MatchString(jti) {
		t.Errorf("jti = %#v, want 32 lowercase hex digits", p["jti"])
	}
	if sid, _ := p["sid"].(string); sid == "" {
		t.Errorf("sid = %#v, want the session id", p["sid"])
	}
	if got := p["username"]; got != "alice" {
		t.Errorf("username = %#v, want \"alice\"", got)
	}
	if got := p["role"]; got != "user" {
		t.Errorf("role = %#v, want \"user\"", got)
	}
}

// interopMeBody is /api/me/ for a user made by mustUser("alice").
func interopMeBody(id int64) string {
	return fmt.Sprintf(`{"id":%d,"username":"alice","role":"user","email":"alice@example.com"}`, id)
}

const (
	interopAccessLifetime  = 15 * time.Minute    // LATCH_ACCESS_TOKEN_LIFETIME default
	interopRefreshLifetime = 14 * 24 * time.Hour // LATCH_REFRESH_TOKEN_LIFETIME default
)

// TestInteropPyJWT: latch's tokens verify with jwt.decode(token, secret,
// algorithms=["HS256"]) and carry SimpleJWT's claims; tokens jwt.encode
// mints (no kid) are accepted by latch, a refresh token included, which
// latch adopts into a session with rotation and reuse detection.
func TestInteropPyJWT(t *testing.T) {
	t.Parallel()
	interopRequire(t, interopModulesPyJWT...)
	const script = "pyjwt.py"
	ts := newTestServer(t, nil)
	id := ts.mustUser("alice")
	p := ts.mustLogin("alice")
	other := newTestServer(t, nil) // same setup, another secret
	other.mustUser("alice")
	op := other.mustLogin("alice")

	t.Run("PyJWT decodes latch tokens", func(t *testing.T) {
		for _, tt := range []struct {
			name, token, wantType string
			lifetime              time.Duration
		}{
			{"access", p.access, "access", interopAccessLifetime},
			{"refresh", p.refresh, "refresh", interopRefreshLifetime},
		} {
			t.Run(tt.name, func(t *testing.T) {
				wantLatchClaims(t, interopAccept(t, ts.secret, script, "decode", tt.token), tt.wantType, id, tt.lifetime)
			})
		}
	})

	t.Run("PyJWT refuses", func(t *testing.T) {
		for _, tt := range []struct{ name, token, wantErr string }{
			{"latch token signed with another secret", op.access, "InvalidSignatureError"},
			{"tampered payload", tamper(p.access, 1), "InvalidSignatureError"},
			{"tampered signature", tamper(p.refresh, 2), "InvalidSignatureError"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				interopReject(t, ts.secret, script, "decode", tt.token, tt.wantErr)
			})
		}
	})

	t.Run("latch accepts a PyJWT access token", func(t *testing.T) {
		r := interopRun(t, ts.secret, script, "encode", "access", strconv.FormatInt(id, 10), "300")
		if r.code != 0 {
			t.Fatalf("encode: exit %d, stderr: %s", r.code, r.stderr)
		}
		access := strings.TrimSpace(r.stdout)
		interopSyncClock(ts)
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(access)...), 200, interopMeBody(id))
		wantResponse(t, ts.postJSON("/api/token/verify/", map[string]any{"token": access}), 200, `{}`)
		// And it is still an access token, never a refresh token.
		wantResponse(t, ts.postJSON("/api/token/refresh/", map[string]any{"refresh": access}), 401, bodyWrongType)
	})

	t.Run("latch adopts a PyJWT refresh token", func(t *testing.T) {
		r := interopRun(t, ts.secret, script, "encode", "refresh", strconv.FormatInt(id, 10), "86400")
		if r.code != 0 {
			t.Fatalf("encode: exit %d, stderr: %s", r.code, r.stderr)
		}
		refresh := strings.TrimSpace(r.stdout)
		interopSyncClock(ts)
		wantResponse(t, ts.postJSON("/api/token/verify/", map[string]any{"token": refresh}), 200, `{}`)
		res := ts.postJSON("/api/token/refresh/", map[string]any{"refresh": refresh})
		wantResponse(t, res, 200, "")
		next := pair{res.str(t, "access"), res.str(t, "refresh")}
		if next.refresh == refresh {
			t.Fatal("rotation returned the PyJWT refresh token itself")
		}
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(next.access)...), 200, interopMeBody(id))
		// The successor is a latch token of the adopted session, with a sid.
		dec := interopAccept(t, ts.secret, script, "decode", next.access)
		wantLatchClaims(t, dec, "access", id, interopAccessLifetime)

		// Spent after the grace interval: reuse kills the adopted session.
		ts.clock.Advance(11 * time.Second)
		wantResponse(t, ts.postJSON("/api/token/refresh/", map[string]any{"refresh": refresh}), 401, bodyBlacklisted)
		wantResponse(t, ts.postJSON("/api/token/refresh/", map[string]any{"refresh": next.refresh}), 401, bodyBlacklisted)
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(next.access)...), 401, bodyAccessInvalid("Token is blacklisted"))
	})
}

// TestInteropSimpleJWT: SimpleJWT's own AccessToken and RefreshToken accept
// latch's tokens (kid header, sid/ver/username/role claims and all) and
// refuse them under another key; a pair minted by RefreshToken.for_user
// works against latch's /api/me/, verify and refresh.
func TestInteropSimpleJWT(t *testing.T) {
	t.Parallel()
	interopRequire(t, interopModulesSimpleJWT...)
	const script = "simplejwt.py"
	ts := newTestServer(t, nil)
	id := ts.mustUser("alice")

	if r := interopRun(t, ts.secret, script, "versions"); r.code != 0 {
		t.Fatalf("versions: exit %d, stderr: %s", r.code, r.stderr)
	} else {
		t.Logf("interop against %s", strings.TrimSpace(r.stdout))
	}

	p := ts.mustLogin("alice")
	res := ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh})
	wantResponse(t, res, 200, "")
	rotated := pair{res.str(t, "access"), res.str(t, "refresh")}
	other := newTestServer(t, nil) // same setup, another secret
	other.mustUser("alice")
	op := other.mustLogin("alice")

	t.Run("SimpleJWT accepts latch tokens", func(t *testing.T) {
		for _, tt := range []struct {
			name, mode, token, wantType string
			lifetime                    time.Duration
		}{
			{"login access", "verify-access", p.access, "access", interopAccessLifetime},
			{"login refresh", "verify-refresh", p.refresh, "refresh", interopRefreshLifetime},
			{"rotated access", "verify-access", rotated.access, "access", interopAccessLifetime},
			{"rotated refresh", "verify-refresh", rotated.refresh, "refresh", interopRefreshLifetime},
		} {
			t.Run(tt.name, func(t *testing.T) {
				wantLatchClaims(t, interopAccept(t, ts.secret, script, tt.mode, tt.token), tt.wantType, id, tt.lifetime)
			})
		}
	})

	t.Run("SimpleJWT refuses", func(t *testing.T) {
		for _, tt := range []struct{ name, mode, token, wantErr string }{
			{"access signed with another secret", "verify-access", op.access, "Token is invalid or expired"},
			{"refresh signed with another secret", "verify-refresh", op.refresh, "Token is invalid or expired"},
			{"tampered payload", "verify-access", tamper(p.access, 1), "Token is invalid or expired"},
			{"tampered signature", "verify-refresh", tamper(p.refresh, 2), "Token is invalid or expired"},
			{"refresh as access", "verify-access", p.refresh, "Token has wrong type"},
			{"access as refresh", "verify-refresh", p.access, "Token has wrong type"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				interopReject(t, ts.secret, script, tt.mode, tt.token, tt.wantErr)
			})
		}
	})

	t.Run("latch accepts a SimpleJWT pair", func(t *testing.T) {
		r := interopRun(t, ts.secret, script, "mint", strconv.FormatInt(id, 10))
		if r.code != 0 {
			t.Fatalf("mint: exit %d, stderr: %s", r.code, r.stderr)
		}
		var minted struct{ Access, Refresh string }
		if err := json.Unmarshal([]byte(r.stdout), &minted); err != nil || minted.Access == "" || minted.Refresh == "" {
			t.Fatalf("mint: output %q is not {\"access\",\"refresh\"}: %v", r.stdout, err)
		}
		interopSyncClock(ts)
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(minted.Access)...), 200, interopMeBody(id))
		wantResponse(t, ts.postJSON("/api/token/verify/", map[string]any{"token": minted.Access}), 200, `{}`)
		wantResponse(t, ts.postJSON("/api/token/verify/", map[string]any{"token": minted.Refresh}), 200, `{}`)
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(minted.Refresh)...), 401, bodyAccessInvalid("Token has wrong type"))

		res := ts.postJSON("/api/token/refresh/", map[string]any{"refresh": minted.Refresh})
		wantResponse(t, res, 200, "")
		next := pair{res.str(t, "access"), res.str(t, "refresh")}
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(next.access)...), 200, interopMeBody(id))
		// Round trip: what latch hands back for SimpleJWT's refresh token is
		// again accepted by SimpleJWT.
		wantLatchClaims(t, interopAccept(t, ts.secret, script, "verify-access", next.access), "access", id, interopAccessLifetime)
		wantLatchClaims(t, interopAccept(t, ts.secret, script, "verify-refresh", next.refresh), "refresh", id, interopRefreshLifetime)
	})
}
