package httpapi

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/latch-auth/latch/auth"
)

// refreshCookie is the cookie that carries the refresh token in cookie
// mode (seed 003): HttpOnly, so page scripts never see it.
const refreshCookie = "refresh"

// Cookie paths: the cookie travels only to the endpoints that read it.
const (
	cookiePathCookieEndpoints = "/api/cookie/"
	cookiePathTokenEndpoints  = "/api/token/"
)

// CookieOptions configure cookie mode.
type CookieOptions struct {
	// Mode makes the main token endpoints behave like /api/cookie/…: the
	// refresh token is set and read only as the refresh cookie.
	Mode bool
	// Insecure drops the Secure attribute, for local http only; it also
	// drops Strict-Transport-Security, which latch sends otherwise.
	Insecure bool
	// SameSite is http.SameSiteLaxMode (default) or http.SameSiteStrictMode.
	SameSite http.SameSite
}

var errCSRF = &apiError{status: http.StatusForbidden, body: detail("CSRF Failed: cross-origin request refused.")}

// cookieAuthed protects an endpoint that trusts the refresh cookie, or
// sets it, against cross-site request forgery (SameSite is the second
// layer). A forged login would sign the victim's browser into the
// attacker's account.
func (s *Server) cookieAuthed(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.csrf.Check(r); err != nil {
			return errCSRF
		}
		return h(w, r)
	}
}

func (s *Server) setRefreshCookie(w http.ResponseWriter, path, refresh string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name:     refreshCookie,
		Value:    refresh,
		Path:     path,
		Expires:  expires,
		MaxAge:   max(int(time.Until(expires).Seconds()), 1),
		HttpOnly: true,
		Secure:   !s.opts.Cookies.Insecure,
		SameSite: s.sameSite(),
	})
}

func (s *Server) clearRefreshCookie(w http.ResponseWriter, path string) {
	http.SetCookie(w, &http.Cookie{
		Name: refreshCookie, Value: "", Path: path, MaxAge: -1, Expires: time.Unix(0, 0),
		HttpOnly: true, Secure: !s.opts.Cookies.Insecure, SameSite: s.sameSite(),
	})
}

func (s *Server) sameSite() http.SameSite {
	if s.opts.Cookies.SameSite == http.SameSiteStrictMode {
		return http.SameSiteStrictMode
	}
	return http.SameSiteLaxMode
}

// cookieRefresh returns the refresh token of the cookie. A refresh field
// in the body is not read: in cookie mode the refresh token travels only
// in the cookie (SPEC §5.5), as seed 003's views read it.
func cookieRefresh(r *http.Request) string {
	if c, err := r.Cookie(refreshCookie); err == nil {
		return c.Value
	}
	return ""
}

var errNoRefreshCookie = &apiError{status: http.StatusUnauthorized,
	body: detailBody{Detail: "Refresh token cookie not found.", Code: "token_not_valid"}}

// writePair answers a successful login or refresh: the pair in the body,
// or in cookie mode the access token in the body and the refresh token as
// a cookie.
func (s *Server) writePair(ctx context.Context, w http.ResponseWriter, pair *auth.Pair, cookiePath string, order pairOrder) {
	noStore(w)
	if cookiePath == "" || pair.Refresh == "" {
		writePairBody(w, pair.Access, pair.Refresh, order)
		return
	}
	s.setRefreshCookie(w, cookiePath, pair.Refresh, s.opts.Auth.RefreshExpiry(ctx, pair.Refresh))
	writePairBody(w, pair.Access, "", order)
}

// pairOrder is the order of a pair's members, as SimpleJWT writes them:
// its login puts the refresh token first (TokenObtainPairSerializer), its
// refresh the access token (TokenRefreshSerializer).
type pairOrder bool

const (
	accessFirst  pairOrder = false
	refreshFirst pairOrder = true
)

// writePairBody writes {"access": access, "refresh": refresh} (no refresh
// when empty; refresh first with refreshFirst) as writeJSON would, without
// reflection: every login and refresh answers with it.
func writePairBody(w http.ResponseWriter, access, refresh string, order pairOrder) {
	buf := buffers.Get().(*bytes.Buffer)
	defer putBuffer(buf)
	buf.Grow(32 + len(access) + len(refresh))
	b := buf.AvailableBuffer()
	if order == refreshFirst && refresh != "" {
		b = append(b, `{"refresh":`...)
		b = appendJSONString(b, refresh)
		b = append(b, `,"access":`...)
		b = appendJSONString(b, access)
	} else {
		b = append(b, `{"access":`...)
		b = appendJSONString(b, access)
		if refresh != "" {
			b = append(b, `,"refresh":`...)
			b = appendJSONString(b, refresh)
		}
	}
	b = append(b, '}')
	w.Header()["Content-Type"] = contentTypeJSON
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

func (s *Server) cookieLogin(path string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		pair, err := s.login(r)
		if err != nil {
			return err
		}
		s.writePair(r.Context(), w, pair, path, refreshFirst)
		return nil
	}
}

// refreshCookieOf returns the refresh token of r's cookie, or the error
// that answers its absence. The body holds nothing latch reads, but a
// malformed one is still the same 4xx as on every endpoint.
func (s *Server) refreshCookieOf(r *http.Request) (string, error) {
	if _, err := s.readForm(r); err != nil {
		return "", err
	}
	raw := cookieRefresh(r)
	if raw == "" {
		return "", errNoRefreshCookie
	}
	return raw, nil
}

func (s *Server) cookieRefreshHandler(path string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		raw, err := s.refreshCookieOf(r)
		if err != nil {
			return err
		}
		pair, err := s.opts.Auth.Refresh(r.Context(), raw)
		s.metrics.refreshes.WithLabelValues(result(err)).Inc()
		if err != nil {
			if isTokenError(err) {
				s.clearRefreshCookie(w, path)
			}
			return err
		}
		s.writePair(r.Context(), w, pair, path, accessFirst)
		return nil
	}
}

// cookieBlacklist is /api/token/blacklist/ in cookie mode: it revokes the
// session of the refresh cookie and clears the cookie, which is no good
// from then on whatever the answer.
func (s *Server) cookieBlacklist(path string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		raw, err := s.refreshCookieOf(r)
		if err != nil {
			return err
		}
		err = s.opts.Auth.Blacklist(r.Context(), raw)
		if err == nil || isTokenError(err) {
			s.clearRefreshCookie(w, path)
		}
		if err != nil {
			return err
		}
		s.metrics.revocations.WithLabelValues("blacklist").Inc()
		writeJSON(w, http.StatusOK, struct{}{})
		return nil
	}
}

// cookieLogout revokes the session of the cookie (or, without one, of the
// access token presented) and clears the cookie. An invalid cookie still
// gets 205: the client is logged out either way. Neither cookie nor access
// token is /api/logout/'s 400: there is nothing to revoke.
func (s *Server) cookieLogout(path string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := s.readForm(r); err != nil {
			return err
		}
		switch raw := cookieRefresh(r); {
		case raw != "":
			if err := s.opts.Auth.Blacklist(r.Context(), raw); err == nil {
				s.metrics.revocations.WithLabelValues("logout").Inc()
			} else if !isTokenError(err) && !errors.Is(err, auth.ErrNoUserID) {
				return err
			}
		case len(r.Header["Authorization"]) > 0:
			p, err := s.authenticate(r)
			if err != nil {
				return s.authError(err)
			}
			if err := s.opts.Auth.EndSession(r.Context(), p); err != nil {
				return err
			}
			s.metrics.revocations.WithLabelValues("logout").Inc()
		default:
			return errBadRequest("refresh required")
		}
		s.clearRefreshCookie(w, path)
		w.WriteHeader(http.StatusResetContent)
		return nil
	}
}
