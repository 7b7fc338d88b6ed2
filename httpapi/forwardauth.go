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
	setIdentity(w.Header(), u.ID, u.Username, u.Role, p.SessionID, u.Email)
	w.WriteHeader(http.StatusOK)
	return nil
}

// setIdentity sets the identity headers of forward auth and the gateway.
// The values share one allocation: each header gets a one-element slice of
// it, capped so that an Add elsewhere copies rather than overwrites.
func setIdentity(h http.Header, userID int64, username, role, session, email string) {
	v := make([]string, 5)
	v[0], v[1], v[2], v[3] = strconv.FormatInt(userID, 10), username, role, session
	h[HeaderUserID] = v[0:1:1]
	h[HeaderUsername] = v[1:2:2]
	h[HeaderRole] = v[2:3:3]
	h[HeaderSessionID] = v[3:4:4]
	if email != "" {
		v[4] = email
		h[HeaderEmail] = v[4:5:5]
	}
}
