package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/internal/testenv"
)

// identityHeaders are the X-Latch-* headers forward auth answers with.
var identityHeaders = []string{"X-Latch-User-Id", "X-Latch-Username", "X-Latch-Role", "X-Latch-Session-Id", "X-Latch-Email"}

// echoUpstream is the application behind the proxy: it answers with the
// X-Latch-* headers it received, as a JSON object of lists.
func echoUpstream(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := map[string][]string{}
		for k, v := range r.Header {
			if strings.HasPrefix(k, "X-Latch-") {
				got[k] = v
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(got)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// proxyConfig fills a template of testdata/proxies (the configurations
// docs/proxies.md shows) for one test.
type proxyConfig struct {
	Dir, Host, Listen, Latch, Upstream string
}

func writeProxyConfig(t *testing.T, name string, c proxyConfig) string {
	tmpl, err := template.ParseFiles(filepath.Join("testdata", "proxies", name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(c.Dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := tmpl.Execute(f, c); err != nil {
		t.Fatal(err)
	}
	return path
}

// startProxy runs a proxy process until the test ends (stopped by its
// pid) and waits for it to accept connections.
func startProxy(t *testing.T, dir, listen string, name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	log, err := os.Create(filepath.Join(dir, "proxy.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		log.Close()
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		select {
		case <-done:
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("%s exited: %s", name, b)
		default:
		}
		if c, err := net.Dial("tcp", listen); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("%s does not listen on %s: %s", name, listen, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestProxyNginx(t *testing.T) {
	bin := testenv.Getenv(t, "LATCH_TEST_NGINX")
	testProxies(t, func(t *testing.T, c proxyConfig) {
		for _, d := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
			os.Mkdir(filepath.Join(c.Dir, d), 0o700)
		}
		conf := writeProxyConfig(t, "nginx.conf", c)
		startProxy(t, c.Dir, c.Listen, bin, "-e", filepath.Join(c.Dir, "error.log"), "-p", c.Dir, "-c", conf)
	})
}

func TestProxyCaddy(t *testing.T) {
	bin := testenv.Getenv(t, "LATCH_TEST_CADDY")
	testProxies(t, func(t *testing.T, c proxyConfig) {
		c.Latch = strings.TrimPrefix(c.Latch, "http://")
		c.Upstream = strings.TrimPrefix(c.Upstream, "http://")
		conf := writeProxyConfig(t, "Caddyfile", c)
		startProxy(t, c.Dir, c.Listen, bin, "run", "--adapter", "caddyfile", "--config", conf, "--pidfile", filepath.Join(c.Dir, "caddy.pid"))
	})
}

// testProxies puts latch's forward auth behind a real proxy started by
// start and checks what the application behind it sees.
func testProxies(t *testing.T, start func(t *testing.T, c proxyConfig)) {
	onEachBackend(t, nil, func(t *testing.T, ts *testServer) {
		alice := ts.mustUser("alice")
		if _, err := ts.app.Auth().CreateUser(context.Background(), auth.NewUser{Username: "noemail", Password: testPassword}); err != nil {
			t.Fatal(err)
		}
		c := proxyConfig{Dir: t.TempDir(), Host: "127.0.0.1", Latch: ts.URL, Upstream: echoUpstream(t).URL}
		c.Listen = c.Host + ":" + strconv.Itoa(freePort(t))
		start(t, c)
		proxy := &testServer{t: t, URL: "http://" + c.Listen}
		forged := []string{"X-Latch-User-Id", "1234", "X-Latch-Role", "admin", "X-Latch-Email", "forged@example.com"}

		t.Run("no token", func(t *testing.T) {
			r := proxy.do("GET", "/app/", "", "", forged...)
			wantResponse(t, r, http.StatusUnauthorized, bodyNotProvided)
			if got, want := r.header.Get("WWW-Authenticate"), `Bearer realm="api"`; got != want {
				t.Errorf("WWW-Authenticate: got %q, want %q", got, want)
			}
		})
		seen := func(t *testing.T, access string) map[string][]string {
			t.Helper()
			r := proxy.do("GET", "/app/", "", "", append(bearer(access), forged...)...)
			if r.status != http.StatusOK {
				t.Fatalf("got %d %s, want 200", r.status, r.body)
			}
			var got map[string][]string
			if err := json.Unmarshal([]byte(r.body), &got); err != nil {
				t.Fatal(err)
			}
			return got
		}
		wantSeen := func(t *testing.T, got map[string][]string, want map[string]string) {
			t.Helper()
			for _, h := range identityHeaders {
				w, ok := want[h]
				switch {
				case !ok && len(got[h]) > 0:
					t.Errorf("%s: got %q, want none", h, got[h])
				case ok && w == "" && len(got[h]) != 1:
					t.Errorf("%s: got %q, want one value", h, got[h])
				case ok && w != "" && (len(got[h]) != 1 || got[h][0] != w):
					t.Errorf("%s: got %q, want [%q]", h, got[h], w)
				}
			}
		}
		p := proxy.postJSON("/api/token/", map[string]any{"username": "alice", "password": testPassword})
		if p.status != http.StatusOK {
			t.Fatalf("login through the proxy: %d %s", p.status, p.body)
		}
		access, refresh := p.str(t, "access"), p.str(t, "refresh")
		t.Run("identity", func(t *testing.T) {
			wantSeen(t, seen(t, access), map[string]string{"X-Latch-User-Id": strconv.FormatInt(alice, 10), "X-Latch-Username": "alice",
				"X-Latch-Role": "user", "X-Latch-Session-Id": "", "X-Latch-Email": "alice@example.com"})
			wantSeen(t, seen(t, ts.mustLogin("noemail").access), map[string]string{"X-Latch-Username": "noemail",
				"X-Latch-User-Id": "", "X-Latch-Role": "user", "X-Latch-Session-Id": ""})
		})
		t.Run("refresh", func(t *testing.T) {
			r := proxy.postForm("/api/token/refresh/", url.Values{"refresh": {refresh}})
			if r.status != http.StatusOK {
				t.Fatalf("refresh: %d %s", r.status, r.body)
			}
			access, refresh = r.str(t, "access"), r.str(t, "refresh")
			wantSeen(t, seen(t, access), map[string]string{"X-Latch-User-Id": strconv.FormatInt(alice, 10), "X-Latch-Username": "alice",
				"X-Latch-Role": "user", "X-Latch-Session-Id": "", "X-Latch-Email": "alice@example.com"})
		})
		t.Run("logout", func(t *testing.T) {
			wantResponse(t, proxy.postJSON("/api/logout/", map[string]any{"refresh": refresh}, bearer(access)...), 205, "")
			r := proxy.do("GET", "/app/", "", "", bearer(access)...)
			wantResponse(t, r, http.StatusUnauthorized, bodyAccessInvalid("Token is blacklisted"))
		})
	})
}

// TestProxyDocsMatchTestdata: docs/proxies.md shows the configurations the
// proxy tests run; every line that decides what the application sees
// (auth_request, identity headers, header stripping) is in both.
func TestProxyDocsMatchTestdata(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "proxies.md"))
	if err != nil {
		t.Fatal(err)
	}
	docLines := map[string]bool{}
	for _, l := range strings.Split(string(doc), "\n") {
		docLines[strings.TrimSpace(l)] = true
	}
	for _, name := range []string{"nginx.conf", "Caddyfile"} {
		b, err := os.ReadFile(filepath.Join("testdata", "proxies", name))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, l := range strings.Split(string(b), "\n") {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "#") || strings.Contains(l, "{{") ||
				!(strings.Contains(l, "X-Latch") || strings.Contains(l, "auth_request") || strings.Contains(l, "error_page") ||
					strings.Contains(l, "/api/auth/check/") || strings.Contains(l, "proxy_pass_request_body")) {
				continue
			}
			n++
			if !docLines[l] {
				t.Errorf("%s: %q is not in docs/proxies.md", name, l)
			}
		}
		if n < 5 {
			t.Errorf("%s: only %d lines compared", name, n)
		}
	}
}
