package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	bodyBadCredentials = `{"detail":"No active account found with the given credentials"}`
	bodyInvalidToken   = `{"detail":"Token is invalid or expired","code":"token_not_valid"}`
	bodyWrongType      = `{"detail":"Token has wrong type","code":"token_not_valid"}`
	bodyBlacklisted    = `{"detail":"Token is blacklisted","code":"token_not_valid"}`
	bodyNotProvided    = `{"detail":"Authentication credentials were not provided."}`
	bodyBadHeader      = `{"detail":"Authorization header must contain two space-delimited values","code":"bad_authorization_header"}`
)

// bodyAccessInvalid is JWTAuthentication's answer for an access token
// rejected with msg.
func bodyAccessInvalid(msg string) string {
	return `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"` + msg + `"}]}`
}

// SimpleJWT's serializers fix the order of a pair's members: its login
// writes the refresh token first, its refresh the access token.
func TestPairOrder(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.mustUser("alice")
	r := ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": testPassword})
	if !strings.HasPrefix(r.body, `{"refresh":"`) || !strings.Contains(r.body, `","access":"`) {
		t.Fatalf("login body %s, want refresh then access", r.body)
	}
	r = ts.postJSON("/api/token/refresh/", map[string]any{"refresh": r.str(t, "refresh")})
	if !strings.HasPrefix(r.body, `{"access":"`) || !strings.Contains(r.body, `","refresh":"`) {
		t.Fatalf("refresh body %s, want access then refresh", r.body)
	}
}

func TestLogin(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.mustUser("alice")
	inactive := ts.mustUser("bob")
	if err := ts.app.Store().SetActive(context.Background(), inactive, false); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		send       func() response
		wantStatus int
		wantBody   string
	}{
		{"json", func() response {
			return ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": testPassword})
		}, 200, ""},
		{"form", func() response {
			return ts.postForm("/api/token/", url.Values{"username": {"alice"}, "password": {testPassword}})
		}, 200, ""},
		{"no trailing slash", func() response {
			return ts.postJSON("/api/token", map[string]any{"username": "alice", "password": testPassword})
		}, 200, ""},
		{"username in another case", func() response {
			return ts.postJSON("/api/token/", map[string]any{"username": "ALICE", "password": testPassword})
		}, 200, ""},
		{"wrong password", func() response {
			return ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": "nope"})
		}, 401, bodyBadCredentials},
		{"unknown user", func() response {
			return ts.postJSON("/api/token/", map[string]any{"username": "mallory", "password": testPassword})
		}, 401, bodyBadCredentials},
		{"inactive user", func() response {
			return ts.postJSON("/api/token/", map[string]any{"username": "bob", "password": testPassword})
		}, 401, bodyBadCredentials},
		{"missing both", func() response { return ts.postJSON("/api/token/", map[string]any{}) },
			400, `{"username":["This field is required."],"password":["This field is required."]}`},
		{"missing password", func() response { return ts.postJSON("/api/token/", map[string]any{"username": "alice"}) },
			400, `{"password":["This field is required."]}`},
		{"blank username", func() response {
			return ts.postJSON("/api/token/", map[string]any{"username": "  ", "password": "x"})
		}, 400, `{"username":["This field may not be blank."]}`},
		{"null username", func() response {
			return ts.postJSON("/api/token/", map[string]any{"username": nil, "password": "x"})
		}, 400, `{"username":["This field may not be null."]}`},
		{"object password", func() response {
			return ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": map[string]any{}})
		}, 400, `{"password":["Not a valid string."]}`},
		{"empty body", func() response { return ts.do("POST", "/api/token/", "", "") },
			400, `{"username":["This field is required."],"password":["This field is required."]}`},
		{"malformed JSON", func() response { return ts.do("POST", "/api/token/", "application/json", `{"username":`) }, 400, ""},
		{"JSON list", func() response { return ts.do("POST", "/api/token/", "application/json", `[1]`) },
			400, `{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}`},
		{"JSON null", func() response { return ts.do("POST", "/api/token/", "application/json", ` null `) },
			400, `{"non_field_errors":["No data provided"]}`},
		{"JSON string", func() response { return ts.do("POST", "/api/token/", "application/json", `"abc"`) },
			400, `{"non_field_errors":["Invalid data. Expected a dictionary, but got str."]}`},
		{"text/plain", func() response { return ts.do("POST", "/api/token/", "text/plain", "username=alice") },
			415, `{"detail":"Unsupported media type \"text/plain\" in request."}`},
		{"oversized", func() response {
			return ts.do("POST", "/api/token/", "application/json", `{"username":"`+strings.Repeat("a", 70<<10)+`"}`)
		}, 413, ""},
		{"GET", func() response { return ts.do("GET", "/api/token/", "", "") }, 405, `{"detail":"Method \"GET\" not allowed."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.send()
			wantResponse(t, r, tt.wantStatus, tt.wantBody)
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			if tt.wantStatus == 200 {
				r.str(t, "access")
				r.str(t, "refresh")
				if cc := r.header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control %q, want no-store", cc)
				}
			}
			if tt.wantStatus == 401 && r.header.Get("WWW-Authenticate") != `Bearer realm="api"` {
				t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("malformed JSON detail", func(t *testing.T) {
		r := ts.do("POST", "/api/token/", "application/json", `{"username":`)
		if d := r.str(t, "detail"); !strings.HasPrefix(d, "JSON parse error - ") {
			t.Errorf("detail %q", d)
		}
	})
	t.Run("updates last login", func(t *testing.T) {
		u, err := ts.app.Store().UserByUsername(context.Background(), "alice")
		if err != nil || u.LastLogin.IsZero() {
			t.Fatalf("last login not recorded: %v %v", u, err)
		}
	})
}

func TestRefreshRotation(t *testing.T) {
	onEachBackend(t, nil, func(t *testing.T, ts *testServer) {
		ts.mustUser("alice")
		p := ts.mustLogin("alice")

		r := ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh})
		wantResponse(t, r, 200, "")
		next := pair{r.str(t, "access"), r.str(t, "refresh")}
		if next.refresh == p.refresh {
			t.Fatal("rotation returned the same refresh token")
		}
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(next.access)...), 200, "")

		// A duplicate inside the grace interval (two tabs) gets the same
		// new pair, a few seconds later.
		ts.clock.Advance(3 * time.Second)
		r = ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh})
		wantResponse(t, r, 200, "")
		if got := r.str(t, "refresh"); got != next.refresh {
			t.Fatalf("duplicate refresh in grace got another successor")
		}
		if got := r.str(t, "access"); got != next.access {
			t.Fatalf("duplicate refresh in grace got another access token with the same successor")
		}

		// After the grace interval the spent token is theft: the whole session dies.
		ts.clock.Advance(11 * time.Second)
		wantResponse(t, ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh}), 401, bodyBlacklisted)
		wantResponse(t, ts.postJSON("/api/token/refresh/", map[string]any{"refresh": next.refresh}), 401, bodyBlacklisted)
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(next.access)...), 401, bodyAccessInvalid("Token is blacklisted"))
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(p.access)...), 401, bodyAccessInvalid("Token is blacklisted"))
	})
}

// TestRefreshGraceLongerThanAccess: a duplicate refresh that comes after
// the pair's access token has expired (a grace interval longer than the
// access lifetime) gets the same refresh token and a live access token.
func TestRefreshGraceLongerThanAccess(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_REFRESH_REUSE_INTERVAL": "10m", "LATCH_ACCESS_TOKEN_LIFETIME": "5m"})
	ts.mustUser("alice")
	p := ts.mustLogin("alice")
	r := ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh})
	wantResponse(t, r, 200, "")
	next := pair{r.str(t, "access"), r.str(t, "refresh")}
	ts.clock.Advance(6 * time.Minute)
	r = ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh})
	wantResponse(t, r, 200, "")
	if got := r.str(t, "refresh"); got != next.refresh {
		t.Fatal("duplicate refresh in grace got another successor")
	}
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(next.access)...), 401, "")
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(r.str(t, "access"))...), 200, "")
}

func TestRefreshErrors(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.mustUser("alice")
	p := ts.mustLogin("alice")
	now := ts.clock.Now().Unix()
	tests := []struct {
		name     string
		refresh  any
		wantCode int
		wantBody string
	}{
		{"garbage", "not-a-token", 401, bodyInvalidToken},
		{"two segments", "a.b", 401, bodyInvalidToken},
		{"access token", p.access, 401, bodyWrongType},
		{"tampered payload", tamper(p.refresh, 1), 401, bodyInvalidToken},
		{"tampered signature", tamper(p.refresh, 2), 401, bodyInvalidToken},
		{"other key", mintHS256("another secret entirely", map[string]any{"alg": "HS256", "typ": "JWT"},
			map[string]any{"token_type": "refresh", "exp": now + 60, "iat": now, "jti": newJTI(), "user_id": 1}), 401, bodyInvalidToken},
		{"alg none", noneToken(map[string]any{"token_type": "refresh", "exp": now + 60, "iat": now, "jti": newJTI(), "user_id": 1}), 401, bodyInvalidToken},
		{"expired", ts.mint(map[string]any{"alg": "HS256", "typ": "JWT"},
			map[string]any{"token_type": "refresh", "exp": now - 1, "iat": now - 100, "jti": newJTI(), "user_id": 1}), 401, bodyInvalidToken},
		{"no jti", ts.mint(map[string]any{"alg": "HS256", "typ": "JWT"},
			map[string]any{"token_type": "refresh", "exp": now + 60, "iat": now, "user_id": 1}), 401, `{"detail":"Token has no id","code":"token_not_valid"}`},
		{"no type", ts.mint(map[string]any{"alg": "HS256", "typ": "JWT"},
			map[string]any{"exp": now + 60, "iat": now, "jti": newJTI(), "user_id": 1}), 401, `{"detail":"Token has no type","code":"token_not_valid"}`},
		{"no exp", ts.mint(map[string]any{"alg": "HS256", "typ": "JWT"},
			map[string]any{"token_type": "refresh", "iat": now, "jti": newJTI(), "user_id": 1}), 401, `{"detail":"Token has no 'exp' claim","code":"token_not_valid"}`},
		// SimpleJWT's token (no sid) of a user latch does not have.
		{"unknown user", ts.mint(map[string]any{"alg": "HS256", "typ": "JWT"},
			map[string]any{"token_type": "refresh", "exp": now + 60, "iat": now, "jti": newJTI(), "user_id": 999}), 401, bodyInvalidToken},
		{"a UUID user id", ts.mint(map[string]any{"alg": "HS256", "typ": "JWT"},
			map[string]any{"token_type": "refresh", "exp": now + 60, "iat": now, "jti": newJTI(), "user_id": "0b7e3c1e-6a52-4c5e-9d0e-3f1a2b4c5d6e"}), 401, bodyInvalidToken},
		{"missing", nil, 400, `{"refresh":["This field is required."]}`},
		{"blank", "", 400, `{"refresh":["This field may not be blank."]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields := map[string]any{}
			if tt.refresh != nil {
				fields["refresh"] = tt.refresh
			}
			wantResponse(t, ts.postJSON("/api/token/refresh/", fields), tt.wantCode, tt.wantBody)
		})
	}
	t.Run("expired by the clock", func(t *testing.T) {
		ts.clock.Advance(15 * 24 * time.Hour)
		wantResponse(t, ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh}), 401, bodyInvalidToken)
	})
}

// tamper flips one character of segment i of a JWT.
func tamper(tok string, i int) string {
	parts := strings.Split(tok, ".")
	seg := []byte(parts[i])
	pos := len(seg) / 2
	if seg[pos] == 'A' {
		seg[pos] = 'B'
	} else {
		seg[pos] = 'A'
	}
	parts[i] = string(seg)
	return strings.Join(parts, ".")
}

func noneToken(claims map[string]any) string {
	t := mintHS256("x", map[string]any{"alg": "none", "typ": "JWT"}, claims)
	return t[:strings.LastIndexByte(t, '.')+1]
}

func TestVerifyAndBlacklist(t *testing.T) {
	onEachBackend(t, nil, func(t *testing.T, ts *testServer) {
		ts.mustUser("alice")
		p := ts.mustLogin("alice")
		wantResponse(t, ts.postJSON("/api/token/verify/", map[string]any{"token": p.access}), 200, `{}`)
		wantResponse(t, ts.postJSON("/api/token/verify/", map[string]any{"token": p.refresh}), 200, `{}`)
		wantResponse(t, ts.postJSON("/api/token/verify/", map[string]any{"token": "junk"}), 401, bodyInvalidToken)
		wantResponse(t, ts.postJSON("/api/token/verify/", map[string]any{}), 400, `{"token":["This field is required."]}`)

		wantResponse(t, ts.postJSON("/api/token/blacklist/", map[string]any{"refresh": p.refresh}), 200, `{}`)
		wantResponse(t, ts.postJSON("/api/token/blacklist/", map[string]any{"refresh": p.refresh}), 401, bodyBlacklisted)
		wantResponse(t, ts.postJSON("/api/token/blacklist/", map[string]any{"refresh": p.access}), 401, bodyWrongType)
		wantResponse(t, ts.postJSON("/api/token/verify/", map[string]any{"token": p.refresh}), 400, `{"non_field_errors":["Token is blacklisted"]}`)
		wantResponse(t, ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh}), 401, bodyBlacklisted)
		// Immediate revocation: the session's access token is refused too.
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(p.access)...), 401, bodyAccessInvalid("Token is blacklisted"))
	})
}

func TestMeAndAuthorizationHeader(t *testing.T) {
	ts := newTestServer(t, nil)
	id := ts.mustUser("alice")
	p := ts.mustLogin("alice")
	now := ts.clock.Now().Unix()
	h := map[string]any{"alg": "HS256", "typ": "JWT"}
	tests := []struct {
		name     string
		header   []string
		wantCode int
		wantBody string
	}{
		{"ok", bearer(p.access), 200, `{"id":1,"username":"alice","role":"user","email":"alice@example.com"}`},
		{"no header", nil, 401, bodyNotProvided},
		{"other scheme", []string{"Authorization", "Basic YWxpY2U6eA=="}, 401, bodyNotProvided},
		{"bearer without token", []string{"Authorization", "Bearer"}, 401, bodyBadHeader},
		{"bearer and space", []string{"Authorization", "Bearer "}, 401, bodyBadHeader},
		{"three parts", []string{"Authorization", "Bearer a b"}, 401, bodyBadHeader},
		{"garbage", bearer("garbage"), 401, bodyAccessInvalid("Token is invalid or expired")},
		{"four segments", bearer(p.access + ".x"), 401, bodyAccessInvalid("Token is invalid or expired")},
		{"tampered payload", bearer(tamper(p.access, 1)), 401, bodyAccessInvalid("Token is invalid or expired")},
		{"tampered signature", bearer(tamper(p.access, 2)), 401, bodyAccessInvalid("Token is invalid or expired")},
		{"refresh as access", bearer(p.refresh), 401, bodyAccessInvalid("Token has wrong type")},
		{"alg none", bearer(noneToken(map[string]any{"token_type": "access", "exp": now + 60, "iat": now, "jti": newJTI(), "user_id": id})),
			401, bodyAccessInvalid("Token is invalid or expired")},
		{"expired", bearer(ts.mint(h, map[string]any{"token_type": "access", "exp": now - 1, "iat": now - 60, "jti": newJTI(), "user_id": id})),
			401, bodyAccessInvalid("Token is invalid or expired")},
		{"no user id", bearer(ts.mint(h, map[string]any{"token_type": "access", "exp": now + 60, "iat": now, "jti": newJTI()})),
			401, `{"detail":"Token contained no recognizable user identification","code":"token_not_valid"}`},
		{"unknown user", bearer(ts.mint(h, map[string]any{"token_type": "access", "exp": now + 60, "iat": now, "jti": newJTI(), "user_id": 999})),
			401, `{"detail":"User not found","code":"user_not_found"}`},
		{"SimpleJWT-minted", bearer(ts.mint(h, map[string]any{"token_type": "access", "exp": now + 60, "iat": now, "jti": newJTI(), "user_id": id})),
			200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do("GET", "/api/me/", "", "", tt.header...)
			wantResponse(t, r, tt.wantCode, tt.wantBody)
			if r.status == 401 && r.header.Get("WWW-Authenticate") != `Bearer realm="api"` {
				t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("expired by the clock", func(t *testing.T) {
		ts.clock.Advance(16 * time.Minute)
		wantResponse(t, ts.do("GET", "/api/me", "", "", bearer(p.access)...), 401, bodyAccessInvalid("Token is invalid or expired"))
	})
}

func TestLogout(t *testing.T) {
	onEachBackend(t, nil, func(t *testing.T, ts *testServer) {
		ts.mustUser("alice")
		p := ts.mustLogin("alice")
		other := ts.mustLogin("alice")
		wantResponse(t, ts.postJSON("/api/logout/", map[string]any{"refresh": p.refresh}), 401, bodyNotProvided)
		wantResponse(t, ts.postJSON("/api/logout/", map[string]any{}, bearer(p.access)...), 400, `{"detail":"refresh required"}`)
		wantResponse(t, ts.postJSON("/api/logout/", map[string]any{"refresh": "junk"}, bearer(p.access)...), 400, `{"detail":"invalid token"}`)
		r := ts.postJSON("/api/logout/", map[string]any{"refresh": p.refresh}, bearer(p.access)...)
		wantResponse(t, r, 205, "")
		// The access token dies at once, not at its expiry; other sessions live.
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(p.access)...), 401, bodyAccessInvalid("Token is blacklisted"))
		wantResponse(t, ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh}), 401, bodyBlacklisted)
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(other.access)...), 200, "")
	})
}

func TestLogoutAllAndSessions(t *testing.T) {
	onEachBackend(t, nil, func(t *testing.T, ts *testServer) {
		ts.mustUser("alice")
		ts.mustUser("bob")
		a1, a2 := ts.mustLogin("alice"), ts.mustLogin("alice")
		b := ts.mustLogin("bob")

		r := ts.do("GET", "/api/sessions/", "", "", bearer(a1.access)...)
		wantResponse(t, r, 200, "")
		if n := strings.Count(r.body, `"id"`); n != 2 {
			t.Fatalf("sessions listed %d, want 2: %s", n, r.body)
		}
		if !strings.Contains(r.body, `"current":true`) {
			t.Fatalf("no current session marked: %s", r.body)
		}
		// Another user's session is not found, and not revoked.
		var bobSession string
		if list, err := ts.app.Store().ActiveSessions(context.Background(), 2, ts.clock.Now()); err != nil || len(list) != 1 {
			t.Fatalf("bob sessions: %v %v", list, err)
		} else {
			bobSession = list[0].ID
		}
		wantResponse(t, ts.do("DELETE", "/api/sessions/"+bobSession+"/", "", "", bearer(a1.access)...), 404, `{"detail":"Not found."}`)
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(b.access)...), 200, "")

		wantResponse(t, ts.do("POST", "/api/logout/all/", "", "", bearer(a1.access)...), 205, "")
		for _, p := range []pair{a1, a2} {
			wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(p.access)...), 401, bodyAccessInvalid("Token is blacklisted"))
			wantResponse(t, ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh}), 401, bodyBlacklisted)
		}
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(b.access)...), 200, "")
		// A new login after logout-all works.
		n := ts.mustLogin("alice")
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(n.access)...), 200, "")
	})
}

func TestDeleteOwnSession(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.mustUser("alice")
	a1, a2 := ts.mustLogin("alice"), ts.mustLogin("alice")
	list, err := ts.app.Store().ActiveSessions(context.Background(), 1, ts.clock.Now())
	if err != nil || len(list) != 2 {
		t.Fatal(list, err)
	}
	var target string
	for _, s := range list {
		c, _ := ts.app.Tokens().Parse(a2.access, "access")
		if c != nil && s.ID == c.SessionID {
			target = s.ID
		}
	}
	wantResponse(t, ts.do("DELETE", "/api/sessions/"+target, "", "", bearer(a1.access)...), 204, "")
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(a2.access)...), 401, bodyAccessInvalid("Token is blacklisted"))
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(a1.access)...), 200, "")
}

func TestPasswordChange(t *testing.T) {
	onEachBackend(t, nil, func(t *testing.T, ts *testServer) {
		ts.mustUser("alice")
		mine, other := ts.mustLogin("alice"), ts.mustLogin("alice")
		wantResponse(t, ts.postJSON("/api/password/", map[string]any{"old_password": "wrong", "new_password": "a much better secret"}, bearer(mine.access)...),
			400, `{"old_password":["Your old password was entered incorrectly. Please enter it again."]}`)
		wantResponse(t, ts.postJSON("/api/password/", map[string]any{"old_password": testPassword, "new_password": "short"}, bearer(mine.access)...),
			400, "")
		wantResponse(t, ts.postJSON("/api/password/", map[string]any{"old_password": testPassword, "new_password": "a much better secret"}, bearer(mine.access)...),
			204, "")
		// The caller's session lives on; every other session is revoked at once.
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(mine.access)...), 200, "")
		r := ts.postJSON("/api/token/refresh/", map[string]any{"refresh": mine.refresh})
		wantResponse(t, r, 200, "")
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(r.str(t, "access"))...), 200, "")
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(other.access)...), 401, bodyAccessInvalid("Token is blacklisted"))
		wantResponse(t, ts.postJSON("/api/token/refresh/", map[string]any{"refresh": other.refresh}), 401, bodyBlacklisted)
		wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": testPassword}), 401, bodyBadCredentials)
		wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": "a much better secret"}), 200, "")
	})
}

func TestSignup(t *testing.T) {
	ts := newTestServer(t, nil)
	wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": "carol", "password": "a fine long secret", "email": "c@example.com"}),
		201, `{"id":1,"username":"carol"}`)
	wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": "Carol", "password": "a fine long secret"}),
		400, `{"username":["A user with that username already exists."]}`)
	wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": "dave", "password": "short"}), 400, "")
	// Every field is reported at once, the taken ones too.
	wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": "carol", "password": "carol", "email": "C@example.com"}), 400,
		`{"username":["A user with that username already exists."],"password":["The password is too similar to the username.","This password is too short. It must contain at least 8 characters.","This password is too common."],"email":["A user is already registered with this e-mail address."]}`)
	wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": "dave"}), 400, `{"password":["This field is required."]}`)
	wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": "bad name!", "password": "a fine long secret"}),
		400, `{"username":["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."]}`)
	wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": "carol", "password": "a fine long secret"}), 200, "")
}

func TestDeactivateRevokesAtOnce(t *testing.T) {
	onEachBackend(t, nil, func(t *testing.T, ts *testServer) {
		id := ts.mustUser("alice")
		p := ts.mustLogin("alice")
		if err := ts.app.Auth().Deactivate(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		// As SimpleJWT's JWTAuthentication words it (SPEC appendix).
		wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(p.access)...), 401, `{"detail":"User is inactive","code":"user_inactive"}`)
		wantResponse(t, ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh}), 401, "")
		wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": testPassword}), 401, bodyBadCredentials)
	})
}

func TestRefreshOnlyMode(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_REVOCATION": "refresh-only"})
	ts.mustUser("alice")
	p := ts.mustLogin("alice")
	wantResponse(t, ts.postJSON("/api/logout/", map[string]any{"refresh": p.refresh}, bearer(p.access)...), 205, "")
	// SimpleJWT semantics: the access token lives until it expires.
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(p.access)...), 200, "")
	wantResponse(t, ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh}), 401, bodyBlacklisted)
}

func TestNoRotation(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_ROTATE_REFRESH_TOKENS": "false"})
	ts.mustUser("alice")
	p := ts.mustLogin("alice")
	for i := 0; i < 2; i++ {
		r := ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh})
		wantResponse(t, r, 200, "")
		if _, ok := r.json(t)["refresh"]; ok {
			t.Fatalf("refresh returned a refresh token with rotation off: %s", r.body)
		}
	}
}

func TestSessionAbsoluteLifetime(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_SESSION_MAX_LIFETIME": "1h", "LATCH_REFRESH_TOKEN_LIFETIME": "14d"})
	ts.mustUser("alice")
	p := ts.mustLogin("alice")
	ts.clock.Advance(50 * time.Minute)
	r := ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh})
	wantResponse(t, r, 200, "")
	ts.clock.Advance(11 * time.Minute)
	// Rotation never extends the session past its cap.
	wantResponse(t, ts.postJSON("/api/token/refresh/", map[string]any{"refresh": r.str(t, "refresh")}), 401, "")
}

func TestOperationalEndpoints(t *testing.T) {
	ts := newTestServer(t, nil)
	for _, path := range []string{"/healthz", "/readyz", "/healthz/", "/readyz/"} {
		wantResponse(t, ts.do("GET", path, "", ""), 200, `{"status":"ok"}`)
	}
	for _, path := range []string{"/.well-known/jwks.json", "/.well-known/jwks.json/"} {
		wantResponse(t, ts.do("GET", path, "", ""), 200, `{"keys":[]}`)
	}
	wantResponse(t, ts.do("GET", "/metrics/", "", ""), 200, "")
	wantResponse(t, ts.do("GET", "/nope", "", ""), 404, `{"detail":"Not found."}`)
	ts.mustUser("alice")
	ts.mustLogin("alice")
	r := ts.do("GET", "/metrics", "", "")
	wantResponse(t, r, 200, "")
	for _, want := range []string{`latch_logins_total{result="ok"} 1`, `latch_http_requests_total{code="200",method="POST",route="/api/token/"} 1`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	wantResponse(t, ts.do("DELETE", "/api/me/", "", ""), http.StatusMethodNotAllowed, `{"detail":"Method \"DELETE\" not allowed."}`)
}

func TestJWKSAsymmetric(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_SIGNING_KEY": "", "LATCH_ALGORITHM": "ES256"})
	r := ts.do("GET", "/.well-known/jwks.json", "", "")
	wantResponse(t, r, 200, "")
	if !strings.Contains(r.body, `"kty":"EC"`) || strings.Contains(r.body, `"d"`) {
		t.Fatalf("jwks %s", r.body)
	}
	ts.mustUser("alice")
	p := ts.mustLogin("alice")
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(p.access)...), 200, "")
}

func TestThrottle(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_THROTTLE_ANON": "3/min", "LATCH_THROTTLE_USER": "2/min"})
	ts.mustUser("alice")
	p := ts.mustLogin("alice") // 1 of 3
	for i := 0; i < 2; i++ {
		wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": "wrong"}), 401, bodyBadCredentials)
	}
	r := ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": testPassword})
	wantResponse(t, r, 429, `{"detail":"Request was throttled. Expected available in 60 seconds."}`)
	if got := r.header.Get("Retry-After"); got != "60" {
		t.Errorf("Retry-After %q, want 60", got)
	}
	ts.clock.Advance(59 * time.Second)
	r = ts.postJSON("/api/token/verify/", map[string]any{"token": p.access})
	wantResponse(t, r, 429, `{"detail":"Request was throttled. Expected available in 1 second."}`)
	ts.clock.Advance(time.Second)
	wantResponse(t, ts.postJSON("/api/token/verify/", map[string]any{"token": p.access}), 200, `{}`)

	// Per user on authenticated endpoints.
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(p.access)...), 200, "")
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(p.access)...), 200, "")
	r = ts.do("GET", "/api/me/", "", "", bearer(p.access)...)
	wantResponse(t, r, 429, `{"detail":"Request was throttled. Expected available in 30 seconds."}`)
	// GCRA (ratelimit.GCRA): after a burst of N, one request per Per/N.
	if got := r.header.Get("Retry-After"); got != "30" {
		t.Errorf("Retry-After %q, want 30", got)
	}
	ts.clock.Advance(29 * time.Second)
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(p.access)...), 429, `{"detail":"Request was throttled. Expected available in 1 second."}`)
	ts.clock.Advance(time.Second)
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(p.access)...), 200, "")
	// An unauthenticated request to a protected endpoint is a 401, not a 429.
	wantResponse(t, ts.do("GET", "/api/me/", "", ""), 401, bodyNotProvided)
}

func TestSlidingTokens(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_SLIDING_TOKENS": "on", "LATCH_SLIDING_TOKEN_LIFETIME": "5m", "LATCH_SLIDING_TOKEN_REFRESH_LIFETIME": "1h"})
	ts.mustUser("alice")
	r := ts.postJSON("/api/token/sliding/", map[string]any{"username": "alice", "password": testPassword})
	wantResponse(t, r, 200, "")
	tok := r.str(t, "token")
	c, err := ts.app.Tokens().Parse(tok, "sliding")
	if err != nil || c.RefreshExpiresAt.Sub(c.IssuedAt) != time.Hour || c.ExpiresAt.Sub(c.IssuedAt) != 5*time.Minute {
		t.Fatalf("sliding claims %+v, %v", c, err)
	}
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(tok)...), 200, "")
	wantResponse(t, ts.postJSON("/api/token/sliding/", map[string]any{"username": "alice", "password": "nope"}), 401, bodyBadCredentials)

	ts.clock.Advance(4 * time.Minute)
	r = ts.postJSON("/api/token/sliding/refresh/", map[string]any{"token": tok})
	wantResponse(t, r, 200, "")
	next := r.str(t, "token")
	nc, _ := ts.app.Tokens().Parse(next, "sliding")
	if nc == nil || nc.ID != c.ID || !nc.RefreshExpiresAt.Equal(c.RefreshExpiresAt) || !nc.ExpiresAt.After(c.ExpiresAt) {
		t.Fatalf("refreshed sliding token %+v, want same jti and refresh_exp, later exp", nc)
	}
	// Past refresh_exp it cannot be extended.
	for i := 0; i < 13; i++ { // to 56 minutes of the hour
		ts.clock.Advance(4 * time.Minute)
		r = ts.postJSON("/api/token/sliding/refresh/", map[string]any{"token": next})
		wantResponse(t, r, 200, "")
		next = r.str(t, "token")
	}
	ts.clock.Advance(4 * time.Minute)
	wantResponse(t, ts.postJSON("/api/token/sliding/refresh/", map[string]any{"token": next}), 401,
		`{"detail":"Token 'refresh_exp' claim has expired","code":"token_not_valid"}`)
	// An access token is not a sliding token.
	p := ts.mustLogin("alice")
	wantResponse(t, ts.postJSON("/api/token/sliding/refresh/", map[string]any{"token": p.access}), 401, bodyWrongType)

	// Revocable: logout with a sliding token ends its session at once.
	r = ts.postJSON("/api/token/sliding/", map[string]any{"username": "alice", "password": testPassword})
	s := r.str(t, "token")
	wantResponse(t, ts.do("POST", "/api/logout/", "", "", bearer(s)...), 205, "")
	wantResponse(t, ts.do("GET", "/api/me/", "", "", bearer(s)...), 401, "")
	wantResponse(t, ts.postJSON("/api/token/sliding/refresh/", map[string]any{"token": s}), 401, bodyBlacklisted)
}

func TestSlidingDisabledByDefault(t *testing.T) {
	ts := newTestServer(t, nil)
	wantResponse(t, ts.postJSON("/api/token/sliding/", map[string]any{"username": "a", "password": "b"}), 404, `{"detail":"Not found."}`)
}

func TestFailedLoginGuard(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_LOGIN_FAILURES": "3"})
	ts.mustUser("alice")
	for i := 0; i < 3; i++ {
		wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": "guess"}), 401, bodyBadCredentials)
	}
	// Back-off holds across IPs and for the right password too.
	r := ts.postJSON("/api/token/", map[string]any{"username": "ALICE", "password": testPassword}, "X-Forwarded-For", "198.51.100.7")
	wantResponse(t, r, 429, `{"detail":"Request was throttled. Expected available in 1 second."}`)
	if r.header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	// Counted as what it is, not as a server error.
	metrics := ts.do("GET", "/metrics", "", "").body
	for _, want := range []string{`latch_logins_total{result="throttled"} 1`, `latch_logins_total{result="invalid_credentials"} 3`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, `latch_logins_total{result="error"}`) {
		t.Errorf("a refused login counted as an error")
	}
	// Other accounts are not affected.
	ts.mustUser("bob")
	wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": "bob", "password": testPassword}), 200, "")
	ts.clock.Advance(time.Second)
	wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": testPassword}), 200, "")
	// Success resets the count.
	for i := 0; i < 3; i++ {
		wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": "guess"}), 401, bodyBadCredentials)
	}
}

// LATCH_AUTH_HEADER_TYPES is SimpleJWT's AUTH_HEADER_TYPES: the schemes
// accepted, the first of them named in every 401's challenge
// (JWTAuthentication.authenticate_header).
func TestAuthHeaderTypes(t *testing.T) {
	for _, tt := range []struct {
		types    string
		accepted []string
		refused  []string
	}{
		{"JWT", []string{"JWT"}, []string{"Bearer"}},
		{"JWT,Bearer", []string{"JWT", "Bearer"}, []string{"Token"}},
	} {
		t.Run(tt.types, func(t *testing.T) {
			ts := newTestServer(t, map[string]string{"LATCH_AUTH_HEADER_TYPES": tt.types, "LATCH_INTROSPECTION_CLIENTS": "rs:a-client-secret"})
			ts.mustUser("alice")
			p := ts.mustLogin("alice")
			for _, scheme := range tt.accepted {
				wantResponse(t, ts.do("GET", "/api/me/", "", "", "Authorization", scheme+" "+p.access), 200, "")
			}
			for _, scheme := range tt.refused {
				r := ts.do("GET", "/api/me/", "", "", "Authorization", scheme+" "+p.access)
				wantResponse(t, r, 401, `{"detail":"Authentication credentials were not provided."}`)
				if got := r.header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != `JWT realm="api"` {
					t.Errorf("WWW-Authenticate %q, want the first header type's", got)
				}
			}
			r := ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": "wrong"})
			if got := r.header.Get("WWW-Authenticate"); r.status != 401 || got != `JWT realm="api"` {
				t.Errorf("bad login: %d, WWW-Authenticate %q", r.status, got)
			}
			r = ts.do("POST", "/api/token/introspect/", "application/x-www-form-urlencoded", "token="+p.access, "Authorization", "Basic bm86bm8=")
			if got := r.header.Values("WWW-Authenticate"); r.status != 401 || len(got) != 2 || got[0] != `JWT realm="api"` || got[1] != `Basic realm="introspection"` {
				t.Errorf("introspection without a client: %d, WWW-Authenticate %q", r.status, got)
			}
		})
	}
}

// Django's similarity validator compares the password with the username,
// then the email (dj-rest-auth runs it with the new user at signup).
func TestPasswordSimilarToEmail(t *testing.T) {
	ts := newTestServer(t, nil)
	wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": "zed", "email": "alice@example.com", "password": "examplecom1!"}),
		400, `{"password":["The password is too similar to the email address."]}`)
	wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": "zed", "email": "alice@example.com", "password": "a fine long secret"}), 201, "")
	r := ts.postJSON("/api/token/", map[string]any{"username": "zed", "password": "a fine long secret"})
	wantResponse(t, r, 200, "")
	p := pair{r.str(t, "access"), r.str(t, "refresh")}
	wantResponse(t, ts.postJSON("/api/password/", map[string]any{"old_password": "a fine long secret", "new_password": "alice@example.com"}, bearer(p.access)...),
		400, `{"new_password":["The password is too similar to the email address."]}`)
}
