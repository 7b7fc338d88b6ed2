package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/latch-auth/latch/auth"
)

// clientAuth checks introspection callers' HTTP Basic credentials. Only
// SHA-256 hashes of the secrets are kept; comparing hashes, always of 32
// bytes, in constant time leaks neither a secret's content nor its length,
// and an unknown client id costs the same comparison as a known one.
type clientAuth struct {
	secrets map[string][sha256.Size]byte
}

func newClientAuth(clients map[string]string) *clientAuth {
	c := &clientAuth{secrets: make(map[string][sha256.Size]byte, len(clients))}
	for id, secret := range clients {
		c.secrets[id] = sha256.Sum256([]byte(secret))
	}
	return c
}

// unknownClient is compared against when the id is unknown, so that the
// answer takes as long as for a known id.
var unknownClient = sha256.Sum256([]byte("latch: no such introspection client"))

// check reports whether id and secret are a configured client's.
func (c *clientAuth) check(id, secret string) bool {
	want, known := c.secrets[id]
	if !known {
		want = unknownClient
	}
	got := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1 && known
}

// parseBasic reads an Authorization header of the Basic scheme (RFC 7617):
// the scheme case-insensitively, base64 of "id:secret", the id up to the
// first colon.
func parseBasic(header string) (id, secret string, ok bool) {
	scheme, rest := nextField(header)
	if !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	enc, rest := nextField(rest)
	if extra, _ := nextField(rest); enc == "" || extra != "" {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return "", "", false
	}
	id, secret, ok = strings.Cut(string(b), ":")
	if !ok || id == "" {
		return "", "", false
	}
	return id, secret, true
}

// errBadClient challenges as every latch 401 does (writeError), then with
// the scheme the endpoint takes.
var errBadClient = &apiError{status: http.StatusUnauthorized, body: detail("Invalid client credentials."),
	header: http.Header{"Www-Authenticate": {`Basic realm="introspection"`}}}

// introspectionClient authenticates the caller of the introspection
// endpoint. Failed attempts (only those) count against the anonymous
// per-IP throttle, so that secrets cannot be guessed at speed while a
// resource server introspecting every request is never throttled.
func (s *Server) introspectionClient(r *http.Request) error {
	hs := r.Header["Authorization"]
	if len(hs) == 1 {
		if id, secret, ok := parseBasic(hs[0]); ok && s.clients.check(id, secret) {
			return nil
		}
	}
	if s.opts.AnonLimiter != nil {
		if err := s.throttle(r, s.opts.AnonLimiter, "introspection", throttleKey(s.clientIP(r))); err != nil {
			return err
		}
	}
	return errBadClient
}

// introspect is RFC 7662's token introspection endpoint.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) error {
	noStore(w)
	if err := s.introspectionClient(r); err != nil {
		return err
	}
	f, err := s.readForm(r)
	if err != nil {
		return err
	}
	raw := f.str("token", false)
	f.str("token_type_hint", true) // a hint only: every type is tried
	if err := f.err(); err != nil {
		return err
	}
	in, err := s.opts.Auth.Introspect(r.Context(), raw)
	if err != nil {
		if ae := introspectionError(err); ae != nil {
			return ae
		}
		writeJSON(w, http.StatusOK, inactiveBody{})
		return nil
	}
	writeJSON(w, http.StatusOK, s.activeBody(in))
	return nil
}

type inactiveBody struct {
	Active bool `json:"active"`
}

// activeBody is RFC 7662's answer for a valid token, in SPEC §9's order.
type activeBody struct {
	Active    bool   `json:"active"`
	TokenType string `json:"token_type"`
	Sub       string `json:"sub"`
	UserID    any    `json:"user_id"` // as latch writes it in tokens
	Username  string `json:"username"`
	Exp       int64  `json:"exp"`
	Iat       int64  `json:"iat"`
	JTI       string `json:"jti"`
	SID       string `json:"sid"`
}

func (s *Server) activeBody(in *auth.Introspection) activeBody {
	c := in.Claims
	sub := strconv.FormatInt(in.User.ID, 10)
	var uid any = in.User.ID
	if s.opts.Tokens.UserIDAsString() {
		uid = sub
	}
	return activeBody{
		Active: true, TokenType: string(c.Type), Sub: sub, UserID: uid, Username: in.User.Username,
		Exp: unix(c.ExpiresAt), Iat: unix(c.IssuedAt), JTI: c.ID, SID: c.SessionID,
	}
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
