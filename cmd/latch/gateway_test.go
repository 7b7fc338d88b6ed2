package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// upstream is a backend behind latch's gateway: it echoes what it was
// sent, streams, and echoes WebSocket messages.
func newUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h := map[string]string{}
		for k := range r.Header {
			h[strings.ToLower(k)] = strings.Join(r.Header[k], ",")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", "yes")
		json.NewEncoder(w).Encode(map[string]any{"path": r.URL.RequestURI(), "method": r.Method, "headers": h})
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		fmt.Fprintf(w, "%d %v", n, err)
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		http.NewResponseController(w).Flush()
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "second\n")
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Sec-WebSocket-Key")
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || !strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade") ||
			r.Header.Get("Sec-WebSocket-Version") != "13" || key == "" || r.Header.Get("X-Latch-User-Id") == "" {
			http.Error(w, "want an authenticated WebSocket handshake", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", wsAccept(key))
		if brw.Flush() != nil {
			return
		}
		for { // echo every message; answer a close with a close
			f, err := wsRead(brw.Reader)
			if err != nil || !f.masked { // a client's frames are masked (RFC 6455 §5.1)
				return
			}
			if wsWrite(conn, f.opcode, f.payload, false) != nil || f.opcode == wsClose {
				return
			}
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// Minimal RFC 6455 framing for the WebSocket echo: single unfragmented
// frames, no extensions; what the upstream and the client need, no more.
const (
	wsText  = 0x1
	wsClose = 0x8
)

// wsAccept is the Sec-WebSocket-Accept for a Sec-WebSocket-Key (§4.2.2).
func wsAccept(key string) string {
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(sum[:])
}

type wsFrame struct {
	fin, masked bool
	opcode      byte
	payload     []byte
}

// wsWrite writes one final frame; mask (a client's) XORs the payload with
// a random key (§5.3).
func wsWrite(w io.Writer, opcode byte, payload []byte, mask bool) error {
	b := []byte{0x80 | opcode}
	var m byte
	if mask {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, m|byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, m|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, m|127), uint64(n))
	}
	start := len(b)
	if mask {
		var key [4]byte
		rand.Read(key[:])
		b = append(b, key[:]...)
		start += 4
		b = append(b, payload...)
		for i := range payload {
			b[start+i] ^= key[i%4]
		}
	} else {
		b = append(b, payload...)
	}
	_, err := w.Write(b)
	return err
}

// wsRead reads one frame and unmasks its payload.
func wsRead(r io.Reader) (wsFrame, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return wsFrame{}, err
	}
	if h[0]&0x70 != 0 {
		return wsFrame{}, errors.New("reserved bits set")
	}
	f := wsFrame{fin: h[0]&0x80 != 0, opcode: h[0] & 0x0f, masked: h[1]&0x80 != 0}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return wsFrame{}, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return wsFrame{}, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return wsFrame{}, fmt.Errorf("frame of %d bytes", n)
	}
	var key [4]byte
	if f.masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return wsFrame{}, err
		}
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.payload); err != nil {
		return wsFrame{}, err
	}
	if f.masked {
		for i := range f.payload {
			f.payload[i] ^= key[i%4]
		}
	}
	return f, nil
}

// upstreamSaw is what the echo upstream reports.
type upstreamSaw struct {
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
}

func decodeSaw(t *testing.T, r response) upstreamSaw {
	t.Helper()
	var s upstreamSaw
	if err := json.Unmarshal([]byte(r.body), &s); err != nil || r.header.Get("X-Upstream") != "yes" {
		t.Fatalf("not the upstream's answer: %d %s", r.status, r.body)
	}
	return s
}

func gatewayEnv(up string) map[string]string {
	return map[string]string{"LATCH_UPSTREAM": up, "LATCH_UPSTREAM_PUBLIC": "/public/,/static/"}
}

const notProvided = `{"detail":"Authentication credentials were not provided."}`

func TestGatewayAuthenticates(t *testing.T) {
	up := newUpstream(t)
	ts := newTestServer(t, gatewayEnv(up.URL))
	id := ts.mustUser("alice")
	p := ts.mustLogin("alice")
	sid := tokenSID(t, p.access)
	// Every spelling of the five, and one latch never sets: the gateway
	// removes any header a WSGI server would read as X-Latch-*.
	forged := withHeaders(forgedIdentity(), "X-LATCH-EXTRA", "1", "x_latch-extra", "2")
	authed := withHeaders(forged, bearer(p.access)...)

	tests := []struct {
		name     string
		method   string
		path     string
		header   http.Header // sent as is (uncanonicalized)
		status   int
		body     string // exact, for latch's own answers
		upstream bool   // the answer is the upstream's
		identity bool   // the upstream got alice's X-Latch-* headers
	}{
		{"no token", "GET", "/shop/orders/", nil, 401, notProvided, false, false},
		{"forged headers, no token", "GET", "/shop/orders/", forged, 401, notProvided, false, false},
		{"garbage token", "GET", "/shop/orders/", rawHeader(bearer("garbage")...), 401, `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid or expired"}]}`, false, false},
		{"refresh token as access", "GET", "/shop/orders/", rawHeader(bearer(p.refresh)...), 401, "", false, false},
		{"valid token", "GET", "/shop/orders/?page=2", authed, 200, "", true, true},
		{"valid token, POST", "POST", "/shop/orders/", authed, 200, "", true, true},
		{"public prefix, no token", "GET", "/public/logo.png", forged, 200, "", true, false},
		{"public prefix, valid token", "GET", "/static/app.js", authed, 200, "", true, false},
		{"latch's own route", "GET", "/api/me/", rawHeader(bearer(p.access)...), 200, "", false, false},
		{"latch's own route, no token", "GET", "/api/me/", nil, 401, notProvided, false, false},
		{"latch's health", "GET", "/healthz", nil, 200, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.doRaw(tt.method, tt.path, `{"n":1}`, withHeaders(tt.header, "Content-Type", "application/json"))
			wantResponse(t, r, tt.status, tt.body)
			if r.status == 401 && r.header.Get("WWW-Authenticate") != `Bearer realm="api"` {
				t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
			}
			if got := r.header.Get("X-Upstream") != ""; got != tt.upstream {
				t.Fatalf("answered by the upstream: got %v, want %v (%d %s)", got, tt.upstream, r.status, r.body)
			}
			if !tt.upstream {
				if r.status == 401 && r.header.Get("Cache-Control") != "no-store" {
					t.Errorf("latch's refusal: Cache-Control %q, want no-store", r.header.Get("Cache-Control"))
				}
				return
			}
			// The upstream says what may be cached (it set neither here).
			for _, k := range []string{"Cache-Control", "Pragma"} {
				if v, ok := r.header[k]; ok {
					t.Errorf("proxied answer has %s %q from latch", k, v)
				}
			}
			saw := decodeSaw(t, r)
			if saw.Path != tt.path {
				t.Errorf("upstream path got %q, want %q", saw.Path, tt.path)
			}
			want := map[string]string{}
			if tt.identity {
				want = map[string]string{
					"x-latch-user-id": fmt.Sprint(id), "x-latch-username": "alice", "x-latch-role": "user",
					"x-latch-email": "alice@example.com", "x-latch-session-id": sid,
				}
			}
			for k, v := range saw.Headers {
				if strings.HasPrefix(strings.ReplaceAll(k, "_", "-"), "x-latch-") && want[k] != v {
					t.Errorf("upstream got %s: %q, want %q", k, v, want[k])
				}
			}
			for k, v := range want {
				if saw.Headers[k] != v {
					t.Errorf("upstream got %s: %q, want %q", k, saw.Headers[k], v)
				}
			}
			if got := saw.Headers["x-forwarded-for"]; got != "127.0.0.1" {
				t.Errorf("X-Forwarded-For got %q, want 127.0.0.1", got)
			}
			if saw.Headers["x-forwarded-host"] == "" || saw.Headers["x-forwarded-proto"] != "http" {
				t.Errorf("X-Forwarded-Host/Proto missing: %v", saw.Headers)
			}
		})
	}
	if r := ts.do("GET", "/metrics", "", ""); !strings.Contains(r.body, `route="upstream"`) || !strings.Contains(r.body, `route="upstream_public"`) {
		t.Errorf("metrics lack the gateway routes:\n%s", r.body)
	}
}

func TestGatewayRevocationAndRefresh(t *testing.T) {
	up := newUpstream(t)
	onEachBackend(t, gatewayEnv(up.URL), func(t *testing.T, ts *testServer) {
		ts.mustUser("bob")
		p := ts.mustLogin("bob")
		if r := ts.do("GET", "/shop/x", "", "", bearer(p.access)...); r.status != 200 {
			t.Fatalf("before logout: %d %s", r.status, r.body)
		}
		r := ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh})
		if r.status != 200 {
			t.Fatalf("refresh: %d %s", r.status, r.body)
		}
		fresh := pair{r.str(t, "access"), r.str(t, "refresh")}
		if r := ts.do("GET", "/shop/x", "", "", bearer(fresh.access)...); r.status != 200 {
			t.Fatalf("refreshed access: %d %s", r.status, r.body)
		}
		if r := ts.postJSON("/api/logout/", map[string]any{"refresh": fresh.refresh}, bearer(fresh.access)...); r.status != http.StatusResetContent {
			t.Fatalf("logout: %d %s", r.status, r.body)
		}
		for _, access := range []string{fresh.access, p.access} {
			r := ts.do("GET", "/shop/x", "", "", bearer(access)...)
			if r.status != 401 || r.header.Get("X-Upstream") != "" {
				t.Fatalf("after logout: %d %s, want latch's 401", r.status, r.body)
			}
		}
	})
}

// gatewayUnderTest is a latch in gateway mode with a user logged in:
// behind httptest, or a real `latch serve` process (its http.Server has
// the read and write timeouts that streams must outlive).
type gatewayUnderTest struct {
	name  string
	start func(t *testing.T, upstream string) (base, access string)
}

var gatewaysUnderTest = []gatewayUnderTest{
	{"httptest", func(t *testing.T, upstream string) (string, string) {
		ts := newTestServer(t, gatewayEnv(upstream))
		ts.mustUser("carol")
		return ts.URL, ts.mustLogin("carol").access
	}},
	{"100ms server timeouts", func(t *testing.T, upstream string) (string, string) {
		ts := newTestServer(t, gatewayEnv(upstream))
		ts.mustUser("carol")
		srv := httptest.NewUnstartedServer(ts.app.Handler())
		srv.Config.ReadTimeout, srv.Config.WriteTimeout = 100*time.Millisecond, 100*time.Millisecond
		srv.Start()
		t.Cleanup(srv.Close)
		return srv.URL, ts.mustLogin("carol").access
	}},
	{"latch serve", func(t *testing.T, upstream string) (string, string) {
		env := gatewayEnv(upstream)
		env["LATCH_THROTTLE_ANON"], env["LATCH_COOKIE_SECURE"] = "off", "false"
		maps.Copy(env, fastHashing)
		lp := startLatch(t, env)
		form := url.Values{"username": {"carol"}, "password": {testPassword}}
		for _, path := range []string{"/api/signup/", "/api/token/"} {
			res, err := http.PostForm(lp.URL+path, form)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			json.NewDecoder(res.Body).Decode(&m)
			res.Body.Close()
			if access, ok := m["access"].(string); ok {
				return lp.URL, access
			}
			if res.StatusCode != http.StatusCreated {
				t.Fatalf("%s: %d %v", path, res.StatusCode, m)
			}
		}
		t.Fatal("no access token")
		return "", ""
	}},
}

func TestGatewayStreams(t *testing.T) {
	up := newUpstream(t)
	for _, gw := range gatewaysUnderTest {
		t.Run(gw.name, func(t *testing.T) {
			base, access := gw.start(t, up.URL)
			req, _ := http.NewRequest("GET", base+"/stream", nil)
			req.Header.Set("Authorization", "Bearer "+access)
			start := time.Now()
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			br := bufio.NewReader(res.Body)
			first, err := br.ReadString('\n')
			firstAt := time.Since(start)
			if err != nil || first != "first\n" {
				t.Fatalf("first chunk: %q %v", first, err)
			}
			rest, _ := io.ReadAll(br)
			total := time.Since(start)
			if string(rest) != "second\n" {
				t.Errorf("second chunk got %q", rest)
			}
			if firstAt >= 250*time.Millisecond || total < 300*time.Millisecond {
				t.Errorf("first chunk after %v, whole stream %v: want the first before the upstream's 300ms pause ends", firstAt, total)
			}
		})
	}
}

func TestGatewayWebSocket(t *testing.T) {
	up := newUpstream(t)
	for _, gw := range gatewaysUnderTest {
		t.Run(gw.name, func(t *testing.T) {
			base, access := gw.start(t, up.URL)
			u, _ := url.Parse(base)
			conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			nonce := make([]byte, 16)
			rand.Read(nonce)
			key := base64.StdEncoding.EncodeToString(nonce)
			fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n", u.Host, key, access)
			br := bufio.NewReader(conn)
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusSwitchingProtocols {
				b, _ := io.ReadAll(res.Body)
				t.Fatalf("got %d %s, want 101", res.StatusCode, b)
			}
			if got, want := res.Header.Get("Sec-WebSocket-Accept"), wsAccept(key); got != want {
				t.Fatalf("Sec-WebSocket-Accept got %q, want %q", got, want)
			}
			// A short message, and one with a 16-bit length.
			for i, msg := range []string{"hello", strings.Repeat("é", 200)} {
				if i > 0 {
					time.Sleep(200 * time.Millisecond) // past the server's read and write timeouts
				}
				if err := wsWrite(conn, wsText, []byte(msg), true); err != nil {
					t.Fatal(err)
				}
				f, err := wsRead(br)
				if err != nil {
					t.Fatalf("echo of message %d: %v", i, err)
				}
				if !f.fin || f.opcode != wsText || f.masked || string(f.payload) != msg {
					t.Fatalf("echo of message %d got fin %v opcode %d masked %v %q, want a final unmasked text frame %q",
						i, f.fin, f.opcode, f.masked, f.payload, msg)
				}
			}
			closing := []byte{0x03, 0xe8} // 1000, normal closure
			if err := wsWrite(conn, wsClose, closing, true); err != nil {
				t.Fatal(err)
			}
			if f, err := wsRead(br); err != nil || f.opcode != wsClose || string(f.payload) != string(closing) {
				t.Fatalf("close got %+v %v, want the close frame back", f, err)
			}
		})
	}
}

func TestGatewayUpstreamDown(t *testing.T) {
	tests := []struct {
		name string
		// served: a request was proxied before the upstream stopped, so
		// latch's transport holds its connection in the idle pool.
		served bool
	}{
		{"never up", false},
		{"stopped after a proxied request", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t)
			ts := newTestServer(t, gatewayEnv(up.URL))
			ts.mustUser("erin")
			p := ts.mustLogin("erin")
			if tt.served {
				decodeSaw(t, ts.do("GET", "/shop/x", "", "", bearer(p.access)...))
			}
			up.Close() // also closes the idle connection latch pooled
			for _, req := range []struct{ method, path string }{{"GET", "/shop/x"}, {"POST", "/shop/x"}, {"GET", "/public/x"}} {
				r := ts.do(req.method, req.path, "application/json", `{"n":1}`, bearer(p.access)...)
				wantResponse(t, r, http.StatusBadGateway, `{"detail":"Bad gateway."}`)
				if ct := r.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("%s %s: Content-Type got %q", req.method, req.path, ct)
				}
			}
		})
	}
}

func TestGatewayForwardedHeaders(t *testing.T) {
	up := newUpstream(t)
	tests := []struct {
		name    string
		trusted string
		want    map[string]string
	}{
		{"untrusted peer", "", map[string]string{"x-forwarded-for": "127.0.0.1", "x-forwarded-proto": "http"}},
		{"trusted peer", "127.0.0.1/32", map[string]string{"x-forwarded-for": "203.0.113.7, 127.0.0.1",
			"x-forwarded-proto": "https", "x-forwarded-host": "shop.example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := gatewayEnv(up.URL)
			env["LATCH_TRUSTED_PROXIES"] = tt.trusted
			ts := newTestServer(t, env)
			r := ts.do("GET", "/public/x", "", "", "X-Forwarded-For", "203.0.113.7",
				"X-Forwarded-Proto", "https", "X-Forwarded-Host", "shop.example.com")
			saw := decodeSaw(t, r)
			for k, v := range tt.want {
				if saw.Headers[k] != v {
					t.Errorf("%s got %q, want %q", k, saw.Headers[k], v)
				}
			}
			if tt.trusted == "" && saw.Headers["x-forwarded-host"] == "shop.example.com" {
				t.Error("an untrusted peer's X-Forwarded-Host was believed")
			}
		})
	}
}

func TestGatewayLargeBody(t *testing.T) {
	up := newUpstream(t)
	ts := newTestServer(t, gatewayEnv(up.URL))
	ts.mustUser("frank")
	p := ts.mustLogin("frank")
	body := strings.Repeat("x", 1<<20) // latch's own endpoints stop at 64 KiB; the upstream decides
	r := ts.do("POST", "/upload", "application/octet-stream", body, bearer(p.access)...)
	wantResponse(t, r, 200, fmt.Sprintf("%d <nil>", len(body)))
	if got := r.header.Values("X-Content-Type-Options"); len(got) != 1 {
		t.Errorf("X-Content-Type-Options got %q, want the upstream's alone", got)
	}
}

func TestGatewayOpaqueTokens(t *testing.T) {
	up := newUpstream(t)
	env := gatewayEnv(up.URL)
	env["LATCH_TOKEN_FORMAT"] = "opaque"
	ts := newTestServer(t, env)
	id := ts.mustUser("gina")
	p := ts.mustLogin("gina")
	r := ts.do("GET", "/shop/x", "", "", bearer(p.access)...)
	if saw := decodeSaw(t, r); saw.Headers["x-latch-user-id"] != fmt.Sprint(id) {
		t.Fatalf("upstream got X-Latch-User-Id %q, want %d", saw.Headers["x-latch-user-id"], id)
	}
	if r := ts.postJSON("/api/logout/", map[string]any{"refresh": p.refresh}, bearer(p.access)...); r.status != http.StatusResetContent {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if r := ts.do("GET", "/shop/x", "", "", bearer(p.access)...); r.status != 401 {
		t.Fatalf("after logout: %d %s, want 401", r.status, r.body)
	}
}

func TestGatewayUpstreamPath(t *testing.T) {
	up := newUpstream(t)
	ts := newTestServer(t, gatewayEnv(up.URL+"/v1"))
	r := ts.do("GET", "/public/a%20b?q=1", "", "")
	if got, want := decodeSaw(t, r).Path, "/v1/public/a%20b?q=1"; got != want {
		t.Errorf("upstream path got %q, want %q", got, want)
	}
}

// The query reaches the upstream as the client wrote it, as through nginx:
// httputil would drop what Go's parser refuses and re-encode the rest.
func TestGatewayQueryAsWritten(t *testing.T) {
	up := newUpstream(t)
	ts := newTestServer(t, gatewayEnv(up.URL))
	ts.mustUser("alice")
	p := ts.mustLogin("alice")
	for _, uri := range []string{"/shop/q?a=1;b=2&c=3", "/shop/q?z=1&a=%zz&b", "/shop/q?x=%2F&y=a+b&x=2", "/public/q?;", "/shop/q"} {
		saw := decodeSaw(t, ts.do("GET", uri, "", "", bearer(p.access)...))
		if saw.Path != uri {
			t.Errorf("the upstream got %q, want %q", saw.Path, uri)
		}
	}
}
