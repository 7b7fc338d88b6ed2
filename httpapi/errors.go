package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/password"
	"github.com/latch-auth/latch/token"
)

// apiError is an error with the exact response the client sees; what is
// logged is the wrapped err, never shown.
type apiError struct {
	status int
	body   any
	header http.Header
	err    error
}

func (e *apiError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%d: %v", e.status, e.err)
	}
	return fmt.Sprintf("%d", e.status)
}

func (e *apiError) Unwrap() error { return e.err }

// detailBody is DRF's error body; field order is SimpleJWT's.
type detailBody struct {
	Detail   string         `json:"detail"`
	Code     string         `json:"code,omitempty"`
	Messages []tokenMessage `json:"messages,omitempty"`
}

type tokenMessage struct {
	TokenClass string `json:"token_class"`
	TokenType  string `json:"token_type"`
	Message    string `json:"message"`
}

func detail(msg string) detailBody { return detailBody{Detail: msg} }

// fieldErrorsBody is DRF's {"field": ["message"]} body, in field order.
type fieldErrorsBody []fieldError

type fieldError struct {
	name string
	msgs []string
}

func (b fieldErrorsBody) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range b {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := marshal(f.name)
		v, _ := marshal(f.msgs)
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func errBadRequest(msg string) error {
	return &apiError{status: http.StatusBadRequest, body: detail(msg)}
}

func errBodyTooLarge(limit int64) error {
	return &apiError{status: http.StatusRequestEntityTooLarge,
		body: detail(fmt.Sprintf("Request body exceeds the limit of %d bytes.", limit))}
}

var errNotFound = &apiError{status: http.StatusNotFound, body: detail("Not found.")}

func errMethodNotAllowed(method string) error {
	return &apiError{status: http.StatusMethodNotAllowed, body: detail(fmt.Sprintf("Method %q not allowed.", method))}
}

// tokenMessage text of a token error, in the configured SimpleJWT wording.
func (s *Server) tokenText(err error) string {
	switch {
	case errors.Is(err, token.ErrWrongType):
		return "Token has wrong type"
	case errors.Is(err, token.ErrNoType):
		return "Token has no type"
	case errors.Is(err, token.ErrNoID):
		return "Token has no id"
	case errors.Is(err, token.ErrNoExp):
		return "Token has no 'exp' claim"
	case errors.Is(err, token.ErrNoRefreshExp):
		return "Token has no 'refresh_exp' claim"
	case errors.Is(err, token.ErrRefreshExpired):
		return "Token 'refresh_exp' claim has expired"
	case errors.Is(err, latch.ErrSessionRevoked), errors.Is(err, latch.ErrTokenReused), errors.Is(err, latch.ErrTokenSpent):
		return "Token is blacklisted"
	}
	if s.opts.SimpleJWT55 {
		if errors.Is(err, token.ErrExpired) {
			return "Token is expired"
		}
		return "Token is invalid"
	}
	return "Token is invalid or expired"
}

// isTokenError reports whether err is about the token presented.
func isTokenError(err error) bool {
	for _, target := range []error{token.ErrInvalid, token.ErrWrongType, token.ErrNoType, token.ErrNoID, token.ErrNoExp,
		token.ErrNoRefreshExp, token.ErrRefreshExpired, latch.ErrSessionRevoked, latch.ErrTokenReused, latch.ErrTokenSpent} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// statusClientClosedRequest is nginx's status for a request whose client
// disconnected before the response; it shows in logs and metrics only.
const statusClientClosedRequest = 499

// toAPIError is the one place where domain errors become HTTP responses
// for the token endpoints and the flows behind authenticated endpoints.
func (s *Server) toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, latch.ErrUnavailable) {
		// First: a store that could not answer says nothing about the
		// request, whatever else the error wraps (SPEC §11).
		return errUnavailable(err)
	}
	var verr *auth.ValidationError
	var throttled *auth.ThrottledError
	switch {
	case errors.As(err, &throttled):
		s.metrics.throttled.WithLabelValues("login_failures").Inc()
		return throttledError(throttled.After)
	case errors.As(err, &verr):
		body := make(fieldErrorsBody, len(verr.Fields))
		for i, f := range verr.Fields {
			body[i] = fieldError{f.Field, f.Messages}
		}
		return &apiError{status: http.StatusBadRequest, body: body, err: err}
	case errors.Is(err, latch.ErrEmailNotVerified):
		// dj-rest-auth's LoginSerializer under mandatory verification.
		return &apiError{status: http.StatusBadRequest, body: fieldErrorsBody{{"non_field_errors", []string{"E-mail is not verified."}}}, err: err}
	case errors.Is(err, latch.ErrInvalidCredentials):
		return &apiError{status: http.StatusUnauthorized, body: detail("No active account found with the given credentials"), err: err}
	case errors.Is(err, latch.ErrPermissionDenied):
		return &apiError{status: http.StatusForbidden, body: detail("You do not have permission to perform this action."), err: err}
	case errors.Is(err, auth.ErrNoUserID):
		return &apiError{status: http.StatusUnauthorized, body: detailBody{Detail: auth.ErrNoUserID.Error(), Code: "token_not_valid"}, err: err}
	case isTokenError(err):
		return &apiError{status: http.StatusUnauthorized, body: detailBody{Detail: s.tokenText(err), Code: "token_not_valid"}, err: err}
	case errors.Is(err, latch.ErrUserInactive):
		return &apiError{status: http.StatusUnauthorized, body: detailBody{Detail: "User is inactive", Code: "user_inactive"}, err: err}
	case errors.Is(err, latch.ErrNotFound), errors.Is(err, auth.ErrSlidingDisabled):
		return &apiError{status: http.StatusNotFound, body: detail("Not found."), err: err}
	case errors.Is(err, password.ErrBusy):
		return &apiError{status: http.StatusServiceUnavailable, body: detail("Too many logins in progress; try again shortly."),
			header: http.Header{"Retry-After": {"1"}}, err: err}
	case errors.Is(err, context.Canceled):
		// The client went away (its request's context ended) before the
		// answer: nobody reads this response, and it is not a server error.
		return &apiError{status: statusClientClosedRequest, body: detail("Client closed the request."), err: err}
	}
	return &apiError{status: http.StatusInternalServerError, body: detail("A server error occurred."), err: err}
}

// pageError is what the account pages show for err: the status and the
// messages of the JSON answer, without field names (a field error on uid
// or token means the link, which the page says in words).
func (s *Server) pageError(err error) (int, []string) {
	ae := s.toAPIError(err)
	switch body := ae.body.(type) {
	case fieldErrorsBody:
		var msgs []string
		for _, f := range body {
			if f.name == "uid" || f.name == "token" {
				msgs = append(msgs, "This link is invalid or has expired: ask for a new one.")
				continue
			}
			msgs = append(msgs, f.msgs...)
		}
		return ae.status, msgs
	case detailBody:
		if ae.status == http.StatusNotFound {
			return ae.status, []string{"This link is invalid or has expired: ask for a new one."}
		}
		return ae.status, []string{body.Detail}
	}
	return ae.status, []string{"Something went wrong; try again later."}
}

// errUnavailable is the answer to a store (database, Redis) or the
// revocation state that could not be reached: the client may retry.
func errUnavailable(err error) *apiError {
	return &apiError{status: http.StatusServiceUnavailable, body: detail("Service temporarily unavailable, try again later."),
		header: http.Header{"Retry-After": {"1"}}, err: err}
}

// authError is the response to a failed authentication on a protected
// endpoint, as SimpleJWT's JWTAuthentication gives it.
func (s *Server) authError(err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, latch.ErrUnavailable):
		return errUnavailable(err)
	case errors.Is(err, auth.ErrNoUserID):
		return &apiError{status: http.StatusUnauthorized, body: detailBody{Detail: auth.ErrNoUserID.Error(), Code: "token_not_valid"}, err: err}
	case errors.Is(err, latch.ErrNotFound):
		return &apiError{status: http.StatusUnauthorized, body: detailBody{Detail: "User not found", Code: "user_not_found"}, err: err}
	case errors.Is(err, latch.ErrUserInactive):
		return &apiError{status: http.StatusUnauthorized, body: detailBody{Detail: "User is inactive", Code: "user_inactive"}, err: err}
	case isTokenError(err):
		return &apiError{status: http.StatusUnauthorized, err: err, body: detailBody{
			Detail:   "Given token not valid for any token type",
			Code:     "token_not_valid",
			Messages: []tokenMessage{{TokenClass: "AccessToken", TokenType: "access", Message: s.tokenText(err)}},
		}}
	}
	return s.toAPIError(err)
}

// introspectionError maps the error of an introspected token: nil when
// it only means the token is not active (RFC 7662's {"active":false} for
// expired, revoked, spent, garbage or foreign tokens and gone or inactive
// users); a response when latch could not tell (503) or nobody listens.
func introspectionError(err error) *apiError {
	switch {
	case errors.Is(err, latch.ErrUnavailable):
		return errUnavailable(err)
	case errors.Is(err, context.Canceled):
		return &apiError{status: statusClientClosedRequest, body: detail("Client closed the request."), err: err}
	}
	return nil
}

// marshal encodes v as DRF does: compact, non-ASCII kept, no HTML escaping.
func marshal(v any) ([]byte, error) {
	buf := buffers.Get().(*bytes.Buffer)
	defer putBuffer(buf)
	if err := encode(buf, v); err != nil {
		return nil, err
	}
	return bytes.Clone(buf.Bytes()), nil
}

// buffers pools response buffers: every response is encoded into one.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= 64<<10 {
		b.Reset()
		buffers.Put(b)
	}
}

func encode(buf *bytes.Buffer, v any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
	return nil
}

var contentTypeJSON = []string{"application/json"}

// writeJSON writes a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := buffers.Get().(*bytes.Buffer)
	defer putBuffer(buf)
	if err := encode(buf, v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"detail":"A server error occurred."}`)
	}
	w.Header()["Content-Type"] = contentTypeJSON // net/http adds Content-Length
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// challenge is the WWW-Authenticate of a 401 when headerTypes are the
// accepted Authorization schemes.
func challenge(headerTypes []string) []string {
	return []string{headerTypes[0] + ` realm="api"`}
}

// writeError renders err and logs what the client does not see.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, ae *apiError) {
	for k, v := range ae.header {
		w.Header()[k] = v
	}
	if ae.status == http.StatusUnauthorized {
		// SimpleJWT's challenge names the first header type; an
		// endpoint's own schemes follow it (RFC 7235: a client picks one
		// it knows).
		w.Header()["Www-Authenticate"] = slices.Concat(s.challenge, ae.header["Www-Authenticate"])
	}
	level := slog.LevelDebug
	switch {
	case errors.Is(ae.err, latch.ErrUnavailable):
		// An outage: logged, once a second per store (see New's
		// logger), not once per request.
		level = slog.LevelError
	case ae.status >= 500 && ae.status != http.StatusServiceUnavailable:
		level = slog.LevelError // other 503s are load shedding, not a bug
	}
	s.opts.Logger.Log(r.Context(), level, "request failed", "method", r.Method, "path", logPath(r), "status", ae.status, "err", ae.err)
	writeJSON(w, ae.status, ae.body)
}

// secretPaths are the prefixes of the account pages, whose URLs hold a
// reset token or a verification key.
var secretPaths = []string{"/reset/", "/verify-email/"}

// logPath is what the log says of r's path: the route's pattern
// (/reset/{uid}/{token}/) when a route of latch's matched, never the
// secret the path holds; the path itself otherwise (a 404, a proxied
// request), unless it is under an account page's prefix.
func logPath(r *http.Request) string {
	if p := r.Pattern; p != "" && p != "/" {
		return strings.TrimSuffix(p, "{$}")
	}
	for _, prefix := range secretPaths {
		if strings.HasPrefix(r.URL.Path, prefix) {
			return prefix + "…"
		}
	}
	return r.URL.Path
}

// upstreamError is the answer to a request that gateway mode could not
// proxy: 502, or 504 when the upstream was too slow to answer. The body
// never names the upstream; the log does.
func upstreamError(r *http.Request, err error) *apiError {
	var ne net.Error
	switch {
	case r.Context().Err() != nil:
		return &apiError{status: statusClientClosedRequest, body: detail("Client closed the request."), err: err}
	case errors.As(err, &ne) && ne.Timeout():
		return &apiError{status: http.StatusGatewayTimeout, body: detail("Gateway timeout."), err: err}
	}
	return &apiError{status: http.StatusBadGateway, body: detail("Bad gateway."), err: err}
}
