package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// catchUpBound is how long a revocation whose message never arrived may
// stay unseen by another instance: the catch-up period (2s), plus slack
// for a loaded 2-core CI machine.
const catchUpBound = 3 * time.Second

// userTokens are alice's tokens in a revocation case: two sessions logged
// in on instance A, mine (the caller's) and other, and an access token
// minted by SimpleJWT, which names no session.
type userTokens struct {
	mine, other pair
	simpleJWT   string
}

// revocationCases are the revocations an instance must learn from the
// database alone. Each revokes through a and returns the tokens that must
// now be refused and those that must still work.
var revocationCases = []struct {
	name   string
	revoke func(t *testing.T, a *testServer, tok userTokens) (refused, kept []string)
}{
	{"logout", func(t *testing.T, a *testServer, tok userTokens) ([]string, []string) {
		wantResponse(t, a.postJSON("/api/logout/", map[string]any{"refresh": tok.mine.refresh}, bearer(tok.mine.access)...), 205, "")
		return []string{tok.mine.access}, []string{tok.other.access, tok.simpleJWT}
	}},
	{"logout-all", func(t *testing.T, a *testServer, tok userTokens) ([]string, []string) {
		wantResponse(t, a.postJSON("/api/logout/all/", nil, bearer(tok.mine.access)...), 205, "")
		return []string{tok.mine.access, tok.other.access, tok.simpleJWT}, nil
	}},
	{"password change", func(t *testing.T, a *testServer, tok userTokens) ([]string, []string) {
		wantResponse(t, a.postJSON("/api/password/", map[string]any{"old_password": testPassword, "new_password": testPassword + " too"}, bearer(tok.mine.access)...), 204, "")
		// Back to the test password, from the same session: it survives both.
		wantResponse(t, a.postJSON("/api/password/", map[string]any{"old_password": testPassword + " too", "new_password": testPassword}, bearer(tok.mine.access)...), 204, "")
		return []string{tok.other.access, tok.simpleJWT}, []string{tok.mine.access}
	}},
}

// simpleJWTAccess mints an access token as SimpleJWT does (no sid, no ver).
func simpleJWTAccess(secret string, userID int64, now time.Time) string {
	return mintHS256(secret, map[string]any{"alg": "HS256", "typ": "JWT"}, map[string]any{
		"token_type": "access", "exp": now.Unix() + 300, "iat": now.Unix(), "jti": newJTI(), "user_id": userID,
	})
}

// aliceTokens logs alice in twice on a and mints her a SimpleJWT token;
// b must accept all three.
func aliceTokens(t *testing.T, a, b *testServer, secret string, id int64, now time.Time) userTokens {
	t.Helper()
	tok := userTokens{mine: a.mustLogin("alice"), other: a.mustLogin("alice"), simpleJWT: simpleJWTAccess(secret, id, now)}
	for _, access := range []string{tok.mine.access, tok.other.access, tok.simpleJWT} {
		if r := b.do("GET", "/api/me/", "", "", bearer(access)...); r.status != 200 {
			t.Fatalf("B refuses a fresh token: %d %s", r.status, r.body)
		}
	}
	return tok
}

// checkLearned asserts that b refuses every refused token within
// catchUpBound and still accepts the kept ones.
func checkLearned(t *testing.T, b *testServer, refused, kept []string) {
	t.Helper()
	for _, tok := range refused {
		took := eventually(t, catchUpBound, "the other instance refuses the revoked token", func() bool {
			return b.do("GET", "/api/me/", "", "", bearer(tok)...).status == 401
		})
		t.Logf("refused after %v", took.Round(time.Millisecond))
	}
	for _, tok := range kept {
		if r := b.do("GET", "/api/me/", "", "", bearer(tok)...); r.status != 200 {
			t.Errorf("a token that must survive: %d %s", r.status, r.body)
		}
	}
}

// TestRevocationReachesInstancesWithoutPublish: instance A's Redis user may
// not PUBLISH (a real Redis ACL), so every revocation message A sends is
// lost while B stays subscribed. B still refuses A's revocations within
// the catch-up period: it follows the database's revocation log.
func TestRevocationReachesInstancesWithoutPublish(t *testing.T) {
	pg, rd := needServices(t)
	ctx := context.Background()
	opts, err := goredis.ParseURL(rd)
	if err != nil {
		t.Fatal(err)
	}
	admin := goredis.NewClient(opts)
	defer admin.Close()
	user, secret := "latch-nopublish-"+strings.ToLower(randomSecret()[:8]), randomSecret()
	if err := admin.Do(ctx, "ACL", "SETUSER", user, "on", ">"+secret, "~*", "&*", "+@all", "-publish").Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	t.Cleanup(func() { admin.Do(context.Background(), "ACL", "DELUSER", user) })
	u, err := url.Parse(rd)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, secret)
	restricted := u.String()
	// The ACL does what the test relies on.
	ropts, _ := goredis.ParseURL(restricted)
	rc := goredis.NewClient(ropts)
	defer rc.Close()
	if err := rc.Publish(ctx, "latch-test", "x").Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("PUBLISH as %s: %v, want NOPERM", user, err)
	}

	for _, tc := range revocationCases {
		t.Run(tc.name, func(t *testing.T) {
			db, secret := freshSchemaURL(t, pg), randomSecret()
			env := map[string]string{
				"LATCH_DATABASE_URL": db, "LATCH_SIGNING_KEY": secret,
				"LATCH_THROTTLE_ANON": "off", "LATCH_THROTTLE_USER": "off",
				"LATCH_ARGON2_MEMORY": "64", "LATCH_ARGON2_ITERATIONS": "1",
			}
			envA, envB := map[string]string{"LATCH_REDIS_URL": restricted}, map[string]string{"LATCH_REDIS_URL": rd}
			for k, v := range env {
				envA[k], envB[k] = v, v
			}
			a := &testServer{t: t, URL: startLatch(t, envA).URL}
			b := &testServer{t: t, URL: startLatch(t, envB).URL}
			r := a.postJSON("/api/signup/", map[string]any{"username": "alice", "password": testPassword})
			wantResponse(t, r, 201, "")
			tok := aliceTokens(t, a, b, secret, int64(r.json(t)["id"].(float64)), time.Now())
			refused, kept := tc.revoke(t, a, tok)
			checkLearned(t, b, refused, kept)
		})
	}
}

// TestRevocationCatchUpIgnoresClocks: two instances on one database with
// no bus, A's clock 5 s behind B's. A stamps its revocations 5 s in B's
// past; B, which catches up by the log's sequence and not by time, still
// refuses them within the catch-up period.
func TestRevocationCatchUpIgnoresClocks(t *testing.T) {
	for _, tc := range revocationCases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"LATCH_DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "shared.db")}
			a := newTestServer(t, env)
			env["LATCH_SIGNING_KEY"] = a.secret
			b := newTestServer(t, env)
			a.clock.Advance(-5 * time.Second)
			tok := aliceTokens(t, a, b, a.secret, a.mustUser("alice"), a.clock.Now())
			time.Sleep(2500 * time.Millisecond) // B has caught up at least once since
			refused, kept := tc.revoke(t, a, tok)
			checkLearned(t, b, refused, kept)
		})
	}
}

// TestCommandsReachRunningInstance: `latch revoke --user` and `latch
// changepassword` run from the command line, against the database of a
// running single SQLite instance, reach its access tokens within the
// catch-up period, those minted by SimpleJWT (no sid) included.
func TestCommandsReachRunningInstance(t *testing.T) {
	dir := t.TempDir()
	ts := newTestServer(t, map[string]string{"LATCH_DATA_DIR": dir})
	env := map[string]string{"LATCH_DATA_DIR": dir, "LATCH_SIGNING_KEY": ts.secret, "LATCH_LOG_LEVEL": "error",
		"LATCH_ARGON2_MEMORY": "64", "LATCH_ARGON2_ITERATIONS": "1", "LATCH_PASSWORD": "a brand new passphrase"}
	for _, tc := range []struct {
		user string
		args []string
	}{
		{"alice", []string{"revoke", "--user", "alice"}},
		{"bob", []string{"changepassword", "bob"}},
	} {
		t.Run(strings.Join(tc.args[:1], " "), func(t *testing.T) {
			id := ts.mustUser(tc.user)
			simpleJWT := simpleJWTAccess(ts.secret, id, ts.clock.Now())
			ours := ts.mustLogin(tc.user)
			for _, tok := range []string{simpleJWT, ours.access} {
				if r := ts.do("GET", "/api/me/", "", "", bearer(tok)...); r.status != 200 {
					t.Fatalf("fresh token refused: %d %s", r.status, r.body)
				}
			}
			time.Sleep(2500 * time.Millisecond) // the server has caught up at least once since
			if code, _, errOut := runCommand(t, env, "", tc.args...); code != 0 {
				t.Fatalf("latch %s: exit %d: %s", strings.Join(tc.args, " "), code, errOut)
			}
			for name, tok := range map[string]string{"SimpleJWT's": simpleJWT, "latch's": ours.access} {
				took := eventually(t, catchUpBound, fmt.Sprintf("the server refuses %s token", name), func() bool {
					return ts.do("GET", "/api/me/", "", "", bearer(tok)...).status == 401
				})
				t.Logf("%s token refused after %v", name, took.Round(time.Millisecond))
			}
		})
	}
}
