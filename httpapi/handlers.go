package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/password"
	"github.com/latch-auth/latch/token"
)

// readForm decodes the body and reads the named string fields.
func (s *Server) readForm(r *http.Request) (*form, error) {
	in, err := decodeBody(r, s.opts.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	return &form{in: in}, nil
}

// readField decodes the body and reads one required string field, as the
// serializers of SimpleJWT's refresh, verify and blacklist views.
func (s *Server) readField(r *http.Request, name string) (string, error) {
	f, err := s.readForm(r)
	if err != nil {
		return "", err
	}
	v := f.str(name, false)
	return v, f.err()
}

// noStore marks a response that carries tokens or personal data.
func noStore(w http.ResponseWriter) {
	h := w.Header()
	h["Cache-Control"] = headerNoStore // shared slices: never modified
	h["Pragma"] = headerNoCache
}

// private marks a response that carries the caller's data: Cache-Control
// alone (HTTP/1.0's Pragma is for the token responses, as SimpleJWT's
// frontends have them); one header less on every authenticated request.
func private(w http.ResponseWriter) { w.Header()["Cache-Control"] = headerNoStore }

var (
	headerNoStore = []string{"no-store"}
	headerNoCache = []string{"no-cache"}
)

// credentials reads the identifier and password of a login: the
// username field, or the email field under LATCH_LOGIN_FIELD=email.
func (s *Server) credentials(r *http.Request) (login, pw string, err error) {
	f, err := s.readForm(r)
	if err != nil {
		return "", "", err
	}
	if s.opts.Auth.LoginField() == auth.LoginEmail {
		login = f.strMax("email", false, maxEmail)
	} else {
		login = f.strMax("username", false, maxUsername)
	}
	pw = f.str("password", false)
	return login, pw, f.err()
}

// login reads credentials and logs in.
func (s *Server) login(r *http.Request) (*auth.Pair, error) {
	username, pw, err := s.credentials(r)
	if err != nil {
		return nil, err
	}
	pair, err := s.opts.Auth.Login(r.Context(), username, pw, s.client(r))
	s.metrics.logins.WithLabelValues(result(err)).Inc()
	return pair, err
}

func (s *Server) tokenObtain(w http.ResponseWriter, r *http.Request) error {
	pair, err := s.login(r)
	if err != nil {
		return err
	}
	s.writePair(r.Context(), w, pair, "", refreshFirst)
	return nil
}

// result labels a flow's outcome for metrics.
func result(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, latch.ErrTokenReused):
		return "reuse_detected"
	case errors.Is(err, latch.ErrSessionRevoked):
		return "revoked"
	case errors.Is(err, latch.ErrInvalidCredentials):
		return "invalid_credentials"
	case errors.As(err, new(*auth.ThrottledError)):
		return "throttled" // the account's failed-login limit
	case errors.Is(err, password.ErrBusy):
		return "busy" // the hashing pool was full
	case errors.Is(err, latch.ErrUnavailable):
		return "unavailable"
	case isTokenError(err):
		return "invalid"
	}
	return "error"
}

func (s *Server) tokenRefresh(w http.ResponseWriter, r *http.Request) error {
	raw, err := s.readField(r, "refresh")
	if err != nil {
		return err
	}
	pair, err := s.opts.Auth.Refresh(r.Context(), raw)
	s.metrics.refreshes.WithLabelValues(result(err)).Inc()
	if err != nil {
		return err
	}
	s.writePair(r.Context(), w, pair, "", accessFirst)
	return nil
}

func (s *Server) tokenVerify(w http.ResponseWriter, r *http.Request) error {
	raw, err := s.readField(r, "token")
	if err != nil {
		return err
	}
	if err := s.opts.Auth.Verify(r.Context(), raw); err != nil {
		if errors.Is(err, latch.ErrSessionRevoked) {
			// SimpleJWT's verify reports a blacklisted token as a 400.
			return &apiError{status: http.StatusBadRequest, body: fieldErrorsBody{{"non_field_errors", []string{"Token is blacklisted"}}}, err: err}
		}
		return err
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}

func (s *Server) tokenBlacklist(w http.ResponseWriter, r *http.Request) error {
	raw, err := s.readField(r, "refresh")
	if err != nil {
		return err
	}
	if err := s.opts.Auth.Blacklist(r.Context(), raw); err != nil {
		return err
	}
	s.metrics.revocations.WithLabelValues("blacklist").Inc()
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	f, err := s.readForm(r)
	if err != nil {
		return err
	}
	raw := f.str("refresh", true)
	if raw == "" && (s.opts.Cookies.Mode || p.Type == token.Sliding) {
		// The refresh cookie does not travel here, or a sliding token is its
		// own refresh token: end the caller's session.
		if err := s.opts.Auth.EndSession(r.Context(), p); err != nil {
			return err
		}
		s.clearRefreshCookie(w, cookiePathTokenEndpoints)
		s.metrics.revocations.WithLabelValues("logout").Inc()
		w.WriteHeader(http.StatusResetContent)
		return nil
	}
	if raw == "" {
		return errBadRequest("refresh required")
	}
	if err := s.opts.Auth.Logout(r.Context(), p, raw); err != nil {
		if errors.Is(err, auth.ErrInvalidRefresh) {
			return &apiError{status: http.StatusBadRequest, body: detail("invalid token"), err: err}
		}
		return err
	}
	s.metrics.revocations.WithLabelValues("logout").Inc()
	w.WriteHeader(http.StatusResetContent)
	return nil
}

func (s *Server) logoutAll(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := s.opts.Auth.LogoutAll(r.Context(), p); err != nil {
		return err
	}
	s.metrics.revocations.WithLabelValues("logout_all").Inc()
	w.WriteHeader(http.StatusResetContent)
	return nil
}

func (s *Server) signup(w http.ResponseWriter, r *http.Request) error {
	f, err := s.readForm(r)
	if err != nil {
		return err
	}
	username, pw, email := f.strMax("username", false, maxUsername), f.str("password", false), f.strMax("email", true, maxEmail)
	if err := f.err(); err != nil {
		return err
	}
	u, err := s.opts.Auth.Signup(r.Context(), username, pw, email)
	if err != nil {
		return err
	}
	if err := s.opts.Auth.SendVerification(r.Context(), u, s.publicBase(r)); err != nil {
		// The account exists: a lost mail is a resend away, not a failed signup.
		s.opts.Logger.Error("verification mail not queued", "user", u.ID, "err", err)
	}
	noStore(w)
	writeJSON(w, http.StatusCreated, struct {
		ID       int64  `json:"id"`
		Username string `json:"username"`
	}{u.ID, u.Username})
	return nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	u, err := s.opts.Auth.User(r.Context(), p)
	if err != nil {
		return s.authError(err)
	}
	writeMe(w, u)
	return nil
}

// writeMe writes {"id","username","role","email"} without reflection: /api/me/ is the request every
// client makes most, and the benchmark of SPEC §8.
func writeMe(w http.ResponseWriter, u *latch.User) {
	buf := buffers.Get().(*bytes.Buffer)
	defer putBuffer(buf)
	// Room for the whole body, so the appends below stay in the pooled
	// buffer's memory (AvailableBuffer of a fresh one has none).
	buf.Grow(64 + len(u.Username) + len(u.Role) + len(u.Email))
	b := buf.AvailableBuffer()
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, u.ID, 10)
	b = append(b, `,"username":`...)
	b = appendJSONString(b, u.Username)
	b = append(b, `,"role":`...)
	b = appendJSONString(b, u.Role)
	b = append(b, `,"email":`...)
	b = appendJSONString(b, u.Email)
	b = append(b, '}')
	w.Header()["Content-Type"] = contentTypeJSON
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// appendJSONString appends s as a JSON string, as writeJSON would encode
// it (no HTML escaping); strings needing escapes take the encoder's path.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			enc, _ := marshal(s)
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	f, err := s.readForm(r)
	if err != nil {
		return err
	}
	oldPW, newPW := f.str("old_password", false), f.str("new_password", false)
	if err := f.err(); err != nil {
		return err
	}
	if err := s.opts.Auth.ChangePassword(r.Context(), p, oldPW, newPW); err != nil {
		return err
	}
	s.metrics.revocations.WithLabelValues("password_change").Inc()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type sessionBody struct {
	ID        string    `json:"id"`
	Device    string    `json:"device"` // from user_agent: "Firefox on Windows"
	Created   time.Time `json:"created"`
	LastUsed  time.Time `json:"last_used"`
	Expires   time.Time `json:"expires"`
	UserAgent string    `json:"user_agent"`
	IP        string    `json:"ip"`
	Current   bool      `json:"current"`
}

// newSessionBody is sess as the caller p sees it in a list.
func newSessionBody(sess latch.Session, p *auth.Principal) sessionBody {
	return sessionBody{sess.ID, deviceName(sess.UserAgent), sess.CreatedAt.UTC(), sess.LastUsedAt.UTC(), sess.ExpiresAt.UTC(), sess.UserAgent, sess.IP, sess.ID == p.SessionID}
}

func (s *Server) sessions(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	list, err := s.opts.Auth.Sessions(r.Context(), p)
	if err != nil {
		return err
	}
	out := make([]sessionBody, len(list))
	for i, sess := range list {
		out[i] = newSessionBody(sess, p)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := s.opts.Auth.RevokeOwnSession(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	s.metrics.revocations.WithLabelValues("session").Inc()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// JWKSMaxAge is how long /.well-known/jwks.json may be cached.
const JWKSMaxAge = 5 * time.Minute

var jwksCacheControl = fmt.Sprintf("public, max-age=%d", int(JWKSMaxAge.Seconds()))

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", jwksCacheControl)
	w.Write(s.opts.Tokens.JWKS())
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if err := s.opts.Ready(r.Context()); err != nil {
		return &apiError{status: http.StatusServiceUnavailable, body: map[string]string{"status": "unavailable"},
			header: http.Header{"Retry-After": {"1"}}, err: err}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
