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
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/internal/testenv"
)

// echoUpstream is the application behind the proxy: it answers with the
// headers it received that a WSGI server would read as X-Latch-* (any
// case, '-' or '_'), as a JSON object of lists under their received keys.
func echoUpstream(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := map[string][]string{}
		for k, v := range r.Header {
			if strings.HasPrefix(strings.ReplaceAll(strings.ToLower(k), "_", "-"), "x-latch-") {
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

// TestProxyNginxLatchDown: when latch cannot answer the check (down, or its
// own 503), the client gets latch's outage answer, JSON with Retry-After,
// not nginx's HTML 500 page.
func TestProxyNginxLatchDown(t *testing.T) {
	bin := testenv.Getenv(t, "LATCH_TEST_NGINX")
	c := proxyConfig{Dir: t.TempDir(), Host: "127.0.0.1", Upstream: echoUpstream(t).URL}
	c.Latch = "http://127.0.0.1:" + strconv.Itoa(freePort(t)) // nothing listens there
	c.Listen = c.Host + ":" + strconv.Itoa(freePort(t))
	for _, d := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		os.Mkdir(filepath.Join(c.Dir, d), 0o700)
	}
	conf := writeProxyConfig(t, "nginx.conf", c)
	startProxy(t, c.Dir, c.Listen, bin, "-e", filepath.Join(c.Dir, "error.log"), "-p", c.Dir, "-c", conf)
	proxy := &testServer{t: t, URL: "http://" + c.Listen}
	r := proxy.do("GET", "/app/", "", "", bearer("any.token.here")...)
	wantResponse(t, r, http.StatusServiceUnavailable, `{"detail":"Service temporarily unavailable, try again later."}`)
	for k, want := range map[string]string{"Retry-After": "1", "Content-Type": "application/json", "X-Content-Type-Options": "nosniff"} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
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
	// latch believes the proxy's X-Forwarded-For, as docs/proxies.md says to.
	onEachBackend(t, map[string]string{"LATCH_TRUSTED_PROXIES": "127.0.0.1/32"}, func(t *testing.T, ts *testServer) {
		alice := ts.mustUser("alice")
		noemail, err := ts.app.Auth().CreateUser(context.Background(), auth.NewUser{Username: "noemail", Password: testPassword})
		if err != nil {
			t.Fatal(err)
		}
		c := proxyConfig{Dir: t.TempDir(), Host: "127.0.0.1", Latch: ts.URL, Upstream: echoUpstream(t).URL}
		c.Listen = c.Host + ":" + strconv.Itoa(freePort(t))
		start(t, c)
		proxy := &testServer{t: t, URL: "http://" + c.Listen}
		forged := forgedIdentity()

		t.Run("no token", func(t *testing.T) {
			r := proxy.doRaw("GET", "/app/", "", forged)
			wantResponse(t, r, http.StatusUnauthorized, bodyNotProvided)
			if got, want := r.header.Values("WWW-Authenticate"), []string{`Bearer realm="api"`}; !slices.Equal(got, want) {
				t.Errorf("WWW-Authenticate: got %q, want %q", got, want)
			}
		})
		t.Run("client address", func(t *testing.T) {
			// The client connects from 127.0.0.2 and forges its address:
			// latch records the one the proxy saw.
			dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
			hc := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
			req, err := http.NewRequest("POST", proxy.URL+"/api/token/", strings.NewReader(`{"username":"alice","password":"`+testPassword+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", "203.0.113.66")
			res, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var pair struct{ Access string }
			err = json.NewDecoder(res.Body).Decode(&pair)
			res.Body.Close()
			if err != nil || pair.Access == "" {
				t.Fatalf("login through the proxy: %d, %v", res.StatusCode, err)
			}
			var sessions []struct {
				ID, IP string
			}
			if err := json.Unmarshal([]byte(ts.do("GET", "/api/sessions/", "", "", bearer(pair.Access)...).body), &sessions); err != nil {
				t.Fatal(err)
			}
			sid := tokenSID(t, pair.Access)
			i := slices.IndexFunc(sessions, func(s struct{ ID, IP string }) bool { return s.ID == sid })
			if i < 0 || sessions[i].IP != "127.0.0.2" {
				t.Errorf("sessions %+v: want %s with ip 127.0.0.2", sessions, sid)
			}
		})
		// wantSeen checks that the upstream got exactly want's X-Latch-*
		// headers, one true value each, and none of the client's copies.
		wantSeen := func(t *testing.T, access string, want map[string]string) {
			t.Helper()
			r := proxy.doRaw("GET", "/app/", "", withHeaders(forged, bearer(access)...))
			if r.status != http.StatusOK {
				t.Fatalf("got %d %s, want 200", r.status, r.body)
			}
			var got map[string][]string
			if err := json.Unmarshal([]byte(r.body), &got); err != nil {
				t.Fatal(err)
			}
			for k, v := range got {
				if w, ok := want[k]; !ok || len(v) != 1 || v[0] != w {
					t.Errorf("%s: got %q, want %q (present: %v)", k, v, w, ok)
				}
			}
			for k, w := range want {
				if _, ok := got[k]; !ok {
					t.Errorf("%s: missing, want %q", k, w)
				}
			}
		}
		aliceSees := func(t *testing.T, access string) map[string]string {
			return map[string]string{"X-Latch-User-Id": strconv.FormatInt(alice, 10), "X-Latch-Username": "alice",
				"X-Latch-Role": "user", "X-Latch-Session-Id": tokenSID(t, access), "X-Latch-Email": "alice@example.com"}
		}
		p := proxy.postJSON("/api/token/", map[string]any{"username": "alice", "password": testPassword})
		if p.status != http.StatusOK {
			t.Fatalf("login through the proxy: %d %s", p.status, p.body)
		}
		access, refresh := p.str(t, "access"), p.str(t, "refresh")
		t.Run("identity", func(t *testing.T) {
			wantSeen(t, access, aliceSees(t, access))
			other := ts.mustLogin("noemail").access
			wantSeen(t, other, map[string]string{"X-Latch-User-Id": strconv.FormatInt(noemail.ID, 10), "X-Latch-Username": "noemail",
				"X-Latch-Role": "user", "X-Latch-Session-Id": tokenSID(t, other)})
		})
		t.Run("refresh", func(t *testing.T) {
			r := proxy.postForm("/api/token/refresh/", url.Values{"refresh": {refresh}})
			if r.status != http.StatusOK {
				t.Fatalf("refresh: %d %s", r.status, r.body)
			}
			before := tokenSID(t, access)
			access, refresh = r.str(t, "access"), r.str(t, "refresh")
			if got := tokenSID(t, access); got != before {
				t.Errorf("refreshed token's sid got %q, want the session's %q", got, before)
			}
			wantSeen(t, access, aliceSees(t, access))
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
