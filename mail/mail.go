// Package mail renders and delivers latch's account mail: password
// reset, email verification and email change confirmation.
//
// Each kind of message has a subject, a text and an HTML template,
// embedded in the binary and overridable one file at a time from a
// directory (LATCH_MAIL_TEMPLATES). Rendered messages go into an Outbox,
// which keeps them in the database until a Sender (SMTP, or .eml files in
// the data directory when no SMTP server is configured) has taken them,
// retrying with back-off so that an SMTP outage or a restart loses none.
package mail

import (
	"bytes"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	texttemplate "text/template"
	"time"
)

// Message is one mail to one recipient.
type Message struct {
	To      string
	Subject string
	Text    string // the text/plain part
	HTML    string // the text/html part; empty: text only
}

// Kind is a kind of account mail; each has its templates.
type Kind string

// The kinds of mail latch sends.
const (
	PasswordReset     Kind = "password_reset"
	EmailVerification Kind = "email_verification"
	EmailChange       Kind = "email_change"
)

// Kinds lists every kind, for loading and checking templates.
var Kinds = []Kind{PasswordReset, EmailVerification, EmailChange}

// Data is what the templates see.
type Data struct {
	Username string
	Email    string // the address the message goes to
	Link     string // the reset or confirmation link
	Expires  string // how long the link works, for people ("1 hour")
}

//go:embed templates/*
var embedded embed.FS

// Templates renders the messages of every Kind.
type Templates struct {
	subject map[Kind]*texttemplate.Template
	text    map[Kind]*texttemplate.Template
	html    map[Kind]*htmltemplate.Template
}

// LoadTemplates parses the embedded templates, each replaced by the file
// of the same name in dir when dir has one ("" : the embedded ones only).
// The files of a kind are KIND_subject.txt, KIND.txt and KIND.html.
func LoadTemplates(dir string) (*Templates, error) {
	if dir != "" {
		if fi, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("mail templates: %w", err)
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("mail templates: %s is not a directory", dir)
		}
	}
	read := func(name string) (string, error) {
		if dir != "" {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err == nil {
				return string(b), nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("mail templates: %w", err)
			}
		}
		b, err := embedded.ReadFile("templates/" + name)
		return string(b), err
	}
	t := &Templates{
		subject: map[Kind]*texttemplate.Template{},
		text:    map[Kind]*texttemplate.Template{},
		html:    map[Kind]*htmltemplate.Template{},
	}
	for _, k := range Kinds {
		for _, f := range []struct {
			name  string
			parse func(name, src string) error
		}{
			{string(k) + "_subject.txt", func(name, src string) (err error) {
				t.subject[k], err = texttemplate.New(name).Option("missingkey=error").Parse(src)
				return err
			}},
			{string(k) + ".txt", func(name, src string) (err error) {
				t.text[k], err = texttemplate.New(name).Option("missingkey=error").Parse(src)
				return err
			}},
			{string(k) + ".html", func(name, src string) (err error) {
				t.html[k], err = htmltemplate.New(name).Option("missingkey=error").Parse(src)
				return err
			}},
		} {
			src, err := read(f.name)
			if err != nil {
				return nil, err
			}
			if err := f.parse(f.name, src); err != nil {
				return nil, fmt.Errorf("mail template %s: %w", f.name, err)
			}
		}
	}
	// Render once with sample data, so that a template that cannot
	// execute fails at startup, not when a user asks for a reset.
	for _, k := range Kinds {
		if _, err := t.Render(k, "user@example.com", Data{Username: "user", Email: "user@example.com", Link: "https://example.com/", Expires: "1 hour"}); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Render builds the message of kind k to the address to.
func (t *Templates) Render(k Kind, to string, d Data) (*Message, error) {
	st, ok := t.subject[k]
	if !ok {
		return nil, fmt.Errorf("mail: unknown kind %q", k)
	}
	var subject, text, html bytes.Buffer
	if err := st.Execute(&subject, d); err != nil {
		return nil, fmt.Errorf("mail template %s: %w", st.Name(), err)
	}
	if err := t.text[k].Execute(&text, d); err != nil {
		return nil, fmt.Errorf("mail template %s: %w", t.text[k].Name(), err)
	}
	if err := t.html[k].Execute(&html, d); err != nil {
		return nil, fmt.Errorf("mail template %s: %w", t.html[k].Name(), err)
	}
	// A header must be one line.
	s := strings.Join(strings.Fields(subject.String()), " ")
	return &Message{To: to, Subject: s, Text: text.String(), HTML: html.String()}, nil
}

// Bytes is m as an RFC 5322 message from from, dated date: a
// multipart/alternative of the text and HTML parts, quoted-printable.
func (m *Message) Bytes(from string, date time.Time) ([]byte, error) {
	fromAddr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail: from address: %w", err)
	}
	toAddr, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("mail: to address: %w", err)
	}
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", fromAddr.String())
	header("To", toAddr.String())
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", date.Format(time.RFC1123Z))
	domain := fromAddr.Address[strings.LastIndexByte(fromAddr.Address, '@')+1:]
	header("Message-ID", "<"+rand.Text()+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Auto-Submitted", "auto-generated")
	if m.HTML == "" {
		header("Content-Type", `text/plain; charset="utf-8"`)
		header("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		writeQP(&b, m.Text)
		return b.Bytes(), nil
	}
	boundary := "latch-" + rand.Text()
	header("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	for _, part := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		b.WriteString("--" + boundary + "\r\n")
		header("Content-Type", part.typ+`; charset="utf-8"`)
		header("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		writeQP(&b, part.body)
		b.WriteString("\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.Bytes(), nil
}

func writeQP(b *bytes.Buffer, s string) {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
	w := quotedprintable.NewWriter(b)
	w.Write([]byte(s))
	w.Close()
}

// addressOf returns the bare address (user@host) of s, which may carry a
// display name ("latch <noreply@example.com>").
func addressOf(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", err
	}
	return a.Address, nil
}
