package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/mailpittest"
)

// mailEnv points latch at the shared mailpit.
func mailEnv(t *testing.T, extra map[string]string) (map[string]string, *mailpittest.Server) {
	t.Helper()
	mp := mailpittest.Shared(t)
	env := map[string]string{"LATCH_SMTP_URL": "smtp://latch:secret@" + mp.SMTP, "LATCH_MAIL_FROM": "latch <noreply@latch.test>"}
	for k, v := range extra {
		env[k] = v
	}
	return env, mp
}

// uniqueAddress is an address no other test (or run against the shared
// mailpit) uses.
func uniqueAddress(name string) string {
	return name + "-" + strings.ToLower(rand.Text()[:10]) + "@example.com"
}

var (
	resetLinkRE  = regexp.MustCompile(`https?://[^\s"<>]+/reset/([A-Za-z0-9_-]+)/([A-Za-z0-9]+)/`)
	verifyLinkRE = regexp.MustCompile(`https?://[^\s"<>]+/verify-email/([A-Za-z0-9]+)/`)
)

// resetLink waits for the reset mail to address and returns its uid and token.
func resetLink(t *testing.T, mp *mailpittest.Server, address string, n int) (link, uid, token string) {
	t.Helper()
	msgs := mp.Wait(address, n, 15*time.Second)
	m := resetLinkRE.FindStringSubmatch(msgs[n-1].Text)
	if m == nil {
		t.Fatalf("no reset link in the mail (subject %q)", msgs[n-1].Subject)
	}
	return m[0], m[1], m[2]
}

func verifyKey(t *testing.T, text string) string {
	t.Helper()
	m := verifyLinkRE.FindStringSubmatch(text)
	if m == nil {
		t.Fatal("no verification link in the mail")
	}
	return m[1]
}

// newMailUser creates a user with a fresh address and returns its name and address.
func (ts *testServer) newMailUser(name string) (string, string) {
	ts.t.Helper()
	email := uniqueAddress(name)
	r := ts.postJSON("/api/signup/", map[string]any{"username": strings.Split(email, "@")[0], "password": testPassword, "email": email})
	if r.status != 201 {
		ts.t.Fatalf("signup: %d %s", r.status, r.body)
	}
	return strings.Split(email, "@")[0], email
}

func TestPasswordReset(t *testing.T) {
	env, mp := mailEnv(t, nil)
	onEachBackend(t, env, func(t *testing.T, ts *testServer) {
		username, email := ts.newMailUser("reset")
		old := ts.postJSON("/api/token/", map[string]any{"username": username, "password": testPassword})
		access, refresh := old.str(t, "access"), old.str(t, "refresh")

		// Letter case does not matter, as for login.
		wantResponse(t, ts.postJSON("/api/password/reset/", map[string]any{"email": strings.ToUpper(email)}), 200,
			`{"detail":"Password reset e-mail has been sent."}`)
		link, uid, token := resetLink(t, mp, email, 1)
		if !strings.HasPrefix(link, ts.URL+"/reset/") {
			t.Errorf("link %q is not on latch's own page at %s", link, ts.URL)
		}
		const newPW = "a brand new passphrase"
		confirm := func(uid, token, p1, p2 string) response {
			return ts.postJSON("/api/password/reset/confirm/", map[string]any{"uid": uid, "token": token, "new_password1": p1, "new_password2": p2})
		}
		for _, tt := range []struct {
			name, uid, token, p1, p2 string
			status                   int
			body                     string
		}{
			{"missing fields", "", "", "", "", 400, `{"new_password1":["This field may not be blank."],"new_password2":["This field may not be blank."],"uid":["This field may not be blank."],"token":["This field may not be blank."]}`},
			{"bad uid", "!!", token, newPW, newPW, 400, `{"uid":["Invalid value"]}`},
			{"unknown uid", "OTk5OTk", token, newPW, newPW, 400, `{"uid":["Invalid value"]}`},
			{"mismatch", uid, token, newPW, newPW + "x", 400, `{"new_password2":["The two password fields didn’t match."]}`},
			{"weak", uid, token, "12345678", "12345678", 400, `{"new_password2":["This password is too common.","This password is entirely numeric."]}`},
			{"bad token", uid, token + "x", newPW, newPW, 400, `{"token":["Invalid value"]}`},
			// dj-rest-auth checks the token before the passwords: a dead
			// link says so whatever passwords come with it.
			{"bad token, mismatch", uid, token + "x", newPW, newPW + "x", 400, `{"token":["Invalid value"]}`},
			{"bad token, weak", uid, token + "x", "12345678", "12345678", 400, `{"token":["Invalid value"]}`},
			{"bad uid, bad token, mismatch", "!!", token + "x", newPW, newPW + "x", 400, `{"uid":["Invalid value"]}`},
		} {
			t.Run(tt.name, func(t *testing.T) { wantResponse(t, confirm(tt.uid, tt.token, tt.p1, tt.p2), tt.status, tt.body) })
		}
		wantResponse(t, confirm(uid, token, newPW, newPW), 200, `{"detail":"Password has been reset with the new password."}`)

		// Every session is gone: access and refresh tokens alike.
		if r := ts.do("GET", "/api/me/", "", "", bearer(access)...); r.status != 401 {
			t.Errorf("old access token after reset: %d %s", r.status, r.body)
		}
		if r := ts.postJSON("/api/token/refresh/", map[string]any{"refresh": refresh}); r.status != 401 {
			t.Errorf("old refresh token after reset: %d %s", r.status, r.body)
		}
		if r := ts.postJSON("/api/token/", map[string]any{"username": username, "password": testPassword}); r.status != 401 {
			t.Errorf("old password after reset: %d", r.status)
		}
		if r := ts.postJSON("/api/token/", map[string]any{"username": username, "password": newPW}); r.status != 200 {
			t.Errorf("new password: %d %s", r.status, r.body)
		}
		// Single use.
		wantResponse(t, confirm(uid, token, "another fine passphrase", "another fine passphrase"), 400, `{"token":["Invalid value"]}`)

		// Expiry (LATCH_PASSWORD_RESET_TIMEOUT, default 1h).
		ts.postJSON("/api/password/reset/", map[string]any{"email": email})
		_, uid, token = resetLink(t, mp, email, 2)
		ts.clock.Advance(time.Hour + time.Second)
		wantResponse(t, confirm(uid, token, "another fine passphrase", "another fine passphrase"), 400, `{"token":["Invalid value"]}`)

		// Of concurrent confirmations with one link, one resets.
		ts.postJSON("/api/password/reset/", map[string]any{"email": email})
		_, uid, token = resetLink(t, mp, email, 3)
		answers := make([]response, 4)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Go(func() {
				pw := fmt.Sprintf("concurrent passphrase %d", i)
				answers[i] = confirm(uid, token, pw, pw)
			})
		}
		wg.Wait()
		won := -1
		for i, r := range answers {
			switch {
			case r.status == 200 && won < 0:
				won = i
			case r.status != 400 || r.body != `{"token":["Invalid value"]}`:
				t.Errorf("concurrent confirmation %d: %d %s, want one 200 and the others 400 for the token", i, r.status, r.body)
			}
		}
		if won < 0 {
			t.Fatal("no concurrent confirmation reset the password")
		}
		if r := ts.postJSON("/api/token/", map[string]any{"username": username, "password": fmt.Sprintf("concurrent passphrase %d", won)}); r.status != 200 {
			t.Errorf("the winning confirmation's password: %d %s", r.status, r.body)
		}
	})
}

// TestPasswordResetNoEnumeration: an unknown address gets the same
// answer in about the same time as a known one.
func TestPasswordResetNoEnumeration(t *testing.T) {
	env, _ := mailEnv(t, nil)
	ts := newTestServer(t, env)
	const n = 25
	var known []string
	for range n {
		_, email := ts.newMailUser("enum")
		known = append(known, email)
	}
	median := func(ds []time.Duration) time.Duration { slices.Sort(ds); return ds[len(ds)/2] }
	// A timing difference that tells addresses apart shows in every
	// attempt; a burst of load from the tests running alongside (the
	// packages run in parallel) in one, so three attempts are allowed.
	var ratio float64
	for attempt := 1; attempt <= 3; attempt++ {
		var tKnown, tUnknown []time.Duration
		for i := range 2 * n {
			email := uniqueAddress("nobody")
			if i%2 == 0 {
				email = known[i/2]
			}
			start := time.Now()
			r := ts.postJSON("/api/password/reset/", map[string]any{"email": email})
			d := time.Since(start)
			wantResponse(t, r, 200, `{"detail":"Password reset e-mail has been sent."}`)
			if i%2 == 0 {
				tKnown = append(tKnown, d)
			} else {
				tUnknown = append(tUnknown, d)
			}
		}
		k, u := median(tKnown), median(tUnknown)
		ratio = float64(max(k, u)) / float64(min(k, u))
		t.Logf("attempt %d: median time known %v, unknown %v: ratio %.2f", attempt, k, u, ratio)
		if ratio <= 1.5 {
			break
		}
	}
	if ratio > 1.5 {
		t.Errorf("median time of known and unknown addresses differ by %.2fx in every attempt, want at most 1.5x", ratio)
	}
	ts.app.Auth().Drain()
}

// TestPasswordResetDuringSMTPOutage: the reset is requested while the SMTP
// server is down; once it is back the mail arrives, once.
func TestPasswordResetDuringSMTPOutage(t *testing.T) {
	mp := mailpittest.Start(t, mailpittest.Options{})
	ts := newTestServer(t, map[string]string{"LATCH_SMTP_URL": "smtp://" + mp.SMTP})
	_, email := ts.newMailUser("outage")
	mp.Stop()
	wantResponse(t, ts.postJSON("/api/password/reset/", map[string]any{"email": email}), 200,
		`{"detail":"Password reset e-mail has been sent."}`)
	time.Sleep(1500 * time.Millisecond) // failed attempts meanwhile
	mp.Restart()
	_, uid, token := resetLink(t, mp, email, 1)
	time.Sleep(1500 * time.Millisecond)
	if msgs, _ := mp.Messages(t.Context(), email); len(msgs) != 1 {
		t.Errorf("%d reset mails arrived, want exactly 1", len(msgs))
	}
	wantResponse(t, ts.postJSON("/api/password/reset/confirm/", map[string]any{"uid": uid, "token": token,
		"new_password1": "after the outage ok", "new_password2": "after the outage ok"}), 200,
		`{"detail":"Password has been reset with the new password."}`)
}

func TestEmailVerificationMandatory(t *testing.T) {
	env, mp := mailEnv(t, map[string]string{"LATCH_EMAIL_VERIFICATION": "mandatory"})
	onEachBackend(t, env, func(t *testing.T, ts *testServer) {
		wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": "nomail", "password": testPassword}), 400,
			`{"email":["This field is required."]}`)
		username, email := ts.newMailUser("verify")
		login := func() response {
			return ts.postJSON("/api/token/", map[string]any{"username": username, "password": testPassword})
		}
		wantResponse(t, login(), 400, `{"non_field_errors":["E-mail is not verified."]}`)
		wantResponse(t, ts.postForm("/api/cookie/login/", url.Values{"username": {username}, "password": {testPassword}}), 400,
			`{"non_field_errors":["E-mail is not verified."]}`)
		// A wrong password is still a wrong password.
		wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": username, "password": "wrong password here"}), 401,
			`{"detail":"No active account found with the given credentials"}`)
		msgs := mp.Wait(email, 1, 15*time.Second)
		if msgs[0].Subject != "Confirm your e-mail address" {
			t.Errorf("subject %q", msgs[0].Subject)
		}
		key := verifyKey(t, msgs[0].Text)

		wantResponse(t, ts.postJSON("/api/signup/resend-email/", map[string]any{"email": uniqueAddress("unknown")}), 200, `{"detail":"ok"}`)
		wantResponse(t, ts.postJSON("/api/signup/resend-email/", map[string]any{"email": email}), 200, `{"detail":"ok"}`)
		first := key
		key = verifyKey(t, mp.Wait(email, 2, 15*time.Second)[1].Text)
		if key == first {
			t.Error("the resent mail has the same key")
		}
		wantResponse(t, ts.postJSON("/api/signup/verify-email/", map[string]any{"key": key + "x"}), 404, `{"detail":"Not found."}`)
		// The resent key replaced the first.
		wantResponse(t, ts.postJSON("/api/signup/verify-email/", map[string]any{"key": first}), 404, `{"detail":"Not found."}`)
		wantResponse(t, ts.postJSON("/api/signup/verify-email/", map[string]any{"key": key}), 200, `{"detail":"ok"}`)
		wantResponse(t, ts.postJSON("/api/signup/verify-email/", map[string]any{"key": key}), 404, `{"detail":"Not found."}`)
		if r := login(); r.status != 200 {
			t.Errorf("login after verification: %d %s", r.status, r.body)
		}
		// Verified: a resend sends nothing more.
		wantResponse(t, ts.postJSON("/api/signup/resend-email/", map[string]any{"email": email}), 200, `{"detail":"ok"}`)
		ts.app.Auth().Drain()
		time.Sleep(500 * time.Millisecond)
		if got, _ := mp.Messages(t.Context(), email); len(got) != 2 {
			t.Errorf("%d mails after a resend to a verified address, want 2", len(got))
		}
	})
}

func TestEmailChange(t *testing.T) {
	env, mp := mailEnv(t, map[string]string{"LATCH_EMAIL_VERIFICATION": "optional"})
	onEachBackend(t, env, func(t *testing.T, ts *testServer) {
		username, email := ts.newMailUser("change")
		mp.Wait(email, 1, 15*time.Second) // the signup's verification mail
		access := ts.postJSON("/api/token/", map[string]any{"username": username, "password": testPassword}).str(t, "access")
		newEmail := uniqueAddress("changed")
		patch := func(body string) response {
			return ts.do("PATCH", "/api/me/", "application/json", body, bearer(access)...)
		}
		r := patch(`{"email":"` + newEmail + `","username":"` + username + `2"}`)
		if r.status != 200 || r.json(t)["email"] != email || r.json(t)["username"] != username+"2" {
			t.Fatalf("PATCH /api/me/: %d %s; want the new username and the old address", r.status, r.body)
		}
		wantResponse(t, patch(`{"email":"not an address"}`), 400, `{"email":["Enter a valid email address."]}`)
		msgs := mp.Wait(newEmail, 1, 15*time.Second)
		if msgs[0].Subject != "Confirm your new e-mail address" {
			t.Errorf("subject %q", msgs[0].Subject)
		}
		if got, _ := mp.Messages(t.Context(), email); len(got) != 1 {
			t.Errorf("the old address got %d mails, want only its verification", len(got))
		}
		wantResponse(t, ts.postJSON("/api/signup/verify-email/", map[string]any{"key": verifyKey(t, msgs[0].Text)}), 200, `{"detail":"ok"}`)
		if r := ts.do("GET", "/api/me/", "", "", bearer(access)...); r.json(t)["email"] != newEmail {
			t.Errorf("after confirming: %s, want email %s", r.body, newEmail)
		}
		// Login with the new address works under LATCH_LOGIN_FIELD=username_email
		// elsewhere; here the old address is free again.
		_, other := ts.newMailUser("taker")
		wantResponse(t, patch(`{"email":"`+strings.ToUpper(other)+`"}`), 400, `{"email":["A user is already registered with this e-mail address."]}`)
	})
}

// TestResetPage: latch's own reset page works as a plain HTML form.
func TestResetPage(t *testing.T) {
	env, mp := mailEnv(t, nil)
	ts := newTestServer(t, env)
	username, email := ts.newMailUser("page")
	ts.postJSON("/api/password/reset/", map[string]any{"email": email})
	link, uid, token := resetLink(t, mp, email, 1)
	path := strings.TrimPrefix(link, ts.URL)
	// A dead link says so before a password is typed, as Django's
	// PasswordResetConfirmView does: no form.
	deadPage := func(t *testing.T, path string) {
		t.Helper()
		r := ts.do("GET", path, "", "")
		if r.status != 400 || !strings.Contains(r.body, "invalid or has expired") || strings.Contains(r.body, "<form") || strings.Contains(r.body, token) {
			t.Errorf("GET %s: %d %s; want 400, the link invalid, no form", path, r.status, r.body)
		}
	}
	for _, p := range []string{"/reset/" + uid + "/" + token + "x/", "/reset/OTk5OTk/" + token + "/", "/reset/" + uid + "/short/"} {
		deadPage(t, p)
	}
	for range 2 { // looking spends nothing
		r := ts.do("GET", path, "", "")
		if r.status != 200 || !strings.Contains(r.body, `<form method="post">`) || !strings.Contains(r.body, `name="new_password2"`) {
			t.Fatalf("GET reset page: %d %s", r.status, r.body)
		}
	}
	r := ts.do("GET", path, "", "")
	if r.header.Get("Referrer-Policy") != "no-referrer" || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("reset page headers: %v", r.header)
	}
	const pw = "set on the page itself"
	form := url.Values{"new_password1": {pw}, "new_password2": {pw}}.Encode()
	if r := ts.do("POST", path, "application/x-www-form-urlencoded", form, "Sec-Fetch-Site", "cross-site"); r.status != 403 {
		t.Errorf("cross-site POST: %d", r.status)
	}
	r = ts.do("POST", path, "application/x-www-form-urlencoded", url.Values{"new_password1": {pw}, "new_password2": {"other"}}.Encode(), "Sec-Fetch-Site", "same-origin")
	if r.status != 400 || !strings.Contains(r.body, "The two password fields didn’t match.") {
		t.Errorf("mismatch on the page: %d %s", r.status, r.body)
	}
	r = ts.do("POST", path, "application/x-www-form-urlencoded", form, "Sec-Fetch-Site", "same-origin")
	if r.status != 200 || !strings.Contains(r.body, "Your password has been reset") {
		t.Fatalf("POST reset page: %d %s", r.status, r.body)
	}
	if r := ts.postJSON("/api/token/", map[string]any{"username": username, "password": pw}); r.status != 200 {
		t.Errorf("login with the password set on the page: %d", r.status)
	}
	r = ts.do("POST", path, "application/x-www-form-urlencoded", form, "Sec-Fetch-Site", "same-origin")
	if r.status != 400 || !strings.Contains(r.body, "invalid or has expired") || strings.Contains(r.body, "<form") {
		t.Errorf("the page's link used twice: %d %s; want the link invalid and no form", r.status, r.body)
	}
	deadPage(t, path)
}

// TestOutboxFiles: with no SMTP server (the embedded default) reset and
// verification mail lands in DATA_DIR/outbox/ as .eml files.
func TestOutboxFiles(t *testing.T) {
	dir := t.TempDir()
	ts := newTestServer(t, map[string]string{"LATCH_DATA_DIR": dir, "LATCH_EMAIL_VERIFICATION": "optional", "LATCH_LOG_LEVEL": "debug"})
	username, email := ts.newMailUser("files")
	key := verifyKey(t, readEML(t, dir, 1)[0])
	wantResponse(t, ts.postJSON("/api/signup/verify-email/", map[string]any{"key": key}), 200, `{"detail":"ok"}`)

	ts.postJSON("/api/password/reset/", map[string]any{"email": email})
	texts := readEML(t, dir, 2)
	var m []string
	for _, text := range texts {
		if m = resetLinkRE.FindStringSubmatch(text); m != nil {
			break
		}
	}
	if m == nil {
		t.Fatal("no reset link in the outbox files")
	}
	wantResponse(t, ts.postJSON("/api/password/reset/confirm/", map[string]any{"uid": m[1], "token": m[2],
		"new_password1": "from the eml file", "new_password2": "from the eml file"}), 200,
		`{"detail":"Password has been reset with the new password."}`)
	if r := ts.postJSON("/api/token/", map[string]any{"username": username, "password": "from the eml file"}); r.status != 200 {
		t.Errorf("login: %d", r.status)
	}

	// The log names each .eml file, and holds no key, token or link
	// (debug level: failed requests are logged too).
	wantResponse(t, ts.postJSON("/api/signup/verify-email/", map[string]any{"key": key}), 404, "")
	ts.do("DELETE", "/reset/"+m[1]+"/"+m[2]+"/", "", "")
	files, _ := filepath.Glob(filepath.Join(dir, "outbox", "*.eml"))
	logged := ts.logged.String()
	for _, f := range files {
		if !strings.Contains(logged, "file="+f) {
			t.Errorf("the log does not name %s:\n%s", f, logged)
		}
	}
	for name, secret := range map[string]string{"verification key": key, "reset token": m[2], "reset link": "/reset/" + m[1] + "/"} {
		if strings.Contains(logged, secret) {
			t.Errorf("the log holds the %s:\n%s", name, logged)
		}
	}
}

// readEML waits for n .eml files in dir/outbox and returns their text parts.
func readEML(t *testing.T, dir string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var files []string
	for {
		files, _ = filepath.Glob(filepath.Join(dir, "outbox", "*.eml"))
		if len(files) >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(files) < n {
		t.Fatalf("%d .eml files in the outbox, want %d", len(files), n)
	}
	slices.Sort(files)
	var texts []string
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", f, err, fi.Mode().Perm())
		}
		b, _ := os.ReadFile(f)
		msg, err := mail.ReadMessage(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
		if err != nil {
			t.Fatal(err)
		}
		part, err := multipart.NewReader(msg.Body, params["boundary"]).NextPart()
		if err != nil {
			t.Fatal(err)
		}
		text, _ := io.ReadAll(quotedprintable.NewReader(part))
		texts = append(texts, string(text))
	}
	return texts
}

// TestResetLinkDiesWithCredentialChange: a reset link mailed before the
// password is changed or set, the address changes or the user is
// deactivated no longer works, as Django's token generator invalidates
// its links when the password or the account changes.
func TestResetLinkDiesWithCredentialChange(t *testing.T) {
	env, mp := mailEnv(t, nil)
	dir := t.TempDir()
	env["LATCH_DATA_DIR"] = dir // latch changepassword works on the same SQLite file
	ts := newTestServer(t, env)
	_, admin := ts.mustRole("root", "admin")
	const newPW = "a brand new passphrase"
	type account struct {
		id              int64
		username, email string
		access          string
	}
	adminPatch := func(t *testing.T, a account, body string) {
		t.Helper()
		wantResponse(t, ts.patchJSON(fmt.Sprintf("/api/admin/users/%d/", a.id), body, bearer(admin.access)...), 200, "")
	}
	tests := []struct {
		name   string
		change func(t *testing.T, a account)
	}{
		{"password change", func(t *testing.T, a account) {
			wantResponse(t, ts.postJSON("/api/password/", map[string]any{"old_password": testPassword, "new_password": newPW}, bearer(a.access)...), 204, "")
		}},
		{"admin sets the password", func(t *testing.T, a account) { adminPatch(t, a, `{"password":"`+newPW+`"}`) }},
		{"admin changes the email", func(t *testing.T, a account) { adminPatch(t, a, `{"email":"`+uniqueAddress("admin-set")+`"}`) }},
		{"admin deactivates", func(t *testing.T, a account) { adminPatch(t, a, `{"is_active":false}`) }},
		{"email change confirmed", func(t *testing.T, a account) {
			to := uniqueAddress("moved")
			wantResponse(t, ts.patchJSON("/api/me/", `{"email":"`+to+`"}`, bearer(a.access)...), 200, "")
			key := verifyKey(t, mp.Wait(to, 1, 15*time.Second)[0].Text)
			wantResponse(t, ts.postJSON("/api/signup/verify-email/", map[string]any{"key": key}), 200, `{"detail":"ok"}`)
		}},
		{"email removed", func(t *testing.T, a account) {
			wantResponse(t, ts.patchJSON("/api/me/", `{"email":""}`, bearer(a.access)...), 200, "")
		}},
		{"latch changepassword", func(t *testing.T, a account) {
			cmdEnv := map[string]string{"LATCH_DATA_DIR": dir, "LATCH_PASSWORD": newPW, "LATCH_LOG_LEVEL": "error"}
			maps.Copy(cmdEnv, fastHashing)
			if code, _, errOut := runCommand(t, cmdEnv, "", "changepassword", a.username); code != 0 {
				t.Fatalf("latch changepassword: %d %s", code, errOut)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			username, email := ts.newMailUser("dies")
			u, err := ts.app.Store().UserByEmail(t.Context(), email)
			if err != nil {
				t.Fatal(err)
			}
			a := account{u.ID, username, email, ts.mustLogin(username).access}
			wantResponse(t, ts.postJSON("/api/password/reset/", map[string]any{"email": email}), 200, "")
			_, uid, token := resetLink(t, mp, email, 1)
			tt.change(t, a)
			wantResponse(t, ts.postJSON("/api/password/reset/confirm/", map[string]any{"uid": uid, "token": token,
				"new_password1": "yet another passphrase", "new_password2": "yet another passphrase"}), 400, `{"token":["Invalid value"]}`)
		})
	}
	// A change of username is none of these: the link still works.
	t.Run("username change", func(t *testing.T) {
		username, email := ts.newMailUser("stays")
		wantResponse(t, ts.postJSON("/api/password/reset/", map[string]any{"email": email}), 200, "")
		_, uid, token := resetLink(t, mp, email, 1)
		wantResponse(t, ts.patchJSON("/api/me/", `{"username":"`+username+`x"}`, bearer(ts.mustLogin(username).access)...), 200, "")
		wantResponse(t, ts.postJSON("/api/password/reset/confirm/", map[string]any{"uid": uid, "token": token,
			"new_password1": newPW, "new_password2": newPW}), 200, `{"detail":"Password has been reset with the new password."}`)
	})
}

// TestEmailKeySuperseded: only the key of a user's latest verification
// or change mail works. An older one, mailed to an address the user has
// moved on from (or that someone with a session once asked for), cannot
// make that address theirs.
func TestEmailKeySuperseded(t *testing.T) {
	env, mp := mailEnv(t, map[string]string{"LATCH_EMAIL_VERIFICATION": "optional"})
	onEachBackend(t, env, func(t *testing.T, ts *testServer) {
		username, email := ts.newMailUser("keys")
		signupKey := verifyKey(t, mp.Wait(email, 1, 15*time.Second)[0].Text)
		access := ts.mustLogin(username).access
		me := func() map[string]any {
			t.Helper()
			return ts.do("GET", "/api/me/", "", "", bearer(access)...).json(t)
		}
		wantEmail := func(want string) {
			t.Helper()
			if got := me()["email"]; got != want {
				t.Fatalf("email %v, want %s", got, want)
			}
		}
		change := func(to string) string {
			t.Helper()
			wantResponse(t, ts.patchJSON("/api/me/", `{"email":"`+to+`"}`, bearer(access)...), 200, "")
			return verifyKey(t, mp.Wait(to, 1, 15*time.Second)[0].Text)
		}
		verify := func(key string) response {
			return ts.postJSON("/api/signup/verify-email/", map[string]any{"key": key})
		}
		const notFound = `{"detail":"Not found."}`

		firstKey := change(uniqueAddress("first"))
		secondTo := uniqueAddress("second")
		secondKey := change(secondTo)
		wantResponse(t, verify(firstKey), 404, notFound)
		wantResponse(t, verify(signupKey), 404, notFound)
		wantEmail(email)

		// A new mail for the current address drops the pending change.
		wantResponse(t, ts.postJSON("/api/signup/resend-email/", map[string]any{"email": email}), 200, `{"detail":"ok"}`)
		resent := verifyKey(t, mp.Wait(email, 2, 15*time.Second)[1].Text)
		wantResponse(t, verify(secondKey), 404, notFound)
		wantEmail(email)
		wantResponse(t, verify(resent), 200, `{"detail":"ok"}`)

		// An address an admin sets overrides a change still pending.
		thirdKey := change(uniqueAddress("third"))
		_, admin := ts.mustRole("root", "admin")
		set := uniqueAddress("set")
		wantResponse(t, ts.patchJSON(fmt.Sprintf("/api/admin/users/%v/", me()["id"]), `{"email":"`+set+`"}`, bearer(admin.access)...), 200, "")
		wantResponse(t, verify(thirdKey), 404, notFound)
		wantEmail(set)

		// The latest key works.
		fourthTo := uniqueAddress("fourth")
		wantResponse(t, verify(change(fourthTo)), 200, `{"detail":"ok"}`)
		wantEmail(fourthTo)
	})
}

// TestPasswordResetThrottled: the mail requests are throttled like login,
// with DRF's 429: per address after a few requests, whatever the client
// IP (the failed-login guard's back-off), and per client IP
// (LATCH_THROTTLE_ANON) whatever the address.
func TestPasswordResetThrottled(t *testing.T) {
	throttled := regexp.MustCompile(`^\{"detail":"Request was throttled\. Expected available in (\d+) seconds?\."\}$`)
	wantThrottled := func(t *testing.T, r response, maxWait int) {
		t.Helper()
		m := throttled.FindStringSubmatch(r.body)
		if r.status != 429 || m == nil {
			t.Fatalf("got %d %s, want 429 and DRF's throttled body", r.status, r.body)
		}
		if got := r.header.Get("Retry-After"); got != m[1] {
			t.Errorf("Retry-After %q, body says %s seconds", got, m[1])
		}
		if n, _ := strconv.Atoi(m[1]); n < 1 || n > maxWait {
			t.Errorf("wait %d s, want 1..%d", n, maxWait)
		}
		if want := "second."; m[1] == "1" && !strings.HasSuffix(r.body, want+`"}`) {
			t.Errorf("body %s: want the singular %q", r.body, want)
		}
	}
	const perAddress, perIP = 3, 5
	env := map[string]string{
		"LATCH_LOGIN_FAILURES":     strconv.Itoa(perAddress),
		"LATCH_THROTTLE_ANON":      strconv.Itoa(perIP) + "/min",
		"LATCH_TRUSTED_PROXIES":    "127.0.0.1/32,::1/128", // the test client's X-Forwarded-For is the client IP
		"LATCH_EMAIL_VERIFICATION": "optional",
	}
	for _, tt := range []struct{ name, path, body string }{
		{"reset", "/api/password/reset/", `{"detail":"Password reset e-mail has been sent."}`},
		{"resend", "/api/signup/resend-email/", `{"detail":"ok"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			onEachBackend(t, env, func(t *testing.T, ts *testServer) {
				_, known := ts.newMailUser("throttled")
				// Client IPs of this run only: Redis keeps their counts
				// for other tests and runs.
				var b [2]byte
				rand.Read(b[:])
				subnet := fmt.Sprintf("10.%d.%d.", b[0], b[1])
				ip := 0
				from := func(email, client string) response {
					return ts.postJSON(tt.path, map[string]any{"email": email}, "X-Forwarded-For", client)
				}
				// One address from a new IP each time: the address's back-off.
				for _, email := range []string{known, uniqueAddress("unknown")} {
					for i := range perAddress + 1 {
						ip++
						r := from(strings.ToUpper(email[:1])+email[1:], subnet+strconv.Itoa(ip))
						if i < perAddress {
							wantResponse(t, r, 200, tt.body)
							continue
						}
						wantThrottled(t, r, 1)
					}
				}
				// One IP, a new address each time: the per-IP rate.
				for i := range perIP + 1 {
					r := from(uniqueAddress("many"), subnet+"250")
					if i < perIP {
						wantResponse(t, r, 200, tt.body)
						continue
					}
					wantThrottled(t, r, 60)
				}
				// Another IP is not held back by that one.
				wantResponse(t, from(uniqueAddress("other"), subnet+"251"), 200, tt.body)
				ts.app.Auth().Drain()
			})
		})
	}
}
