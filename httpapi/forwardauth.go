package httpapi

import (
	"net/http"
	"strconv"
)

// Identity headers of forward auth (SPEC §9): what a reverse proxy copies
// to the upstream after a 200 from /api/auth/check/.
const (
	HeaderUserID    = "X-Latch-User-Id"
	HeaderUsername  = "X-Latch-Username"
	HeaderRole      = "X-Latch-Role"
	HeaderSessionID = "X-Latch-Session-Id"
	HeaderEmail     = "X-Latch-Email"
)

// forwardAuth answers a reverse proxy's subrequest (nginx auth_request,
// Traefik ForwardAuth, Caddy forward_auth, Envoy ext_authz): 200 with the
// caller's identity in headers and no body, or the 401 of /api/me/. Any
// method; the body is never read; no throttle applies (a proxy sends every
// request of every user from one address). In steady state it does no I/O:
// the revocation index and the user cache answer.
func (s *Server) forwardAuth(w http.ResponseWriter, r *http.Request) error {
	private(w)
	p, err := s.authenticate(r)
	if err != nil {
		return s.authError(err)
	}
	u, err := s.opts.Auth.User(r.Context(), p)
	if err != nil {
		return s.authError(err)
	}
	h := w.Header()
	h[HeaderUserID] = []string{strconv.FormatInt(u.ID, 10)}
	h[HeaderUsername] = []string{u.Username}
	h[HeaderRole] = []string{u.Role}
	h[HeaderSessionID] = []string{p.SessionID}
	if u.Email != "" {
		h[HeaderEmail] = []string{u.Email}
	}
	h["Content-Length"] = []string{"0"}
	w.WriteHeader(http.StatusOK)
	return nil
}
