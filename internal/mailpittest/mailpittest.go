// Package mailpittest is how latch's tests read mail: through the HTTP
// API of a real mailpit SMTP server, the one scripts/testenv.sh starts
// (LATCH_TEST_SMTP_ADDR, LATCH_TEST_MAILPIT_API) or one a test starts for
// itself (Start) when it must stop and restart the server.
package mailpittest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/testenv"
)

// Server is a mailpit: its SMTP address and its HTTP API.
type Server struct {
	SMTP string // host:port
	API  string // http://host:port
	cmd  *exec.Cmd
	args []string
	tb   testing.TB
}

// Shared is the mailpit of scripts/testenv.sh (Missing when unset).
func Shared(tb testing.TB) *Server {
	tb.Helper()
	return &Server{SMTP: testenv.Getenv(tb, "LATCH_TEST_SMTP_ADDR"), API: testenv.Getenv(tb, "LATCH_TEST_MAILPIT_API"), tb: tb}
}

// Options for a mailpit of the test's own.
type Options struct {
	// TLSCert and TLSKey are PEM files: the server then offers STARTTLS.
	TLSCert, TLSKey string
	// RequireSTARTTLS refuses mail from clients that do not upgrade.
	RequireSTARTTLS bool
}

// Start runs a mailpit of the test's own on free loopback ports (the
// binary scripts/testenv.sh built: LATCH_TEST_MAILPIT), stopped when the
// test ends. Its messages survive Stop and Restart.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	bin := testenv.Getenv(tb, "LATCH_TEST_MAILPIT")
	dir := tb.TempDir()
	s := &Server{SMTP: freeAddr(tb), tb: tb}
	httpAddr := freeAddr(tb)
	s.API = "http://" + httpAddr
	s.args = []string{bin, "--smtp", s.SMTP, "--listen", httpAddr, "--database", filepath.Join(dir, "mailpit.db"),
		"--smtp-disable-rdns", "--disable-version-check", "--quiet"}
	if opts.TLSCert != "" {
		s.args = append(s.args, "--smtp-tls-cert", opts.TLSCert, "--smtp-tls-key", opts.TLSKey)
	}
	if opts.RequireSTARTTLS {
		s.args = append(s.args, "--smtp-require-starttls")
	}
	s.Restart()
	tb.Cleanup(s.Stop)
	return s
}

// Restart starts a stopped server again, on the same ports.
func (s *Server) Restart() {
	s.tb.Helper()
	s.cmd = exec.Command(s.args[0], s.args[1:]...)
	s.cmd.Stdout, s.cmd.Stderr = os.Stderr, os.Stderr
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatalf("mailpit: %v", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(s.API + "/api/v1/info")
		if err == nil {
			resp.Body.Close()
			if c, err := net.Dial("tcp", s.SMTP); err == nil {
				c.Close()
				return
			}
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("mailpit did not start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the server (its SMTP port then refuses connections).
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Message is one mail as mailpit received it.
type Message struct {
	ID      string
	Subject string
	To      []string
	Text    string
	HTML    string
}

type summary struct {
	ID      string
	Subject string
	To      []struct{ Address string }
}

// Messages returns the messages to address, oldest first.
func (s *Server) Messages(ctx context.Context, address string) ([]Message, error) {
	var list struct{ Messages []summary }
	q := url.Values{"query": {"to:" + strconv.Quote(address)}}
	if err := s.get(ctx, "/api/v1/search?"+q.Encode(), &list); err != nil {
		return nil, err
	}
	out := make([]Message, 0, len(list.Messages))
	for i := len(list.Messages) - 1; i >= 0; i-- { // mailpit lists newest first
		m := list.Messages[i]
		var full struct{ Text, HTML string }
		if err := s.get(ctx, "/api/v1/message/"+url.PathEscape(m.ID), &full); err != nil {
			return nil, err
		}
		msg := Message{ID: m.ID, Subject: m.Subject, Text: full.Text, HTML: full.HTML}
		for _, a := range m.To {
			msg.To = append(msg.To, a.Address)
		}
		out = append(out, msg)
	}
	return out, nil
}

// Wait waits up to timeout until n messages to address have arrived and
// returns them; it fails the test otherwise.
func (s *Server) Wait(address string, n int, timeout time.Duration) []Message {
	s.tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msgs, err := s.Messages(context.Background(), address)
		if err == nil && len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("mail to %s: %d messages after %v (err %v), want %d", address, len(msgs), timeout, err, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", s.API+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mailpit %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// SelfSigned writes a self-signed certificate for 127.0.0.1 and localhost
// into dir and returns the files and a pool that trusts it.
func SelfSigned(tb testing.TB, dir string) (certFile, keyFile string, roots *x509.CertPool) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "latch test SMTP"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "smtp.crt"), filepath.Join(dir, "smtp.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
}
