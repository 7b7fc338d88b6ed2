package httpapi_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/httpapi"
)

// serveRaw serves handler on a loopback listener wrapped by
// httpapi.Listener and returns its address.
func serveRaw(t *testing.T, handler http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, MaxHeaderBytes: 1 << 10, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(httpapi.Listener(ln))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// rawExchange sends req as written and reads one response.
func rawExchange(t *testing.T, addr, req string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

// TestListenerJSONErrors: what net/http answers before any handler runs
// is JSON with nosniff; everything else passes through untouched.
func TestListenerJSONErrors(t *testing.T) {
	addr := serveRaw(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		// A body that looks like net/http's own answer stays as it is.
		io.WriteString(w, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request")
	}))
	tests := []struct {
		name, req  string
		wantStatus int
		wantBody   string
	}{
		{"bad escape in the path", "GET /api/token/%zz HTTP/1.1\r\nHost: x\r\n\r\n",
			400, `{"detail":"Malformed HTTP request."}`},
		{"malformed header line", "GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
			400, `{"detail":"Malformed HTTP request."}`},
		{"no Host", "GET / HTTP/1.1\r\n\r\n",
			400, `{"detail":"Malformed HTTP request: missing required Host header."}`},
		{"headers over the limit", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 8<<10) + "\r\n\r\n",
			431, `{"detail":"Request header fields too large."}`},
		{"unknown transfer coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
			501, `{"detail":"Unsupported transfer encoding."}`},
		{"unknown protocol version", "GET / HTTP/3.0\r\nHost: x\r\n\r\n",
			505, `{"detail":"HTTP Version Not Supported: unsupported protocol version."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := rawExchange(t, addr, tt.req)
			if res.StatusCode != tt.wantStatus || body != tt.wantBody {
				t.Fatalf("got %d %s, want %d %s", res.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if got := res.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q", got)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
		})
	}
	t.Run("a handler's answer", func(t *testing.T) {
		res, body := rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if res.StatusCode != 400 || res.Header.Get("Content-Type") != "text/plain; charset=utf-8" || !strings.HasPrefix(body, "HTTP/1.1 400 Bad Request\r\n") {
			t.Fatalf("got %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), body)
		}
	})
}

// TestListenerPassesTLS: a TLS listener under Listener still serves TLS
// (net/http needs its *tls.Conn), and its handlers see r.TLS.
func TestListenerPassesTLS(t *testing.T) {
	// httptest's server lends its certificate and a client that trusts it.
	certs := httptest.NewTLSServer(http.NotFoundHandler())
	defer certs.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: certs.TLS.Certificates}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			http.Error(w, "no TLS state", http.StatusInternalServerError)
		}
	})}
	go srv.Serve(httpapi.Listener(tls.NewListener(ln, cfg)))
	defer srv.Close()
	res, err := certs.Client().Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("got %d over TLS", res.StatusCode)
	}
}
