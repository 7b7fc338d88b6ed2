package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Sender hands one message to whatever delivers it. A nil error means it
// was accepted: the Outbox then forgets the message.
type Sender interface {
	Send(ctx context.Context, from, to string, msg []byte) error
}

// SMTP delivers through an SMTP server, as LATCH_SMTP_URL names it.
type SMTP struct {
	addr     string // host:port
	host     string
	implicit bool // smtps://: TLS from the first byte
	username string
	password string
	// TLS is the client configuration for STARTTLS and smtps (its
	// ServerName is set from the URL when empty); nil: the system roots.
	TLS *tls.Config
	// Timeout bounds one delivery, dial to QUIT; default 30s.
	Timeout time.Duration
}

// ParseSMTPURL reads smtp://[user:pass@]host[:port] (STARTTLS when the
// server offers it; port 25 by default, so give 587 for a provider's
// submission port) or smtps://[user:pass@]host[:port] (implicit TLS, port
// 465 by default). Its errors never contain the password.
func ParseSMTPURL(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url's error quotes the whole URL, password included.
		return nil, errors.New("not a URL of the form smtp://user:pass@host:port")
	}
	s := &SMTP{host: u.Hostname()}
	port := u.Port()
	switch u.Scheme {
	case "smtp":
		if port == "" {
			port = "25"
		}
	case "smtps":
		s.implicit = true
		if port == "" {
			port = "465"
		}
	default:
		return nil, fmt.Errorf("scheme %q: want smtp or smtps", u.Scheme)
	}
	if s.host == "" {
		return nil, errors.New("no host")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("bad port %q", port)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("want smtp://user:pass@host:port with no path or query")
	}
	if u.User != nil {
		s.username = u.User.Username()
		s.password, _ = u.User.Password()
	}
	s.addr = net.JoinHostPort(s.host, port)
	return s, nil
}

// Addr is the server's host:port.
func (s *SMTP) Addr() string { return s.addr }

// Send implements Sender: one connection per message, STARTTLS when the
// server offers it, AUTH PLAIN when the URL has credentials (net/smtp
// sends them only over TLS, or to localhost).
func (s *SMTP) Send(ctx context.Context, from, to string, msg []byte) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tlsConfig := &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
	if s.TLS != nil {
		tlsConfig = s.TLS.Clone()
		if tlsConfig.ServerName == "" {
			tlsConfig.ServerName = s.host
		}
	}
	var conn net.Conn
	var err error
	if s.implicit {
		d := &tls.Dialer{Config: tlsConfig}
		conn, err = d.DialContext(ctx, "tcp", s.addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp: %w", err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("smtp hello: %w", err)
	}
	if !s.implicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsConfig); err != nil {
				return fmt.Errorf("smtp starttls: %w", err)
			}
		}
	}
	if s.username != "" {
		if ok, _ := c.Extension("AUTH"); ok {
			if err := c.Auth(smtp.PlainAuth("", s.username, s.password, s.host)); err != nil {
				return fmt.Errorf("smtp auth: %w", err)
			}
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("smtp mail from: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("smtp rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	// The server accepts the message when it answers the final dot.
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	c.Quit() // accepted already: a failed QUIT loses nothing
	return nil
}

// Files "delivers" by writing each message as an .eml file into a
// directory (DATA_DIR/outbox/, the embedded default when no SMTP server
// is configured) and logging the file's path, never its content: the
// message holds a reset link.
type Files struct {
	Dir    string
	Logger *slog.Logger
}

// Send implements Sender.
func (f *Files) Send(_ context.Context, _, to string, msg []byte) error {
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return fmt.Errorf("outbox dir: %w", err)
	}
	name := time.Now().UTC().Format("20060102T150405.000000Z") + "-" + strings.ToLower(rand.Text()[:8]) + ".eml"
	path := filepath.Join(f.Dir, name)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, msg, 0o600); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("outbox file: %w", err)
	}
	// Whole files only: a reader of the directory never sees half a message.
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("outbox file: %w", err)
	}
	if f.Logger != nil {
		f.Logger.Info("mail written to the outbox directory (no LATCH_SMTP_URL)", "file", path)
	}
	return nil
}
