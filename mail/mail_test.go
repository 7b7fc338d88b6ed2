package mail_test

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/mailpittest"
	"github.com/latch-auth/latch/mail"
	"github.com/latch-auth/latch/sqlite"
)

var sample = mail.Data{Username: "alice", Email: "alice@example.com", Link: "https://latch.example/reset/MQ/tok?a=1&b=2", Expires: "1 hour"}

func TestTemplates(t *testing.T) {
	tests := []struct {
		name, dir   string
		kind        mail.Kind
		wantSubject string
		wantText    string
	}{
		{"embedded reset", "", mail.PasswordReset, "Password reset for alice", sample.Link},
		{"embedded verification", "", mail.EmailVerification, "Confirm your e-mail address", sample.Link},
		{"embedded change", "", mail.EmailChange, "Confirm your new e-mail address", "alice@example.com"},
		{"overridden subject", "testdata/templates", mail.PasswordReset, "Custom reset subject for alice", sample.Link},
		{"other kinds stay embedded", "testdata/templates", mail.EmailVerification, "Confirm your e-mail address", sample.Link},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := mail.LoadTemplates(tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			m, err := tpl.Render(tt.kind, "alice@example.com", sample)
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != tt.wantSubject || !strings.Contains(m.Text, tt.wantText) || m.To != "alice@example.com" {
				t.Errorf("Render = %+v, want subject %q and text with %q", m, tt.wantSubject, tt.wantText)
			}
			// html/template escapes the link's & in the attribute.
			if !strings.Contains(m.HTML, `href="https://latch.example/reset/MQ/tok?a=1&amp;b=2"`) {
				t.Errorf("HTML part lacks the escaped link: %s", m.HTML)
			}
		})
	}
}

func TestLoadTemplatesErrors(t *testing.T) {
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "email_change.html"), []byte("{{.Nope"), 0o600)
	unknown := t.TempDir()
	os.WriteFile(filepath.Join(unknown, "email_change.txt"), []byte("{{.Nope}}"), 0o600)
	for _, dir := range []string{bad, unknown, filepath.Join(bad, "missing")} {
		if _, err := mail.LoadTemplates(dir); err == nil {
			t.Errorf("LoadTemplates(%s) succeeded", dir)
		}
	}
}

func TestParseSMTPURL(t *testing.T) {
	tests := []struct {
		url, addr string
		ok        bool
	}{
		{"smtp://user:s3cret@mail.example.com:587", "mail.example.com:587", true},
		{"smtp://mail.example.com", "mail.example.com:25", true},
		{"smtps://user:s3cret@mail.example.com", "mail.example.com:465", true},
		{"http://user:s3cret@mail.example.com", "", false},
		{"smtp://user:s3cret@:25", "", false},
		{"smtp://user:s3cret@mail.example.com:99999", "", false},
		{"smtp://user:s3cret@mail.example.com:25/path?x=1", "", false},
		{"smtp://user:s3cret@mail example.com:25%", "", false},
	}
	for _, tt := range tests {
		s, err := mail.ParseSMTPURL(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("ParseSMTPURL(%q) error %v, want ok=%v", tt.url, err, tt.ok)
			continue
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseSMTPURL error shows the password: %v", err)
		}
		if tt.ok && s.Addr() != tt.addr {
			t.Errorf("ParseSMTPURL(%q).Addr() = %q, want %q", tt.url, s.Addr(), tt.addr)
		}
	}
}

func render(t *testing.T, to string) *mail.Message {
	t.Helper()
	tpl, err := mail.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	m, err := tpl.Render(mail.PasswordReset, to, sample)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSMTPDelivery(t *testing.T) {
	shared := mailpittest.Shared(t)
	dir := t.TempDir()
	certFile, keyFile, roots := mailpittest.SelfSigned(t, dir)
	tlsOnly := mailpittest.Start(t, mailpittest.Options{TLSCert: certFile, TLSKey: keyFile, RequireSTARTTLS: true})
	tests := []struct {
		name   string
		server *mailpittest.Server
		url    string
		tls    *tls.Config
	}{
		{"plain with AUTH", shared, "smtp://user:pass@" + shared.SMTP, nil},
		{"STARTTLS required", tlsOnly, "smtp://" + tlsOnly.SMTP, &tls.Config{RootCAs: roots}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := mail.ParseSMTPURL(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			s.TLS = tt.tls
			to := "smtp-" + strings.ReplaceAll(strings.ToLower(tt.name), " ", "-") + "-" + time.Now().Format("150405.000000") + "@example.com"
			msg := render(t, to)
			body, err := msg.Bytes("latch <noreply@latch.example>", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(t.Context(), "noreply@latch.example", to, body); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := tt.server.Wait(to, 1, 10*time.Second)
			if got[0].Subject != "Password reset for alice" || !strings.Contains(got[0].Text, sample.Link) || !strings.Contains(got[0].HTML, "Reset my password") {
				t.Errorf("arrived %+v", got[0])
			}
		})
	}
	t.Run("STARTTLS with an untrusted certificate fails", func(t *testing.T) {
		s, _ := mail.ParseSMTPURL("smtp://" + tlsOnly.SMTP)
		if err := s.Send(t.Context(), "noreply@latch.example", "x@example.com", []byte("Subject: x\r\n\r\nx\r\n")); err == nil {
			t.Fatal("Send trusted a self-signed certificate")
		}
	})
}

func TestFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	f := &mail.Files{Dir: dir}
	if err := f.Send(t.Context(), "a@example.com", "b@example.com", []byte("Subject: hi\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || !strings.HasSuffix(entries[0].Name(), ".eml") {
		t.Fatalf("outbox dir = %v, %v; want one .eml file", entries, err)
	}
	fi, _ := entries[0].Info()
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestOutboxSurvivesOutage: a message queued while the SMTP server is
// down arrives once it is back, exactly once; one queued before a
// restart of the sender goes after it.
func TestOutboxSurvivesOutage(t *testing.T) {
	srv := mailpittest.Start(t, mailpittest.Options{})
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "latch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sender, err := mail.ParseSMTPURL("smtp://" + srv.SMTP)
	if err != nil {
		t.Fatal(err)
	}
	newOutbox := func() *mail.Outbox {
		o, err := mail.NewOutbox(mail.OutboxOptions{Store: db, Sender: sender, From: "noreply@latch.example",
			Poll: 100 * time.Millisecond, RetryBase: 100 * time.Millisecond, RetryMax: 400 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	run := func(o *mail.Outbox) (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { o.Run(ctx); close(done) }()
		return func() { cancel(); <-done }
	}

	srv.Stop()
	o := newOutbox()
	stop := run(o)
	if err := o.Enqueue(t.Context(), render(t, "outage@example.com")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond) // a few failed attempts
	srv.Restart()
	srv.Wait("outage@example.com", 1, 10*time.Second)
	stop()

	// Queued with no worker running (latch stopped), sent after the restart.
	o = newOutbox()
	if err := o.Enqueue(t.Context(), render(t, "restart@example.com")); err != nil {
		t.Fatal(err)
	}
	stop = run(o)
	srv.Wait("restart@example.com", 1, 10*time.Second)
	time.Sleep(time.Second) // time for a duplicate to show up
	stop()
	for _, to := range []string{"outage@example.com", "restart@example.com"} {
		if got, _ := srv.Messages(t.Context(), to); len(got) != 1 {
			t.Errorf("%d messages to %s, want exactly 1", len(got), to)
		}
	}
	if left, _ := db.ClaimMail(t.Context(), time.Now().Add(time.Hour), time.Minute, 10); len(left) != 0 {
		t.Errorf("%d messages left in the outbox after delivery", len(left))
	}
}
