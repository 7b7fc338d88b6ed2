package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/latch-auth/latch/auth"
)

type principalKey struct{}

// PrincipalFrom returns the caller that Verify or Require authenticated.
func PrincipalFrom(ctx context.Context) (*auth.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*auth.Principal)
	return p, ok
}

var errNotProvided = &apiError{status: http.StatusUnauthorized, body: detail("Authentication credentials were not provided.")}

var errBadHeader = &apiError{status: http.StatusUnauthorized, body: detailBody{
	Detail: "Authorization header must contain two space-delimited values", Code: "bad_authorization_header"}}

// authenticate reads the Authorization header as SimpleJWT's
// JWTAuthentication does: no header, or a scheme that is not one of the
// header types, means no credentials.
func (s *Server) authenticate(r *http.Request) (*auth.Principal, error) {
	hs := r.Header["Authorization"]
	if len(hs) == 0 {
		return nil, errNotProvided
	}
	if len(hs) > 1 {
		// Which one a proxy or an app behind latch reads is anyone's guess.
		return nil, errBadHeader
	}
	// As Python's str.split(): runs of white space separate, none is kept.
	f1, rest := nextField(hs[0])
	if f1 == "" || !s.headerType(f1) {
		return nil, errNotProvided
	}
	raw, rest := nextField(rest)
	if raw == "" {
		return nil, errBadHeader
	}
	if extra, _ := nextField(rest); extra != "" {
		return nil, errBadHeader
	}
	return s.opts.Auth.Authenticate(r.Context(), raw)
}

// nextField returns the first white-space separated field of s and what
// follows it, without allocating.
func nextField(s string) (field, rest string) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	j := i
	// Eight bytes at a time while none of them is a control character or
	// a space (a token never holds one): the token is most of a request's
	// header bytes, and this is on every authenticated request.
	for j+8 <= len(s) && !hasByteBelow0x21(load64(s, j)) {
		j += 8
	}
	for j < len(s) && (s[j] > ' ' || !isSpace(s[j])) {
		j++
	}
	return s[i:j], s[j:]
}

// load64 reads s[j:j+8] as a little-endian word (one load once compiled).
func load64(s string, j int) uint64 {
	_ = s[j+7]
	return uint64(s[j]) | uint64(s[j+1])<<8 | uint64(s[j+2])<<16 | uint64(s[j+3])<<24 |
		uint64(s[j+4])<<32 | uint64(s[j+5])<<40 | uint64(s[j+6])<<48 | uint64(s[j+7])<<56
}

// hasByteBelow0x21 reports whether a byte of x is below 0x21 (space and
// the control characters), by the classic "has less than n" bit trick.
func hasByteBelow0x21(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	return (x-ones*0x21)&^x&highs != 0
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func (s *Server) headerType(scheme string) bool {
	for _, t := range s.opts.HeaderTypes {
		if scheme == t {
			return true
		}
	}
	return false
}

// authed wraps a handler that needs a caller. Its answers are the
// caller's data: no cache keeps them.
func (s *Server) authed(h func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		private(w)
		p, err := s.authenticate(r)
		if err != nil {
			return s.authError(err)
		}
		if s.opts.UserLimiter != nil {
			if err := s.throttle(r, s.opts.UserLimiter, "user", strconv.FormatInt(p.UserID, 10)); err != nil {
				return err
			}
		}
		return h(w, r, p)
	}
}

// Verify is middleware that authenticates a request carrying an
// Authorization header and puts the caller in its context; a request
// without one passes through anonymous. A bad token is refused with 401.
func (s *Server) Verify(next http.Handler) http.Handler {
	return s.middleware(next, false)
}

// Require is middleware that lets only authenticated requests through,
// answering 401 with SimpleJWT's bodies otherwise.
func (s *Server) Require(next http.Handler) http.Handler {
	return s.middleware(next, true)
}

func (s *Server) middleware(next http.Handler, required bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, verified := PrincipalFrom(r.Context())
		if verified || (!required && len(r.Header["Authorization"]) == 0) {
			next.ServeHTTP(w, r)
			return
		}
		p, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, s.authError(err))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}
