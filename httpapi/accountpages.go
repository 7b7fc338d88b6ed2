package httpapi

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"

	"github.com/latch-auth/latch/auth"
)

// The reset and verification pages are plain HTML forms that post back to
// their own URL and are answered on the server: they work without
// JavaScript. Their URL holds the secret, so no referrer leaves them, no
// cache keeps them, and no other origin may frame them.
const accountPageCSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

var accountPage = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}label,input,button{display:block;width:100%;margin:.4rem 0}input{padding:.4rem}button{padding:.5rem}.error{color:#a00}.done{color:#060}</style>
</head><body>
<h1>{{.Title}}</h1>
{{range .Errors}}<p class="error" role="alert">{{.}}</p>{{end}}
{{if .Done}}<p class="done" role="status">{{.Done}}</p>{{else if .Reset}}
<form method="post">
<label for="new_password1">New password</label>
<input id="new_password1" name="new_password1" type="password" autocomplete="new-password" required>
<label for="new_password2">New password again</label>
<input id="new_password2" name="new_password2" type="password" autocomplete="new-password" required>
<button type="submit">Set my password</button>
</form>{{else if .Confirm}}
<form method="post"><button type="submit">Confirm my e-mail address</button></form>
{{end}}
</body></html>
`))

type accountPageData struct {
	Title   string
	Errors  []string
	Done    string
	Reset   bool // show the password form
	Confirm bool // show the confirmation button
}

func (s *Server) writePage(w http.ResponseWriter, status int, d accountPageData) {
	var b bytes.Buffer
	if err := accountPage.Execute(&b, d); err != nil {
		s.opts.Logger.Error("render account page", "err", err)
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", accountPageCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	noStore(w)
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// resetPage is latch's own reset page, /reset/{uid}/{token}/, the default
// target of the reset mail's link.
func (s *Server) resetPage(w http.ResponseWriter, r *http.Request) error {
	d := accountPageData{Title: "Choose a new password", Reset: true}
	if r.Method != http.MethodPost {
		// A dead link says so at once, not after a password is typed (as
		// Django's PasswordResetConfirmView); looking spends nothing.
		status := http.StatusOK
		if err := s.opts.Auth.CheckPasswordReset(r.Context(), r.PathValue("uid"), r.PathValue("token")); err != nil {
			status, d.Errors = s.pageError(err)
			d.Reset = false
		}
		s.writePage(w, status, d)
		return nil
	}
	if err := s.csrf.Check(r); err != nil {
		d.Errors, d.Reset = []string{"This form must be sent from this page."}, false
		s.writePage(w, http.StatusForbidden, d)
		return nil
	}
	f, err := s.readForm(r)
	if err == nil {
		// The uid and token are the page's URL; the form has the passwords.
		c := auth.ResetConfirmation{
			UID: r.PathValue("uid"), Token: r.PathValue("token"),
			NewPassword1: f.strMax("new_password1", false, maxPassword),
			NewPassword2: f.strMax("new_password2", false, maxPassword),
		}
		if err = f.err(); err == nil {
			err = s.opts.Auth.ConfirmPasswordReset(r.Context(), c)
		}
	}
	if err != nil {
		status, msgs := s.pageError(err)
		d.Errors = msgs
		d.Reset = !linkError(err) // a dead link needs no second try
		s.writePage(w, status, d)
		return nil
	}
	s.metrics.revocations.WithLabelValues("password_reset").Inc()
	d.Reset, d.Done = false, "Your password has been reset. You can now log in with the new password."
	s.writePage(w, http.StatusOK, d)
	return nil
}

// linkError reports whether err is about the reset link (uid or token)
// rather than the passwords.
func linkError(err error) bool {
	var verr *auth.ValidationError
	if !errors.As(err, &verr) {
		return false
	}
	for _, f := range verr.Fields {
		if f.Field == "uid" || f.Field == "token" {
			return true
		}
	}
	return false
}

// verifyPage is latch's own email confirmation page, /verify-email/{key}/.
// Opening it does not confirm: mail scanners open links; the button does.
func (s *Server) verifyPage(w http.ResponseWriter, r *http.Request) error {
	d := accountPageData{Title: "Confirm your e-mail address", Confirm: true}
	if r.Method != http.MethodPost {
		s.writePage(w, http.StatusOK, d)
		return nil
	}
	d.Confirm = false
	if err := s.csrf.Check(r); err != nil {
		d.Errors = []string{"This form must be sent from this page."}
		s.writePage(w, http.StatusForbidden, d)
		return nil
	}
	if err := s.opts.Auth.VerifyEmail(r.Context(), r.PathValue("key")); err != nil {
		status, msgs := s.pageError(err)
		d.Errors = msgs
		s.writePage(w, status, d)
		return nil
	}
	d.Done = "Your e-mail address is confirmed."
	s.writePage(w, http.StatusOK, d)
	return nil
}
