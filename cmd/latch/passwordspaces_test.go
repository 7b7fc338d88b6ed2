package main

import (
	"context"
	"net/url"
	"testing"

	"github.com/latch-auth/latch/auth"
)

// A password is what was typed, spaces around it included, as SimpleJWT's
// PasswordField and Django's password forms read it: a password set with
// a leading or trailing space logs in with it and only with it, whichever
// way it was set.
func TestPasswordsKeepTheirSpaces(t *testing.T) {
	ts := newTestServer(t, nil)
	login := func(username, pw string) response {
		t.Helper()
		return ts.postJSON("/api/token/", map[string]any{"username": username, "password": pw})
	}
	loginForm := func(username, pw string) response {
		t.Helper()
		return ts.do("POST", "/api/token/", "application/x-www-form-urlencoded", url.Values{"username": {username}, "password": {pw}}.Encode())
	}
	const spaced = " a spaced passphrase "

	// Set by the operator (latch createuser, an import from Django).
	if _, err := ts.app.Auth().CreateUser(context.Background(), auth.NewUser{Username: "cli", Password: spaced}); err != nil {
		t.Fatal(err)
	}
	// Set through signup.
	wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": "web", "password": spaced}), 201, "")
	for _, user := range []string{"cli", "web"} {
		wantResponse(t, login(user, spaced), 200, "")
		wantResponse(t, loginForm(user, spaced), 200, "")
		for _, other := range []string{"a spaced passphrase", " a spaced passphrase", "a spaced passphrase "} {
			wantResponse(t, login(user, other), 401, bodyBadCredentials)
		}
	}
	// White space alone is a password that matches no account, not a
	// blank field.
	wantResponse(t, login("cli", "   "), 401, bodyBadCredentials)

	// Changed through the API: the old one as typed, the new one as typed.
	p := pair{login("web", spaced).str(t, "access"), ""}
	wantResponse(t, ts.postJSON("/api/password/", map[string]any{"old_password": "a spaced passphrase", "new_password": "  another one  "}, bearer(p.access)...),
		400, "")
	wantResponse(t, ts.postJSON("/api/password/", map[string]any{"old_password": spaced, "new_password": "  another one  "}, bearer(p.access)...),
		204, "")
	wantResponse(t, login("web", "  another one  "), 200, "")
	wantResponse(t, login("web", "another one"), 401, bodyBadCredentials)
}
