package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/testenv"
)

// startDjangoShop runs examples/django (seed 000's views) with Django's
// runserver on a free loopback port, as its README says, and returns its
// base URL.
func startDjangoShop(t *testing.T) string {
	t.Helper()
	djangoRequire(t, "django", "rest_framework")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir, err := filepath.Abs("../../examples/django")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(djangoPython, "-B", "manage.py", "runserver", "--noreload", addr)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", "PYTHONDONTWRITEBYTECODE=1"}
	var log lockedBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		interrupt(cmd)
		if t.Failed() {
			t.Logf("Django's log:\n%s", log.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(djangoTimeout)
	for time.Now().Before(deadline) {
		if res, err := http.Get(base + "/shop/orders/"); err == nil {
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("Django without the gateway's headers: %d, want 401", res.StatusCode)
			}
			return base
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("Django did not start:\n%s", log.String())
	return ""
}

// djangoShopUser is not ASCII: the X-Latch-* headers carry UTF-8, which
// WSGI hands over as Latin-1.
const djangoShopUser = "zoë"

// TestDjangoBehindGateway is seed 000 as its users would run it: Django's
// views behind `latch serve` in gateway mode, with latch's logout taking
// effect on the very next request.
func TestDjangoBehindGateway(t *testing.T) {
	shop := startDjangoShop(t)
	lp := startLatch(t, djangoLatchEnv(map[string]string{"LATCH_UPSTREAM": shop}))
	walkDjangoShop(t, lp.URL)
}

// TestDjangoBehindNginx: the same walk-through with the Django app behind
// real nginx, which asks latch's forward auth (/api/auth/check/) with
// auth_request, in the configuration docs/proxies.md shows.
func TestDjangoBehindNginx(t *testing.T) {
	bin := testenv.Getenv(t, "LATCH_TEST_NGINX")
	shop := startDjangoShop(t)
	lp := startLatch(t, djangoLatchEnv(nil))
	c := proxyConfig{Dir: t.TempDir(), Host: "127.0.0.1", Latch: lp.URL, Upstream: shop}
	c.Listen = c.Host + ":" + strconv.Itoa(freePort(t))
	for _, d := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		os.Mkdir(filepath.Join(c.Dir, d), 0o700)
	}
	conf := writeProxyConfig(t, "nginx.conf", c)
	startProxy(t, c.Dir, c.Listen, bin, "-e", filepath.Join(c.Dir, "error.log"), "-p", c.Dir, "-c", conf)
	walkDjangoShop(t, "http://"+c.Listen)
}

// djangoLatchEnv is latch serve's environment for the Django tests, plus extra.
func djangoLatchEnv(extra map[string]string) map[string]string {
	env := map[string]string{
		"LATCH_THROTTLE_ANON": "off", "LATCH_THROTTLE_USER": "off", "LATCH_COOKIE_SECURE": "false",
		"LATCH_ARGON2_MEMORY": fastHashing["LATCH_ARGON2_MEMORY"], "LATCH_ARGON2_ITERATIONS": fastHashing["LATCH_ARGON2_ITERATIONS"],
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// walkDjangoShop is seed 000's walk-through against base, where latch's
// endpoints and the Django shop are both reachable: signup, login,
// /shop/me/, orders cached false then true, refresh, logout (401 at once),
// a new session.
func walkDjangoShop(t *testing.T, base string) {
	t.Helper()
	call := func(method, path, access string, body map[string]any) (int, map[string]any) {
		t.Helper()
		var rd *strings.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = strings.NewReader(string(b))
		} else {
			rd = strings.NewReader("")
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Content-Type", "application/json")
		if access != "" {
			req.Header.Set("Authorization", "Bearer "+access)
		}
		req.Header.Set("X-Latch-User-Id", "1") // forged: latch removes it
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	if code, m := call("POST", "/api/signup/", "", map[string]any{"username": "mallory", "password": testPassword}); code != 201 {
		t.Fatalf("signup mallory: %d %v", code, m)
	}
	if code, m := call("POST", "/api/signup/", "", map[string]any{"username": djangoShopUser, "password": testPassword, "email": "alice@example.com"}); code != 201 {
		t.Fatalf("signup %s: %d %v", djangoShopUser, code, m)
	}
	login := func() pair {
		t.Helper()
		code, m := call("POST", "/api/token/", "", map[string]any{"username": djangoShopUser, "password": testPassword})
		if code != 200 {
			t.Fatalf("login: %d %v", code, m)
		}
		return pair{m["access"].(string), m["refresh"].(string)}
	}
	p := login()

	code, me := call("GET", "/shop/me/", p.access, nil)
	if code != 200 || me["username"] != djangoShopUser || me["email"] != "alice@example.com" || me["session_id"] == "" || me["id"] == float64(1) {
		t.Fatalf("Django's /shop/me/: %d %v", code, me)
	}
	steps := []struct {
		name       string
		access     func() string
		status     int
		wantCached any // nil: not an orders answer
	}{
		{"no token", func() string { return "" }, 401, nil},
		{"first call", func() string { return p.access }, 200, false},
		{"second call", func() string { return p.access }, 200, true},
		{"after refresh", func() string {
			code, m := call("POST", "/api/token/refresh/", "", map[string]any{"refresh": p.refresh})
			if code != 200 {
				t.Fatalf("refresh: %d %v", code, m)
			}
			p = pair{m["access"].(string), m["refresh"].(string)}
			return p.access
		}, 200, false},
		{"refreshed, again", func() string { return p.access }, 200, true},
		{"after logout", func() string {
			if code, m := call("POST", "/api/logout/", p.access, map[string]any{"refresh": p.refresh}); code != 205 {
				t.Fatalf("logout: %d %v", code, m)
			}
			return p.access
		}, 401, nil},
	}
	for _, st := range steps {
		code, m := call("GET", "/shop/orders/", st.access(), nil)
		if code != st.status {
			t.Fatalf("%s: got %d %v, want %d", st.name, code, m, st.status)
		}
		if st.wantCached == nil {
			if _, ok := m["detail"]; !ok {
				t.Fatalf("%s: got %v, want latch's error body", st.name, m)
			}
			continue
		}
		data, _ := m["data"].([]any)
		if m["cached"] != st.wantCached || len(data) != 2 || fmt.Sprint(data[0].(map[string]any)["user"]) != djangoShopUser {
			t.Fatalf("%s: got %v, want cached %v and two orders of %s", st.name, m, st.wantCached, djangoShopUser)
		}
	}
	// A new login is a new session: nothing of the old one is served.
	if code, m := call("GET", "/shop/orders/", login().access, nil); code != 200 || m["cached"] != false {
		t.Fatalf("new session: %d %v, want cached false", code, m)
	}
}
