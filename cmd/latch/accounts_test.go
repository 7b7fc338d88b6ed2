package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/auth"
)

const badCredentials = `{"detail":"No active account found with the given credentials"}`

// TestLoginField: LATCH_LOGIN_FIELD decides which request field names the
// account on every login endpoint, and errors keep SimpleJWT's shapes.
func TestLoginField(t *testing.T) {
	type attempt struct {
		name   string
		fields map[string]any
		status int
		body   string // exact; "" for any
	}
	pw := testPassword
	// The failed-login guard remembers a name in Redis: one no earlier run
	// against the same Redis tried.
	nobody := uniqueAddress("nobody")
	tests := []struct {
		field    string
		attempts []attempt
	}{
		{"username", []attempt{
			{"username", map[string]any{"username": "alice", "password": pw}, 200, ""},
			{"username, other case", map[string]any{"username": "ALICE", "password": pw}, 200, ""},
			{"email is not a username", map[string]any{"username": "alice@example.com", "password": pw}, 401, badCredentials},
			{"email field", map[string]any{"email": "alice@example.com", "password": pw}, 400, `{"username":["This field is required."]}`},
		}},
		{"email", []attempt{
			{"email", map[string]any{"email": "Alice@Example.com", "password": pw}, 200, ""},
			{"email, other case", map[string]any{"email": "ALICE@EXAMPLE.COM", "password": pw}, 200, ""},
			{"wrong password", map[string]any{"email": "alice@example.com", "password": "nope"}, 401, badCredentials},
			{"unknown email", map[string]any{"email": nobody, "password": pw}, 401, badCredentials},
			{"username field", map[string]any{"username": "alice", "password": pw}, 400, `{"email":["This field is required."]}`},
			{"blank", map[string]any{"email": " ", "password": pw}, 400, `{"email":["This field may not be blank."]}`},
			{"too long", map[string]any{"email": strings.Repeat("a", 250) + "@x.io", "password": pw}, 400, `{"email":["Ensure this field has no more than 254 characters."]}`},
		}},
		{"username_email", []attempt{
			{"username", map[string]any{"username": "alice", "password": pw}, 200, ""},
			{"email in username", map[string]any{"username": "ALICE@example.com", "password": pw}, 200, ""},
			{"username holding @", map[string]any{"username": "carol@home", "password": pw}, 200, ""},
			{"wrong password by email", map[string]any{"username": "alice@example.com", "password": "nope"}, 401, badCredentials},
			{"unknown", map[string]any{"username": nobody, "password": pw}, 401, badCredentials},
			{"email field", map[string]any{"email": "alice@example.com", "password": pw}, 400, `{"username":["This field is required."]}`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			onEachBackend(t, map[string]string{"LATCH_LOGIN_FIELD": tt.field, "LATCH_SLIDING_TOKENS": "on"}, func(t *testing.T, ts *testServer) {
				for _, nu := range []auth.NewUser{
					{Username: "alice", Password: pw, Email: "Alice@Example.com"},
					{Username: "carol@home", Password: pw, Email: "carol@example.com"},
				} {
					if _, err := ts.app.Auth().CreateUser(context.Background(), nu); err != nil {
						t.Fatal(err)
					}
				}
				for _, a := range tt.attempts {
					for _, path := range []string{"/api/token/", "/api/cookie/login/", "/api/token/sliding/"} {
						t.Run(a.name+" "+path, func(t *testing.T) {
							r := ts.postJSON(path, a.fields)
							wantResponse(t, r, a.status, a.body)
						})
					}
				}
			})
		})
	}
}

// TestLoginFieldGuard: the failed-login guard counts logins by email as
// it counts them by username, for known and unknown addresses alike.
func TestLoginFieldGuard(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_LOGIN_FIELD": "email"})
	ts.mustUser("alice") // alice@example.com
	for _, email := range []string{"alice@example.com", "nobody@example.com"} {
		t.Run(email, func(t *testing.T) {
			got429 := false
			for range 15 {
				r := ts.postJSON("/api/token/", map[string]any{"email": email, "password": "wrong"})
				if r.status == 429 {
					got429 = true
					break
				}
				wantResponse(t, r, 401, badCredentials)
			}
			if !got429 {
				t.Fatalf("15 failed logins for %s and no 429", email)
			}
		})
	}
}

// TestSignupEmail: emails are unique, letter case ignored, with
// dj-rest-auth's message; under LATCH_LOGIN_FIELD=email signup needs one.
func TestSignupEmail(t *testing.T) {
	onEachBackend(t, nil, func(t *testing.T, ts *testServer) {
		wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": "bob", "password": "a fine long secret", "email": "Bob@Example.com"}), 201, "")
		for _, email := range []string{"Bob@Example.com", "bob@example.com", "BOB@EXAMPLE.COM"} {
			r := ts.postJSON("/api/signup/", map[string]any{"username": "bob2", "password": "a fine long secret", "email": email})
			wantResponse(t, r, 400, `{"email":["A user is already registered with this e-mail address."]}`)
		}
		wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": "bob3", "password": "a fine long secret"}), 201, "")
		wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": "bob4", "password": "a fine long secret"}), 201, "") // no email twice is fine
	})
	t.Run("email login", func(t *testing.T) {
		ts := newTestServer(t, map[string]string{"LATCH_LOGIN_FIELD": "email"})
		wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": "bob", "password": "a fine long secret"}), 400, `{"email":["This field is required."]}`)
		wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": "bob", "password": "a fine long secret", "email": "bob@example.com"}), 201, "")
		wantResponse(t, ts.postJSON("/api/token/", map[string]any{"email": "BOB@example.com", "password": "a fine long secret"}), 200, "")
	})
}

const forbidden = `{"detail":"You do not have permission to perform this action."}`

// mustAdmin creates a user with role and logs them in.
func (ts *testServer) mustRole(username, role string) (int64, pair) {
	ts.t.Helper()
	u, err := ts.app.Auth().CreateUser(context.Background(), auth.NewUser{Username: username, Password: testPassword, Email: username + "@example.com", Role: role})
	if err != nil {
		ts.t.Fatal(err)
	}
	return u.ID, ts.mustLogin(username)
}

func (ts *testServer) patchJSON(path, body string, header ...string) response {
	ts.t.Helper()
	return ts.do("PATCH", path, "application/json", body, header...)
}

// TestAdminAPI drives the admin API on each backend: who may use it,
// listing with pagination and search, creating, changing (each change
// that must revoke does so at once), logging out and deleting.
func TestAdminAPI(t *testing.T) {
	onEachBackend(t, nil, func(t *testing.T, ts *testServer) {
		_, admin := ts.mustRole("root", "admin")
		as := bearer(admin.access)
		bobID, bob := ts.mustRole("bob", "user")

		t.Run("access", func(t *testing.T) {
			for _, path := range []string{"/api/admin/users/", fmt.Sprintf("/api/admin/users/%d/", bobID), fmt.Sprintf("/api/admin/users/%d/sessions/", bobID)} {
				wantResponse(t, ts.do("GET", path, "", "", bearer(bob.access)...), 403, forbidden)
				if r := ts.do("GET", path, "", ""); r.status != 401 {
					t.Errorf("GET %s without a token: %d %s", path, r.status, r.body)
				}
			}
			wantResponse(t, ts.postJSON(fmt.Sprintf("/api/admin/users/%d/logout/", bobID), nil, bearer(bob.access)...), 403, forbidden)
			wantResponse(t, ts.do("DELETE", fmt.Sprintf("/api/admin/users/%d/", bobID), "", "", bearer(bob.access)...), 403, forbidden)
		})

		t.Run("create", func(t *testing.T) {
			for i := range 23 {
				r := ts.postJSON("/api/admin/users/", map[string]any{"username": fmt.Sprintf("user%02d", i), "password": "a fine long secret", "email": fmt.Sprintf("User%02d@Corp.example", i)}, as...)
				wantResponse(t, r, 201, "")
			}
			r := ts.postJSON("/api/admin/users/", map[string]any{"username": "staffer", "password": "a fine long secret", "role": "staff", "is_active": false}, as...)
			wantResponse(t, r, 201, "")
			if m := r.json(t); m["role"] != "staff" || m["is_active"] != false || m["email"] != "" {
				t.Errorf("created %s", r.body)
			}
			wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": "staffer", "password": "a fine long secret"}), 401, badCredentials)
			for _, tc := range []struct {
				fields map[string]any
				body   string
			}{
				{map[string]any{"username": "x1", "password": "a fine long secret", "email": "USER01@corp.example"}, `{"email":["A user is already registered with this e-mail address."]}`},
				{map[string]any{"username": "BOB", "password": "a fine long secret"}, `{"username":["A user with that username already exists."]}`},
				{map[string]any{"username": "x2", "password": "short"}, ""},
				{map[string]any{"username": "x3", "password": "a fine long secret", "is_active": "maybe"}, `{"is_active":["Must be a valid boolean."]}`},
				{map[string]any{"password": "a fine long secret"}, `{"username":["This field is required."]}`},
			} {
				wantResponse(t, ts.postJSON("/api/admin/users/", tc.fields, as...), 400, tc.body)
			}
		})

		t.Run("list", func(t *testing.T) {
			// root, bob, user00…user22, staffer: 26 users.
			r := ts.do("GET", "/api/admin/users/?page_size=10", "", "", as...)
			wantResponse(t, r, 200, "")
			m := r.json(t)
			if m["count"] != float64(26) || len(m["results"].([]any)) != 10 || m["previous"] != nil || !strings.HasSuffix(m["next"].(string), "/api/admin/users/?page=2&page_size=10") {
				t.Errorf("page 1: %s", r.body)
			}
			r = ts.do("GET", "/api/admin/users/?page_size=10&page=3", "", "", as...)
			m = r.json(t)
			if len(m["results"].([]any)) != 6 || m["next"] != nil || !strings.HasSuffix(m["previous"].(string), "/api/admin/users/?page=2&page_size=10") {
				t.Errorf("page 3: %s", r.body)
			}
			r = ts.do("GET", "/api/admin/users/?page_size=10&page=2", "", "", as...)
			if m = r.json(t); !strings.HasSuffix(m["previous"].(string), "/api/admin/users/?page_size=10") {
				t.Errorf("page 2's previous: %s", r.body)
			}
			wantResponse(t, ts.do("GET", "/api/admin/users/?page_size=10&page=4", "", "", as...), 404, `{"detail":"Invalid page."}`)
			wantResponse(t, ts.do("GET", "/api/admin/users/?page=0", "", "", as...), 404, `{"detail":"Invalid page."}`)
			wantResponse(t, ts.do("GET", "/api/admin/users/?page=x", "", "", as...), 404, `{"detail":"Invalid page."}`)
			if m = ts.do("GET", "/api/admin/users/?page_size=1000", "", "", as...).json(t); len(m["results"].([]any)) != 26 {
				t.Errorf("page_size=1000: %d results", len(m["results"].([]any)))
			}
			if m = ts.do("GET", "/api/admin/users/", "", "", as...).json(t); len(m["results"].([]any)) != 20 {
				t.Errorf("default page size: %d results", len(m["results"].([]any)))
			}
			for _, tc := range []struct {
				search string
				count  int
			}{
				{"user1", 10},        // user10…user19
				{"CORP.EXAMPLE", 23}, // their emails, any case
				{"bob", 1},
				{"nobody", 0},
			} {
				r := ts.do("GET", "/api/admin/users/?search="+url.QueryEscape(tc.search), "", "", as...)
				if m := r.json(t); m["count"] != float64(tc.count) || len(m["results"].([]any)) != min(tc.count, 20) {
					t.Errorf("search %q: %s", tc.search, r.body)
				}
			}
			// Filters, as django-filter's exact ones: root is the admin,
			// staffer the inactive staff member.
			for _, tc := range []struct {
				query string
				count int
			}{
				{"role=staff", 1},
				{"role=admin", 1},
				{"role=user", 24},
				{"role=", 26},
				{"is_active=false", 1},
				{"is_active=true", 25},
				{"is_active=", 26},
				{"is_active=false&role=staff&search=staff", 1},
				{"is_active=true&role=staff", 0},
			} {
				r := ts.do("GET", "/api/admin/users/?"+tc.query, "", "", as...)
				if m := r.json(t); r.status != 200 || m["count"] != float64(tc.count) {
					t.Errorf("?%s: %d %s", tc.query, r.status, r.body)
				}
			}
			wantResponse(t, ts.do("GET", "/api/admin/users/?is_active=maybe", "", "", as...), 400, `{"is_active":["Select a valid choice."]}`)
			// The next page keeps the filters.
			r = ts.do("GET", "/api/admin/users/?role=user&page_size=10", "", "", as...)
			if m := r.json(t); !strings.HasSuffix(m["next"].(string), "/api/admin/users/?page=2&page_size=10&role=user") {
				t.Errorf("filtered page 1: %s", r.body)
			}
		})

		t.Run("get", func(t *testing.T) {
			r := ts.do("GET", fmt.Sprintf("/api/admin/users/%d/", bobID), "", "", as...)
			wantResponse(t, r, 200, "")
			if m := r.json(t); m["username"] != "bob" || m["email"] != "bob@example.com" || m["role"] != "user" || m["is_active"] != true {
				t.Errorf("bob: %s", r.body)
			}
			wantResponse(t, ts.do("GET", "/api/admin/users/99999/", "", "", as...), 404, `{"detail":"Not found."}`)
			wantResponse(t, ts.do("GET", "/api/admin/users/abc/", "", "", as...), 404, `{"detail":"Not found."}`)
		})

		// Changes that revoke: the user's token is refused at once; the
		// others reach the next refresh.
		for _, tc := range []struct {
			name, patch string
			revokes     bool
			check       func(t *testing.T, m map[string]any)
		}{
			{"email", `{"email":"Robert@Example.com"}`, false, func(t *testing.T, m map[string]any) {
				if m["email"] != "Robert@Example.com" || m["email_verified"] != false {
					t.Errorf("%v", m)
				}
			}},
			{"verified email", `{"email":"rob@example.com","email_verified":true}`, false, func(t *testing.T, m map[string]any) {
				if m["email"] != "rob@example.com" || m["email_verified"] != true {
					t.Errorf("%v", m)
				}
			}},
			{"username", `{"username":"robert"}`, false, func(t *testing.T, m map[string]any) {
				if m["username"] != "robert" {
					t.Errorf("%v", m)
				}
			}},
			{"role", `{"role":"staff"}`, false, func(t *testing.T, m map[string]any) {
				if m["role"] != "staff" {
					t.Errorf("%v", m)
				}
			}},
			{"password", `{"password":"another long secret"}`, true, nil},
			{"deactivate", `{"is_active":false}`, true, func(t *testing.T, m map[string]any) {
				if m["is_active"] != false {
					t.Errorf("%v", m)
				}
			}},
		} {
			t.Run("patch "+tc.name, func(t *testing.T) {
				id, p := ts.mustRole("target_"+strings.ReplaceAll(tc.name, " ", "_"), "user")
				path := fmt.Sprintf("/api/admin/users/%d/", id)
				r := ts.patchJSON(path, tc.patch, as...)
				wantResponse(t, r, 200, "")
				if tc.check != nil {
					tc.check(t, r.json(t))
				}
				got := ts.do("GET", "/api/me/", "", "", bearer(p.access)...).status
				if tc.revokes && got != 401 {
					t.Errorf("after PATCH %s the user's token answers %d, want 401", tc.patch, got)
				}
				if !tc.revokes && got != 200 {
					t.Errorf("after PATCH %s the user's token answers %d, want 200", tc.patch, got)
				}
				if tc.name == "role" {
					// Claims are read from the user at every refresh.
					r := ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh})
					wantResponse(t, r, 200, "")
					if role := djangoClaims(t, r.str(t, "access"))["role"]; role != "staff" {
						t.Errorf("the refreshed access token's role %v, want staff", role)
					}
				}
			})
		}
		t.Run("patch errors", func(t *testing.T) {
			path := fmt.Sprintf("/api/admin/users/%d/", bobID)
			wantResponse(t, ts.patchJSON(path, `{"email":"user01@CORP.example"}`, as...), 400, `{"email":["A user is already registered with this e-mail address."]}`)
			wantResponse(t, ts.patchJSON(path, `{"username":"ROOT"}`, as...), 400, `{"username":["A user with that username already exists."]}`)
			wantResponse(t, ts.patchJSON(path, `{"role":""}`, as...), 400, `{"role":["This field may not be blank."]}`)
			wantResponse(t, ts.patchJSON(path, `{"is_active":"perhaps"}`, as...), 400, `{"is_active":["Must be a valid boolean."]}`)
			wantResponse(t, ts.patchJSON(path, `{"password":"short"}`, as...), 400, "")
			wantResponse(t, ts.patchJSON("/api/admin/users/99999/", `{"role":"admin"}`, as...), 404, `{"detail":"Not found."}`)
			if r := ts.do("GET", "/api/me/", "", "", bearer(bob.access)...); r.status != 200 {
				t.Errorf("refused changes revoked bob: %d", r.status)
			}
		})

		t.Run("sessions and logout", func(t *testing.T) {
			id, p := ts.mustRole("carol", "user")
			ts.mustLogin("carol")
			path := fmt.Sprintf("/api/admin/users/%d/", id)
			r := ts.do("GET", path+"sessions/", "", "", as...)
			wantResponse(t, r, 200, "")
			if n := strings.Count(r.body, `"id":`); n != 2 {
				t.Errorf("carol's sessions: %s", r.body)
			}
			wantResponse(t, ts.postJSON(path+"logout/", nil, as...), 205, "")
			wantResponse(t, ts.do("GET", path+"sessions/", "", "", as...), 200, "[]")
			if r := ts.do("GET", "/api/me/", "", "", bearer(p.access)...); r.status != 401 {
				t.Errorf("carol's token after logout: %d", r.status)
			}
			wantResponse(t, ts.postJSON("/api/admin/users/99999/logout/", nil, as...), 404, "")
			wantResponse(t, ts.do("GET", "/api/admin/users/99999/sessions/", "", "", as...), 404, "")
		})

		t.Run("delete", func(t *testing.T) {
			id, p := ts.mustRole("dave", "user")
			path := fmt.Sprintf("/api/admin/users/%d/", id)
			wantResponse(t, ts.do("DELETE", path, "", "", as...), 204, "")
			wantResponse(t, ts.do("GET", path, "", "", as...), 404, "")
			wantResponse(t, ts.do("DELETE", path, "", "", as...), 404, "")
			if r := ts.do("GET", "/api/me/", "", "", bearer(p.access)...); r.status != 401 {
				t.Errorf("a deleted user's token: %d", r.status)
			}
			wantResponse(t, ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh}), 401, "")
			// The name and address are free again.
			wantResponse(t, ts.postJSON("/api/admin/users/", map[string]any{"username": "dave", "password": "a fine long secret", "email": "dave@example.com"}, as...), 201, "")
		})

		t.Run("demoted admin", func(t *testing.T) {
			id, second := ts.mustRole("second", "admin")
			wantResponse(t, ts.do("GET", "/api/admin/users/", "", "", bearer(second.access)...), 200, "")
			wantResponse(t, ts.patchJSON(fmt.Sprintf("/api/admin/users/%d/", id), `{"role":"user"}`, as...), 200, "")
			if r := ts.do("GET", "/api/admin/users/", "", "", bearer(second.access)...); r.status != 401 && r.status != 403 {
				t.Errorf("a demoted admin's token: %d %s", r.status, r.body)
			}
			second = ts.mustLogin("second")
			wantResponse(t, ts.do("GET", "/api/admin/users/", "", "", bearer(second.access)...), 403, forbidden)
		})
	})
}

// TestAdminRole: LATCH_ADMIN_ROLE names the role the admin API admits.
func TestAdminRole(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_ADMIN_ROLE": "superuser"})
	_, admin := ts.mustRole("root", "admin")
	_, super := ts.mustRole("boss", "superuser")
	wantResponse(t, ts.do("GET", "/api/admin/users/", "", "", bearer(admin.access)...), 403, forbidden)
	wantResponse(t, ts.do("GET", "/api/admin/users/", "", "", bearer(super.access)...), 200, "")
}

// TestAdminDeactivateReachesOtherInstance: a user deactivated through the
// admin API on instance A is refused at once on instance B (PostgreSQL +
// Redis), as is a user the admin logs out or deletes.
func TestAdminDeactivateReachesOtherInstance(t *testing.T) {
	pg, rd := needServices(t)
	env := map[string]string{"LATCH_DATABASE_URL": freshSchemaURL(t, pg), "LATCH_REDIS_URL": rd}
	a := newTestServer(t, env)
	env["LATCH_SIGNING_KEY"] = a.secret
	b := newTestServer(t, env)
	_, admin := a.mustRole("root", "admin")
	for _, tc := range []struct {
		name   string
		revoke func(path string) response
		status int
		body   string // B's answer to the token (SPEC appendix)
	}{
		{"deactivate", func(path string) response { return a.patchJSON(path, `{"is_active":false}`, bearer(admin.access)...) }, 200,
			`{"detail":"User is inactive","code":"user_inactive"}`},
		{"logout", func(path string) response { return a.postJSON(path+"logout/", nil, bearer(admin.access)...) }, 205,
			`{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is blacklisted"}]}`},
		{"delete", func(path string) response { return a.do("DELETE", path, "", "", bearer(admin.access)...) }, 204,
			`{"detail":"User not found","code":"user_not_found"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, p := a.mustRole("victim_"+tc.name, "user")
			wantResponse(t, b.do("GET", "/api/me/", "", "", bearer(p.access)...), 200, "")
			wantResponse(t, tc.revoke(fmt.Sprintf("/api/admin/users/%d/", id)), tc.status, "")
			took := eventually(t, time.Second, "B refuses the token", func() bool {
				return b.do("GET", "/api/me/", "", "", bearer(p.access)...).status == 401
			})
			t.Logf("B refused after %v", took.Round(time.Millisecond))
			wantResponse(t, b.do("GET", "/api/me/", "", "", bearer(p.access)...), 401, tc.body)
			wantResponse(t, a.do("GET", "/api/me/", "", "", bearer(p.access)...), 401, tc.body)
		})
	}
}

// TestAdminActionsLogged: every admin action is logged at info level with
// the acting admin's id and username, the action and the target, and
// never a password.
func TestAdminActionsLogged(t *testing.T) {
	var log lockedBuffer
	dir := t.TempDir()
	p := startLatchLogged(t, map[string]string{"LATCH_DATA_DIR": dir, "LATCH_LOG_LEVEL": "info", "LATCH_ARGON2_MEMORY": "64", "LATCH_ARGON2_ITERATIONS": "1",
		"LATCH_THROTTLE_ANON": "off", "LATCH_THROTTLE_USER": "off", "LATCH_HASH_PROCESS": "off"}, &log)
	ts := &testServer{t: t, URL: p.URL}
	wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": "root", "password": testPassword}), 201, "")
	if code, _, errOut := runCommand(t, map[string]string{"LATCH_DATA_DIR": dir, "LATCH_LOG_LEVEL": "error"}, "", "setrole", "root", "admin"); code != 0 {
		t.Fatalf("latch setrole: %d %s", code, errOut)
	}
	admin := ts.mustLogin("root")
	as := bearer(admin.access)
	r := ts.postJSON("/api/admin/users/", map[string]any{"username": "eve", "password": "the secret passphrase"}, as...)
	wantResponse(t, r, 201, "")
	id := int64(r.json(t)["id"].(float64))
	path := fmt.Sprintf("/api/admin/users/%d/", id)
	wantResponse(t, ts.patchJSON(path, `{"password":"another secret passphrase","role":"staff"}`, as...), 200, "")
	wantResponse(t, ts.postJSON(path+"logout/", nil, as...), 205, "")
	wantResponse(t, ts.do("DELETE", path, "", "", as...), 204, "")
	want := []string{"create_user", "update_user", "logout_user", "delete_user"}
	eventually(t, 2*time.Second, "the admin actions are logged", func() bool {
		out := log.String()
		for _, action := range want {
			if !strings.Contains(out, "action="+action+" admin_id=1 admin=root target_id="+fmt.Sprint(id)) {
				return false
			}
		}
		return true
	})
	for _, secret := range []string{"the secret passphrase", "another secret passphrase", testPassword} {
		if strings.Contains(log.String(), secret) {
			t.Errorf("the log holds a password")
		}
	}
}
