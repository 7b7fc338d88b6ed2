package main

import (
	"database/sql"
	"path/filepath"
	"testing"
)

// TestPasswordChangeFailsWhole makes the database refuse the last write
// of a password change and of a password reset (a trigger on the
// sessions' revocation) and checks that the request changed nothing a
// client could not retry: the old password, the other sessions and the
// reset link all still work, and the same request succeeds once the
// database lets it.
func TestPasswordChangeFailsWhole(t *testing.T) {
	env, mp := mailEnv(t, nil)
	dir := t.TempDir()
	env["LATCH_DATA_DIR"] = dir
	ts := newTestServer(t, env)
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "latch.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	failRevocations := func(on bool) {
		t.Helper()
		q := `DROP TRIGGER fail_revoke`
		if on {
			q = `CREATE TRIGGER fail_revoke BEFORE UPDATE OF revoked_at ON sessions BEGIN SELECT RAISE(ABORT, 'injected failure'); END`
		}
		if _, err := raw.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	const newPW = "a brand new passphrase"
	username, email := ts.newMailUser("whole")
	mine, other := ts.mustLogin(username), ts.mustLogin(username)
	change := map[string]any{"old_password": testPassword, "new_password": newPW}

	failRevocations(true)
	if r := ts.postJSON("/api/password/", change, bearer(mine.access)...); r.status < 500 {
		t.Fatalf("password change through a failing database: %d %s, want 5xx", r.status, r.body)
	}
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(other.access)...), 200, "")
	ts.mustLogin(username) // the old password
	failRevocations(false)
	wantResponse(t, ts.postJSON("/api/password/", change, bearer(mine.access)...), 204, "")
	if r := ts.do("GET", "/api/me/", "", "", bearer(other.access)...); r.status != 401 {
		t.Errorf("the other session after the change: %d %s, want 401", r.status, r.body)
	}

	wantResponse(t, ts.postJSON("/api/password/reset/", map[string]any{"email": email}), 200, "")
	_, uid, token := resetLink(t, mp, email, 1)
	confirm := map[string]any{"uid": uid, "token": token, "new_password1": "yet another passphrase", "new_password2": "yet another passphrase"}
	failRevocations(true)
	if r := ts.postJSON("/api/password/reset/confirm/", confirm); r.status < 500 {
		t.Fatalf("password reset through a failing database: %d %s, want 5xx", r.status, r.body)
	}
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(mine.access)...), 200, "")
	failRevocations(false)
	wantResponse(t, ts.postJSON("/api/password/reset/confirm/", confirm), 200, `{"detail":"Password has been reset with the new password."}`)
	if r := ts.do("GET", "/api/me/", "", "", bearer(mine.access)...); r.status != 401 {
		t.Errorf("the session after the reset: %d %s, want 401", r.status, r.body)
	}
}
