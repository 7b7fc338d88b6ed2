package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/latch-auth/latch/auth"
)

// accountRoutes are SPEC §10's password reset, email verification and
// profile endpoints, with dj-rest-auth's paths, fields and messages.
func (s *Server) accountRoutes() {
	s.route("/api/password/reset/", methods{"POST": s.anon(s.passwordReset)})
	s.route("/api/password/reset/confirm/", methods{"POST": s.anon(s.passwordResetConfirm)})
	s.route("/api/signup/verify-email/", methods{"POST": s.anon(s.verifyEmail)})
	s.route("/api/signup/resend-email/", methods{"POST": s.anon(s.resendEmail)})
	s.route("/reset/{uid}/{token}/", methods{"GET": s.anon(s.resetPage), "POST": s.anon(s.resetPage)})
	s.route("/verify-email/{key}/", methods{"GET": s.anon(s.verifyPage), "POST": s.anon(s.verifyPage)})
}

// Bodies of dj-rest-auth's views.
var (
	bodyResetSent = detail("Password reset e-mail has been sent.")
	bodyResetDone = detail("Password has been reset with the new password.")
	bodyOK        = detail("ok")
)

// publicBase is the scheme and host that links in mail point at:
// Options.PublicURL (LATCH_PUBLIC_URL) when set; otherwise the request's
// own, with X-Forwarded-Proto and X-Forwarded-Host believed only from a
// trusted proxy. Set the public URL in production: a client picks the Host
// header of its own request, so without it a reset requested for someone
// else could mail them a link to the host the requester named.
func (s *Server) publicBase(r *http.Request) string {
	if s.opts.PublicURL != "" {
		return strings.TrimRight(s.opts.PublicURL, "/")
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if s.trustedPeer(r.RemoteAddr) {
		if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
			scheme = p
		}
		if h := r.Header.Get("X-Forwarded-Host"); h != "" {
			host = h
		}
	}
	// Only a plain host[:port] becomes part of a link.
	if u, err := url.Parse(scheme + "://" + host); err != nil || u.Host != host || u.User != nil || host == "" {
		host = "localhost"
	}
	return scheme + "://" + host
}

func (s *Server) passwordReset(w http.ResponseWriter, r *http.Request) error {
	return s.mailRequest(w, r, s.opts.Auth.RequestPasswordReset, bodyResetSent)
}

// mailRequest serves an {"email"} request that mails the address's user,
// if any: the same answer either way.
func (s *Server) mailRequest(w http.ResponseWriter, r *http.Request, send func(ctx context.Context, email, base string) error, answer detailBody) error {
	f, err := s.readForm(r)
	if err != nil {
		return err
	}
	email := f.strMax("email", false, maxEmail)
	if err := f.err(); err != nil {
		return err
	}
	if err := send(r.Context(), email, s.publicBase(r)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, answer)
	return nil
}

// maxPassword is dj-rest-auth's max_length of the new passwords.
const maxPassword = 128

func (s *Server) passwordResetConfirm(w http.ResponseWriter, r *http.Request) error {
	f, err := s.readForm(r)
	if err != nil {
		return err
	}
	// In dj-rest-auth's serializer's order, max_length 128 on passwords.
	c := auth.ResetConfirmation{
		NewPassword1: f.strMax("new_password1", false, maxPassword),
		NewPassword2: f.strMax("new_password2", false, maxPassword),
		UID:          f.str("uid", false),
		Token:        f.str("token", false),
	}
	if err := f.err(); err != nil {
		return err
	}
	if err := s.opts.Auth.ConfirmPasswordReset(r.Context(), c); err != nil {
		return err
	}
	s.metrics.revocations.WithLabelValues("password_reset").Inc()
	writeJSON(w, http.StatusOK, bodyResetDone)
	return nil
}

func (s *Server) verifyEmail(w http.ResponseWriter, r *http.Request) error {
	key, err := s.readField(r, "key")
	if err != nil {
		return err
	}
	if err := s.opts.Auth.VerifyEmail(r.Context(), key); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, bodyOK)
	return nil
}

func (s *Server) resendEmail(w http.ResponseWriter, r *http.Request) error {
	return s.mailRequest(w, r, s.opts.Auth.ResendVerification, bodyOK)
}

// updateMe is PATCH /api/me/: username and/or email (the new address
// takes effect once confirmed from the mail it receives).
func (s *Server) updateMe(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	f, err := s.readForm(r)
	if err != nil {
		return err
	}
	var c auth.ProfileChange
	if _, ok := f.in["username"]; ok {
		v := f.strMax("username", true, maxUsername)
		c.Username = &v
	}
	if _, ok := f.in["email"]; ok {
		v := f.strMax("email", true, maxEmail)
		c.Email = &v
	}
	if err := f.err(); err != nil {
		return err
	}
	u, err := s.opts.Auth.UpdateProfile(r.Context(), p, c, s.publicBase(r))
	if err != nil {
		return err
	}
	writeMe(w, u)
	return nil
}
